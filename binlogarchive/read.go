package binlogarchive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// ReadFile writes the archived bytes of the binlog file f of the series s
// to w, segment by segment: each one in the file's own place under the
// series' prefix, its stored SHA-256 checked, opened, and contiguous with
// the one before. The result is the server's file from offset 0 up to
// f.End().
func ReadFile(ctx context.Context, st s3.Store, keys archive.V2Keys, s Series, f File, w io.Writer) error {
	segs, err := ReadSegments(ctx, st, s, f.Name)
	if err != nil {
		return err
	}
	var at uint64
	reread, resumed := false, false
	for len(segs) > 0 {
		seg := segs[0]
		// Contiguous; only the first segment of a list read again may
		// begin before where the copy is (a compacted whole).
		if seg.Start != at && !(resumed && seg.Start < at && at < seg.End) {
			return fmt.Errorf("binlog %s: segment %s holds [%d, %d), the one before ends at %d", f.Name, seg.Key, seg.Start, seg.End, at)
		}
		if !s.ownKey(seg.Key, f.Name, seg.Start, seg.End) {
			return fmt.Errorf("binlog %s: its list names %s, not one of the file's own objects", f.Name, seg.Key)
		}
		data, err := readSegment(ctx, st, keys, seg)
		if errors.Is(err, s3.ErrNotExist) && !reread {
			// Compacted meanwhile (the archiver removes a closed file's
			// segments once its list names the whole): on from the new list.
			reread = true
			if segs, err = ReadSegments(ctx, st, s, f.Name); err != nil {
				return err
			}
			segs, resumed = from(segs, at), true
			continue
		}
		if err != nil {
			return err
		}
		if uint64(len(data)) != seg.End-seg.Start {
			return fmt.Errorf("binlog segment %s holds %d bytes, its list says %d", seg.Key, len(data), seg.End-seg.Start)
		}
		if _, err := w.Write(data[at-seg.Start:]); err != nil {
			return err
		}
		at, segs, resumed = seg.End, segs[1:], false
	}
	if at < f.End {
		return fmt.Errorf("binlog %s: its segments end at %d, the index says %d", f.Name, at, f.End)
	}
	return nil
}

// from is the segments of a list from the one that holds offset at on.
func from(segs []Segment, at uint64) []Segment {
	for i, seg := range segs {
		if seg.End > at {
			return segs[i:]
		}
	}
	return nil
}

// readSegment gets one segment, checks its SHA-256 and opens it.
func readSegment(ctx context.Context, st s3.Store, keys archive.V2Keys, seg Segment) ([]byte, error) {
	rc, err := st.Get(ctx, seg.Key, 0)
	if err != nil {
		return nil, fmt.Errorf("binlog segment %s: %w", seg.Key, err)
	}
	defer rc.Close()
	sealed, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("binlog segment %s: %w", seg.Key, err)
	}
	sum := sha256.Sum256(sealed)
	if got := hex.EncodeToString(sum[:]); got != seg.SHA256 || int64(len(sealed)) != seg.Stored {
		return nil, fmt.Errorf("%w: binlog segment %s has %d bytes sha256 %s, the index says %d bytes %s", catalog.ErrChecksumMismatch, seg.Key, len(sealed), got, seg.Stored, seg.SHA256)
	}
	r, err := archive.OpenV2(bytes.NewReader(sealed), keys)
	if err != nil {
		return nil, fmt.Errorf("binlog segment %s: %w", seg.Key, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("binlog segment %s: %w", seg.Key, err)
	}
	return data, nil
}
