// Package binlogarchive archives an instance's binary logs to S3 as they
// are written: it reads them as a replica does (go-mysql's BinlogSyncer,
// raw events) and stores each file's bytes, unchanged, as append-only
// segments sealed like v2 objects (zstd + age), flushed every interval and
// at every rotation, with an index that says what is durable.
//
// Layout, beside the backups, one series per port and server (members of
// a group share a port on different hosts; each has its own binlogs):
//
//	binlog-archive/{port}/{server_id}/index.json                      what is archived
//	binlog-archive/{port}/{server_id}/{binlog file}/{start}.zst.age   the file's bytes [start, end)
//
// Decoded and concatenated in order, a file's segments are the server's
// file, byte for byte, so mariadb-binlog reads them as it reads the
// server's own.
package binlogarchive

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// IndexVersion is the index format this package writes and reads.
const IndexVersion = 1

// Series is the binlogs of one server on a port.
type Series struct {
	Port     string
	ServerID uint32
}

// PortPrefix is where the archives of port live.
func PortPrefix(port string) string { return "binlog-archive/" + port + "/" }

// Prefix is where the series lives.
func (s Series) Prefix() string { return fmt.Sprintf("%s%d/", PortPrefix(s.Port), s.ServerID) }

// IndexName is the index's object name under a series' prefix.
const IndexName = "index.json"

// SegmentKey is the key of the segment of file that starts at start.
// A segment rewritten from the same start (a run killed before its index
// named it) replaces the orphan.
func (s Series) SegmentKey(file string, start uint64) string {
	return fmt.Sprintf("%s%s/%012d.zst.age", s.Prefix(), file, start)
}

// ListSeries lists the archived series of port, by server id.
func ListSeries(ctx context.Context, st s3.Store, port string) ([]Series, error) {
	objs, err := st.List(ctx, PortPrefix(port))
	if err != nil {
		return nil, err
	}
	var out []Series
	for _, o := range objs {
		rest := strings.TrimPrefix(o.Key, PortPrefix(port))
		id, name, ok := strings.Cut(rest, "/")
		n, err := strconv.ParseUint(id, 10, 32)
		if ok && name == IndexName && err == nil {
			out = append(out, Series{Port: port, ServerID: uint32(n)})
		}
	}
	return out, nil
}

// Index is what the archive of a port holds: per binlog file, its
// segments in order, and every gap the archiver found.
type Index struct {
	FormatVersion int       `json:"format_version"`
	Port          string    `json:"port"`
	ServerID      uint32    `json:"server_id"` // of the archived server
	Files         []File    `json:"files"`
	Gaps          []Gap     `json:"gaps,omitempty"`
	Updated       time.Time `json:"updated"`
}

// File is one archived binlog file.
type File struct {
	Name     string    `json:"name"`
	Segments []Segment `json:"segments"`
	// Closed: the archive of the file is finished: the server ended it,
	// or a gap did (then Partial: the archive holds only its start).
	Closed  bool `json:"closed,omitempty"`
	Partial bool `json:"partial,omitempty"`
	// Created is the timestamp of the file's first event: with the name,
	// it tells this file from one of another history under the same name.
	Created time.Time `json:"created,omitzero"`
}

// Whole says whether the archive holds the file whole.
func (f File) Whole() bool { return f.Closed && !f.Partial }

// Segment is the file's bytes [Start, End), stored sealed at Key.
type Segment struct {
	Key    string `json:"key"`
	Start  uint64 `json:"start"`
	End    uint64 `json:"end"`
	Stored int64  `json:"stored"` // bytes in the store
	SHA256 string `json:"sha256"` // of the stored bytes
	// FirstEvent and LastEvent are the timestamps of its first and last
	// events (the server's clock, second resolution).
	FirstEvent time.Time `json:"first_event,omitzero"`
	LastEvent  time.Time `json:"last_event,omitzero"`
	// GTIDs is the range of GTIDs its transactions carry, per domain
	// (MariaDB) or source uuid (MySQL): "first-last" sequence numbers.
	GTIDs map[string]string `json:"gtids,omitempty"`
}

// Gap is a range the archive misses: the server purged binlogs before
// they were archived.
type Gap struct {
	After  string    `json:"after"`  // last archived file (and position) before the gap
	Resume string    `json:"resume"` // first file archived after it
	Found  time.Time `json:"found"`
	Why    string    `json:"why,omitempty"`
}

// End is where the archive of the file ends.
func (f File) End() uint64 {
	if len(f.Segments) == 0 {
		return 0
	}
	return f.Segments[len(f.Segments)-1].End
}

// Position is where archiving resumes: the end of the last file's last
// segment, or the start of the file after a closed one (false when the
// archive is empty).
func (ix *Index) Position() (file string, pos uint64, ok bool) {
	if len(ix.Files) == 0 {
		return "", 0, false
	}
	last := ix.Files[len(ix.Files)-1]
	return last.Name, last.End(), true
}

// Series is the series the index describes.
func (ix *Index) Series() Series { return Series{Port: ix.Port, ServerID: ix.ServerID} }

// ReadIndex reads the index of the series; an empty one when there is
// none yet.
func ReadIndex(ctx context.Context, st s3.Store, s Series) (*Index, error) {
	ix := &Index{FormatVersion: IndexVersion, Port: s.Port, ServerID: s.ServerID}
	err := catalog.ReadJSON(ctx, st, s.Prefix()+IndexName, ix)
	if errors.Is(err, s3.ErrNotExist) {
		return &Index{FormatVersion: IndexVersion, Port: s.Port, ServerID: s.ServerID}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("binlog archive index: %w", err)
	}
	if ix.FormatVersion != IndexVersion {
		return nil, fmt.Errorf("binlog archive index %s has format_version %d, this mysqlbackup reads %d", s.Prefix()+IndexName, ix.FormatVersion, IndexVersion)
	}
	if ix.Port != s.Port || ix.ServerID != s.ServerID {
		return nil, fmt.Errorf("binlog archive index %s describes port %s server %d", s.Prefix()+IndexName, ix.Port, ix.ServerID)
	}
	return ix, nil
}

// write stores the index.
func (ix *Index) write(ctx context.Context, st s3.Store) error {
	ix.Updated = time.Now().UTC()
	return catalog.PutJSON(ctx, st, ix.Series().Prefix()+IndexName, ix)
}

// file is the index entry of name, added when missing.
func (ix *Index) file(name string) *File {
	for i := range ix.Files {
		if ix.Files[i].Name == name {
			return &ix.Files[i]
		}
	}
	ix.Files = append(ix.Files, File{Name: name})
	return &ix.Files[len(ix.Files)-1]
}
