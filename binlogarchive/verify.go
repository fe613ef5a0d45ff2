package binlogarchive

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/binlogsync"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// VerifyStats say what Verify read.
type VerifyStats struct {
	Files, Segments int
	Bytes           int64 // binlog bytes
	Events          int
	Gaps            int
}

// Verify reads every archived binlog as a restore would: each segment's
// stored size and SHA-256, age and zstd to the end, contiguity of the
// segments, then the file event by event: the magic, every event's size
// and position, and its CRC-32 when the server writes them.
func Verify(ctx context.Context, st s3.Store, keys archive.V2Keys, ix *Index) (VerifyStats, error) {
	vs := VerifyStats{Gaps: len(ix.Gaps)}
	for _, f := range ix.Files {
		ec := &eventChecker{file: f.Name}
		if err := ReadFile(ctx, st, keys, ix.Series(), f, ec); err != nil {
			return vs, err
		}
		if err := ec.end(); err != nil {
			return vs, err
		}
		vs.Files++
		vs.Segments += f.Segments
		vs.Bytes += int64(f.End)
		vs.Events += ec.events
	}
	return vs, nil
}

// eventChecker reads a binlog file written to it, checking each event.
type eventChecker struct {
	file     string
	local    bool // the server's own file, not the archive's
	buf      []byte
	offset   uint64 // of buf's first byte in the file
	checksum bool   // events end in a CRC-32 (the format description says)
	events   int
	// on, when set, is told each checked event and its offset.
	on func(off uint64, ev []byte, crc bool) error
}

// what names the file checked in errors.
func (c *eventChecker) what() string {
	if c.local {
		return "the server's binlog"
	}
	return "archived binlog"
}

const (
	headerLen      = 19
	checksumCRC32  = 1
	fdeAlgFromTail = 5 // the format description's checksum algorithm byte, before its CRC
)

func (c *eventChecker) Write(p []byte) (int, error) {
	c.buf = append(c.buf, p...)
	for {
		if c.offset == 0 {
			if len(c.buf) < 4 {
				return len(p), nil
			}
			if string(c.buf[:4]) != string(binlogsync.Magic) {
				return 0, fmt.Errorf("%s %s does not start as a binlog", c.what(), c.file)
			}
			c.buf, c.offset = c.buf[4:], 4
			continue
		}
		if len(c.buf) < headerLen {
			return len(p), nil
		}
		size := uint64(binary.LittleEndian.Uint32(c.buf[9:13]))
		if size < headerLen {
			return 0, fmt.Errorf("%s %s: the event at %d claims %d bytes", c.what(), c.file, c.offset, size)
		}
		if uint64(len(c.buf)) < size {
			return len(p), nil
		}
		if err := c.check(c.buf[:size]); err != nil {
			return 0, err
		}
		if c.on != nil {
			if err := c.on(c.offset, c.buf[:size], c.checksum); err != nil {
				return 0, err
			}
		}
		c.buf, c.offset = c.buf[size:], c.offset+size
		c.events++
	}
}

// check checks one whole event at c.offset.
func (c *eventChecker) check(ev []byte) error {
	size := uint64(len(ev))
	if pos := uint64(binary.LittleEndian.Uint32(ev[13:17])); pos != 0 && pos != (c.offset+size)&0xffffffff {
		return fmt.Errorf("%s %s: the event at %d says it ends at %d, not %d", c.what(), c.file, c.offset, pos, c.offset+size)
	}
	if ev[4] == formatDescr && size >= headerLen+fdeAlgFromTail {
		// It names the algorithm in the byte before its own CRC-32, or, with
		// checksums off, in its last byte.
		crcOK := crc32.ChecksumIEEE(ev[:size-4]) == binary.LittleEndian.Uint32(ev[size-4:])
		switch {
		case ev[size-fdeAlgFromTail] == checksumCRC32 && crcOK:
			c.checksum = true
		case ev[size-1] == 0:
			c.checksum = false
		default:
			return fmt.Errorf("%s %s: its format description at %d fails its CRC-32", c.what(), c.file, c.offset)
		}
	}
	if c.checksum {
		want := binary.LittleEndian.Uint32(ev[size-4:])
		if crc32.ChecksumIEEE(ev[:size-4]) != want {
			return fmt.Errorf("%s %s: the event at %d fails its CRC-32", c.what(), c.file, c.offset)
		}
	}
	return nil
}

// end checks the file ended on an event boundary.
func (c *eventChecker) end() error {
	if len(c.buf) > 0 {
		return fmt.Errorf("%s %s ends inside an event at %d", c.what(), c.file, c.offset)
	}
	return nil
}
