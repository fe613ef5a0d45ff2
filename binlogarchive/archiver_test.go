package binlogarchive

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/s3/s3test"
)

// archiverOn is an archiver over a memory store holding ix and lists.
func archiverOn(t *testing.T, ix *Index, lists map[string][]Segment) (*archiver, *s3test.Mem) {
	t.Helper()
	st := &s3test.Mem{}
	for file, segs := range lists {
		if _, err := writeSegments(t.Context(), st, ix.Series(), file, segs, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.write(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	read, err := ReadIndex(t.Context(), st, ix.Series())
	if err != nil {
		t.Fatal(err)
	}
	a := &archiver{o: Options{Store: st, Port: ix.Port, Log: slog.New(slog.DiscardHandler)}, ix: read}
	if err := a.loadLast(t.Context()); err != nil {
		t.Fatal(err)
	}
	return a, st
}

func segs(s Series, file string, ends ...uint64) []Segment {
	var out []Segment
	var at uint64
	for _, e := range ends {
		out = append(out, Segment{Key: s.SegmentKey(file, at), Start: at, End: e})
		at = e
	}
	return out
}

// A run that stopped right after a rotation leaves the head's last file
// closed: the next file's list must start empty, not with its segments.
func TestResumeAfterARotationStartsTheNextFilesListEmpty(t *testing.T) {
	s := Series{Port: "3306", ServerID: 1}
	ix := &Index{FormatVersion: IndexVersion, Port: "3306", ServerID: 1, Files: []File{{Name: "bin.000001", Closed: true}}}
	a, _ := archiverOn(t, ix, map[string][]Segment{"bin.000001": segs(s, "bin.000001", 104, 208)})
	file, pos, err := a.startAt(t.Context(), server{logs: []string{"bin.000001", "bin.000002"}, sizes: map[string]uint64{"bin.000001": 208, "bin.000002": 4}})
	if err != nil || file != "bin.000002" || pos != 0 {
		t.Fatalf("startAt: %s:%d, %v", file, pos, err)
	}
	if len(a.segs) != 0 {
		t.Errorf("the next file's list starts with %d segments of the closed one", len(a.segs))
	}
}

// The next file's list written but not yet named in the head: the run
// goes on from where that list ends.
func TestResumeAfterARotationGoesOnFromTheNextFilesUnnamedList(t *testing.T) {
	s := Series{Port: "3306", ServerID: 1}
	ix := &Index{FormatVersion: IndexVersion, Port: "3306", ServerID: 1, Files: []File{{Name: "bin.000001", Closed: true}}}
	a, _ := archiverOn(t, ix, map[string][]Segment{"bin.000001": segs(s, "bin.000001", 208), "bin.000002": segs(s, "bin.000002", 150, 300)})
	file, pos, err := a.startAt(t.Context(), server{logs: []string{"bin.000001", "bin.000002"}, sizes: map[string]uint64{"bin.000001": 208, "bin.000002": 400}})
	if err != nil || file != "bin.000002" || pos != 300 || len(a.segs) != 2 {
		t.Fatalf("startAt: %s:%d with %d segments, %v; want bin.000002:300 and its two", file, pos, len(a.segs), err)
	}
}

// A gap found right after a rotation whose next file's list was written
// but not named in the head: the file before the gap is summed up from
// its list, and an empty one leaves no entry behind.
func TestAGapAfterAnUnnamedListSumsUpTheFileFromItsList(t *testing.T) {
	s := Series{Port: "3306", ServerID: 1}
	ix := &Index{FormatVersion: IndexVersion, Port: "3306", ServerID: 1, Files: []File{{Name: "bin.000001", Closed: true, End: 208, Segments: 2}}}
	a, _ := archiverOn(t, ix, map[string][]Segment{"bin.000001": segs(s, "bin.000001", 104, 208), "bin.000002": segs(s, "bin.000002", 300)})
	_, _, err := a.startAt(t.Context(), server{logs: []string{"bin.000005"}, sizes: map[string]uint64{"bin.000005": 4}})
	if err == nil || !strings.Contains(err.Error(), "a gap after bin.000002:300") {
		t.Fatalf("startAt over a purge: %v", err)
	}
	for _, f := range a.ix.Files {
		if f.Name == "bin.000002" && (!f.Partial || f.End != 300 || f.Segments != 1) {
			t.Errorf("the file before the gap: %+v, want it summed up from its list and closed as partial", f)
		}
	}
	if last := a.ix.Files[len(a.ix.Files)-1]; last.Name != "bin.000005" {
		t.Errorf("last file %s, want the resume file", last.Name)
	}
}
