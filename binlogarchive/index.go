// Package binlogarchive archives an instance's binary logs to S3 as they
// are written: it reads them as a replica does (go-mysql's BinlogSyncer,
// raw events) and stores each file's bytes, unchanged, as append-only
// segments sealed like v2 objects (zstd + age), flushed every interval and
// at every rotation, with an index that says what is durable.
//
// Layout, beside the backups, one series per port and server (members of
// a group share a port on different hosts; each has its own binlogs):
//
//	binlog-archive/{port}/{server_id}/index.json                      per file a summary; the gaps
//	binlog-archive/{port}/{server_id}/{binlog file}/segments.json     the file's segments
//	binlog-archive/{port}/{server_id}/{binlog file}/{start}.zst.age   the file's bytes [start, end)
//	binlog-archive/{port}/{server_id}/{binlog file}/{start}-{end}.zst.age   a closed file compacted
//
// Each flush rewrites the small head and the open file's list only; a
// file's list stays short: a file open for RotateAfter segments is
// rotated, and a closed file of at most CompactMax bytes is compacted into
// one object.
//
// Decoded and concatenated in order, a file's segments are the server's
// file, byte for byte, so mariadb-binlog reads them as it reads the
// server's own.
package binlogarchive

import (
	"context"
	"encoding/json"
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

// SegmentKey is the key of the segment of file that starts at start, as
// the first archives named them; RunSegmentKey is how a run names its
// own: never another run's object, so that a second writer of a series
// (stopped at its first list or index write) cannot overwrite a segment a
// list names.
func (s Series) SegmentKey(file string, start uint64) string {
	return fmt.Sprintf("%s%s/%012d.zst.age", s.Prefix(), file, start)
}

// RunSegmentKey is the key run gives the segment of file from start.
func (s Series) RunSegmentKey(file string, start uint64, run string) string {
	return fmt.Sprintf("%s%s/%012d.%s.zst.age", s.Prefix(), file, start, run)
}

// ownKey says whether key is one of the names of the segment of file
// from start to end: as the first archives named it, a run's, or the
// compacted file's.
func (s Series) ownKey(key, file string, start, end uint64) bool {
	if key == s.SegmentKey(file, start) || key == s.CompactKey(file, start, end) {
		return true
	}
	run, ok := strings.CutPrefix(key, fmt.Sprintf("%s%s/%012d.", s.Prefix(), file, start))
	run, ok2 := strings.CutSuffix(run, ".zst.age")
	return ok && ok2 && run != "" && !strings.ContainsAny(run, "/.")
}

// CompactKey is the key of the object that holds file's bytes [start,
// end) once compacted: never a segment's key, so that a compaction cut
// short leaves every named segment as it was.
func (s Series) CompactKey(file string, start, end uint64) string {
	return fmt.Sprintf("%s%s/%012d-%012d.zst.age", s.Prefix(), file, start, end)
}

// ListKey is the key of file's segment list.
func (s Series) ListKey(file string) string { return s.Prefix() + file + "/" + ListName }

// ListName is a file's segment list's name.
const ListName = "segments.json"

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

// Index is the head of a series: per binlog file a summary, and every
// gap the archiver found. Each file's segments are in its own list.
type Index struct {
	FormatVersion int    `json:"format_version"`
	Port          string `json:"port"`
	ServerID      uint32 `json:"server_id"` // of the archived server
	Files         []File `json:"files"`
	Gaps          []Gap  `json:"gaps,omitempty"`
	// Pruned says the files before Pruned.Before were removed, no kept
	// backup needing them.
	Pruned  *Pruned   `json:"pruned,omitempty"`
	Updated time.Time `json:"updated"`
	// tag is the stored index's entity tag as last read or written: every
	// write is a compare-and-swap over it, so that a prune and the
	// archiver (or a second archiver of the same server) notice each other.
	tag string
}

// Pruned records the last prune of the series.
type Pruned struct {
	Before string    `json:"before"` // the first file kept
	At     time.Time `json:"at"`
	// Backup is the oldest kept backup (its date) and GTID its snapshot's:
	// every removed file was wholly before it.
	Backup string `json:"backup"`
	GTID   string `json:"gtid,omitempty"`
}

// File is one archived binlog file.
type File struct {
	Name string `json:"name"`
	// End is where its archived bytes end; Segments how many objects
	// hold them (its list says which).
	End      uint64 `json:"end"`
	Segments int    `json:"segments"`
	// Closed: the archive of the file is finished: the server ended it,
	// or a gap did (then Partial: the archive holds only its start).
	Closed  bool `json:"closed,omitempty"`
	Partial bool `json:"partial,omitempty"`
	// Created is the timestamp of the file's first event: with the name,
	// it tells this file from one of another history under the same name.
	Created time.Time `json:"created,omitzero"`
	// FirstEvent, LastEvent and GTIDs sum up its segments'.
	FirstEvent time.Time         `json:"first_event,omitzero"`
	LastEvent  time.Time         `json:"last_event,omitzero"`
	GTIDs      map[string]string `json:"gtids,omitempty"`
}

// Whole says whether the archive holds the file whole.
func (f File) Whole() bool { return f.Closed && !f.Partial }

// add sums seg up into the file's summary.
func (f *File) add(seg Segment) {
	f.End = seg.End
	f.Segments++
	if f.FirstEvent.IsZero() {
		f.FirstEvent = seg.FirstEvent
	}
	if !seg.LastEvent.IsZero() {
		f.LastEvent = seg.LastEvent
	}
	for k, r := range seg.GTIDs {
		if f.GTIDs == nil {
			f.GTIDs = map[string]string{}
		}
		lo, hi, _ := strings.Cut(r, "..")
		if old, ok := f.GTIDs[k]; ok {
			lo, _, _ = strings.Cut(old, "..")
		}
		f.GTIDs[k] = lo + ".." + hi
	}
}

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

// Position is where archiving resumes: the end of the last file (false
// when the archive is empty).
func (ix *Index) Position() (file string, pos uint64, ok bool) {
	if len(ix.Files) == 0 {
		return "", 0, false
	}
	last := ix.Files[len(ix.Files)-1]
	return last.Name, last.End, true
}

// ReadSegments reads file's segment list (none when it has none yet).
func ReadSegments(ctx context.Context, st s3.Store, s Series, file string) ([]Segment, error) {
	segs, _, err := readSegments(ctx, st, s, file)
	return segs, err
}

// readSegments reads file's segment list and its tag ("" when none).
func readSegments(ctx context.Context, st s3.Store, s Series, file string) ([]Segment, string, error) {
	data, tag, err := st.ReadTagged(ctx, s.ListKey(file), catalog.MaxJSON)
	if errors.Is(err, s3.ErrNotExist) {
		return nil, "", nil
	}
	var segs []Segment
	if err == nil {
		err = json.Unmarshal(data, &segs)
	}
	if err != nil {
		return nil, "", fmt.Errorf("binlog archive %s: %w", s.ListKey(file), err)
	}
	return segs, tag, nil
}

// writeSegments stores file's segment list over the version tagged tag
// ("": none), a compare-and-swap like the index's, and returns its tag.
func writeSegments(ctx context.Context, st s3.Store, s Series, file string, segs []Segment, tag string) (string, error) {
	data, err := json.Marshal(segs)
	if err != nil {
		return "", err
	}
	tag, err = st.Swap(ctx, s.ListKey(file), data, tag)
	if errors.Is(err, s3.ErrChanged) {
		return "", fmt.Errorf("binlog segment list %s %w (a second binlog-archive of server %d, on another host?): stopping this one", s.ListKey(file), errOtherWriter, s.ServerID)
	}
	return tag, err
}

// Series is the series the index describes.
func (ix *Index) Series() Series { return Series{Port: ix.Port, ServerID: ix.ServerID} }

// ReadIndex reads the index of the series; an empty one when there is
// none yet.
func ReadIndex(ctx context.Context, st s3.Store, s Series) (*Index, error) {
	ix := &Index{FormatVersion: IndexVersion, Port: s.Port, ServerID: s.ServerID}
	data, tag, err := st.ReadTagged(ctx, s.Prefix()+IndexName, catalog.MaxJSON)
	if errors.Is(err, s3.ErrNotExist) {
		return ix, nil
	}
	if err == nil {
		err = json.Unmarshal(data, ix)
	}
	if err != nil {
		return nil, fmt.Errorf("binlog archive index %s: %w", s.Prefix()+IndexName, err)
	}
	ix.tag = tag
	if ix.FormatVersion != IndexVersion {
		return nil, fmt.Errorf("binlog archive index %s has format_version %d, this mysqlbackup reads %d", s.Prefix()+IndexName, ix.FormatVersion, IndexVersion)
	}
	if ix.Port != s.Port || ix.ServerID != s.ServerID {
		return nil, fmt.Errorf("binlog archive index %s describes port %s server %d", s.Prefix()+IndexName, ix.Port, ix.ServerID)
	}
	return ix, nil
}

// write stores the index over the version last read or written, or
// fails with s3.ErrChanged.
func (ix *Index) write(ctx context.Context, st s3.Store) error {
	ix.Updated = time.Now().UTC()
	data, err := json.Marshal(ix)
	if err != nil {
		return err
	}
	tag, err := st.Swap(ctx, ix.Series().Prefix()+IndexName, data, ix.tag)
	if err != nil {
		return err
	}
	ix.tag = tag
	return nil
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
