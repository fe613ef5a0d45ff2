package binlogarchive

import (
	"context"
	"errors"
	"fmt"

	"github.com/mysqlbackup/mysqlbackup/s3"
)

// ErrBehind says the series has not archived the asked-for bytes yet: a
// running archiver may still get there.
var ErrBehind = errors.New("not archived yet")

// Stretch is what Holds proved present.
type Stretch struct {
	Files    int
	Segments int
	Bytes    uint64 // from the snapshot to the end
}

// Holds proves from the index and the files' segment lists alone, with no
// key to open a segment, that the series holds every byte of the server's
// binlogs from the snapshot up to file:end: the snapshot's file of the
// same history, each file after it whole and named next, each list's
// segments contiguous from the file's start, and every segment object the
// stretch needs in the store at its listed size. A backup that leaves its
// binlogs to the archive checks this; PlanUntil, with the keys, proves the
// events. The error wraps ErrBehind when the archive has not got to
// file:end yet.
func Holds(ctx context.Context, st s3.Store, ix *Index, from Snapshot, file string, end uint64) (Stretch, error) {
	var out Stretch
	stop := -1
	for i, f := range ix.Files {
		if f.Name == file {
			stop = i
		}
	}
	switch {
	case stop < 0 && (len(ix.Files) == 0 || num(file) > num(ix.Files[len(ix.Files)-1].Name)):
		last := "nothing"
		if n := len(ix.Files); n > 0 {
			last = fmt.Sprintf("%s:%d", ix.Files[n-1].Name, ix.Files[n-1].End)
		}
		return out, fmt.Errorf("the binlog archive s3 %s holds up to %s, not %s:%d: %w", ix.Series().Prefix(), last, file, end, ErrBehind)
	case stop < 0:
		return out, fmt.Errorf("the binlog archive s3 %s does not hold %s", ix.Series().Prefix(), file)
	case ix.Files[stop].End < end && !ix.Files[stop].Closed:
		return out, fmt.Errorf("the binlog archive s3 %s holds %s up to %d, not %d: %w", ix.Series().Prefix(), file, ix.Files[stop].End, end, ErrBehind)
	case ix.Files[stop].End < end:
		return out, fmt.Errorf("the binlog archive s3 %s holds %s up to %d only (closed), the server's goes to %d", ix.Series().Prefix(), file, ix.Files[stop].End, end)
	}
	start, err := ix.startOf(from)
	if err != nil {
		return out, err
	}
	if start > stop {
		return out, fmt.Errorf("the binlog archive s3 %s: the snapshot's file %s comes after %s", ix.Series().Prefix(), from.File, file)
	}
	for i := start; i <= stop; i++ {
		if i > start {
			if err := ix.Follows(i); err != nil {
				return out, err
			}
		}
		lo, hi := uint64(0), ix.Files[i].End
		if i == start {
			lo = from.Pos
		}
		if i == stop {
			hi = end
		}
		n, err := segmentsPresent(ctx, st, ix.Series(), ix.Files[i].Name, lo, hi)
		if err != nil {
			return out, err
		}
		out.Files++
		out.Segments += n
		out.Bytes += hi - min(lo, hi)
	}
	return out, nil
}

// HeldBefore is the run of files the series holds whole just before
// file, oldest first, back to oldest at most: it stops at a gap, a file
// held in part, or the series' start (a prune).
func (ix *Index) HeldBefore(oldest, file string) []File {
	i := -1
	for k, f := range ix.Files {
		if f.Name == file {
			i = k
		}
	}
	if i < 0 {
		return nil
	}
	j := i
	for j > 0 && num(ix.Files[j-1].Name) >= num(oldest) && ix.Follows(j) == nil {
		j--
	}
	return ix.Files[j:i]
}

// segmentsPresent checks that file's segment list covers [0, hi) without
// a hole and that each object holding a byte of [lo, hi) is in the store
// at its listed size; a list compacted meanwhile is read again.
func segmentsPresent(ctx context.Context, st s3.Store, s Series, file string, lo, hi uint64) (int, error) {
	for attempt := 0; ; attempt++ {
		segs, err := ReadSegments(ctx, st, s, file)
		if err != nil {
			return 0, err
		}
		n, err := segmentsCover(ctx, st, s, file, segs, lo, hi)
		if errors.Is(err, s3.ErrNotExist) && attempt < 2 {
			continue // compacted between the list and the object
		}
		return n, err
	}
}

func segmentsCover(ctx context.Context, st s3.Store, s Series, file string, segs []Segment, lo, hi uint64) (int, error) {
	var at uint64
	n := 0
	for _, seg := range segs {
		if at >= hi {
			break
		}
		if seg.Start != at {
			return n, fmt.Errorf("binlog %s: segment %s holds [%d, %d), the one before ends at %d", file, seg.Key, seg.Start, seg.End, at)
		}
		if !s.ownKey(seg.Key, file, seg.Start, seg.End) {
			return n, fmt.Errorf("binlog %s: its list names %s, not one of the file's own objects", file, seg.Key)
		}
		at = seg.End
		if seg.End <= lo {
			continue
		}
		info, err := st.Head(ctx, seg.Key)
		if err != nil {
			return n, fmt.Errorf("binlog %s: segment %s: %w", file, seg.Key, err)
		}
		if info.Size != seg.Stored {
			return n, fmt.Errorf("binlog %s: segment %s has %d bytes in the store, its list says %d", file, seg.Key, info.Size, seg.Stored)
		}
		n++
	}
	if at < hi {
		return n, fmt.Errorf("binlog %s: its segments end at %d, short of %d", file, at, hi)
	}
	return n, nil
}
