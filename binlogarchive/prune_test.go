package binlogarchive

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/s3"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// files are closed binlog files, one a minute from t0, each with the
// MariaDB domain-0 GTIDs given, and an open last one.
func archivedFiles(gtids ...string) []File {
	var out []File
	for i, g := range gtids {
		f := File{Name: "bin.00000" + string(rune('1'+i)), Closed: true, End: 100, Segments: 1,
			FirstEvent: t0.Add(time.Duration(i) * time.Minute), LastEvent: t0.Add(time.Duration(i)*time.Minute + 30*time.Second)}
		if g != "" {
			f.GTIDs = map[string]string{"0": g}
		}
		out = append(out, f)
	}
	out[len(out)-1].Closed = false
	return out
}

func TestPrunableIsTheRunOfOldestFilesWhollyInTheBackup(t *testing.T) {
	ix := &Index{Files: archivedFiles("0-1-1..0-1-10", "", "0-1-11..0-1-20", "0-1-21..0-1-30", "0-1-31..0-1-32")}
	cases := []struct {
		name  string
		need  Need
		files string
		why   string
	}{
		{"snapshot inside the third file", Need{Backup: "d", Time: t0.Add(time.Hour), GTID: "0-1-15"}, "bin.000001,bin.000002", "bin.000003 has transactions"},
		{"snapshot at the end of the fourth file", Need{Backup: "d", Time: t0.Add(time.Hour), GTID: "0-1-30"}, "bin.000001,bin.000002,bin.000003,bin.000004", "bin.000005 is the archive's last file"},
		{"events after the backup's time", Need{Backup: "d", Time: t0.Add(90 * time.Second), GTID: "0-1-30"}, "bin.000001,bin.000002", "bin.000003 has events after"},
		{"the snapshot's own file stays", Need{Backup: "d", Time: t0.Add(time.Hour), GTID: "0-1-30", File: "bin.000003"}, "bin.000001,bin.000002", "bin.000003 holds the oldest kept backup's snapshot"},
		{"another domain only", Need{Backup: "d", Time: t0.Add(time.Hour), GTID: "1-1-500"}, "", "bin.000001 has transactions"},
		{"no GTID recorded", Need{Backup: "d", Time: t0.Add(time.Hour)}, "", "records no GTID position"},
		{"a GTID that does not parse", Need{Backup: "d", Time: t0.Add(time.Hour), GTID: "0-1"}, "", "bad GTID"},
	}
	for _, c := range cases {
		res := ix.prunable(c.need)
		if strings.Join(res.Files, ",") != c.files || !strings.Contains(res.Why, c.why) {
			t.Errorf("%s: prunable %v (%s), want %q (%s)", c.name, res.Files, res.Why, c.files, c.why)
		}
	}
}

func TestMySQLGTIDSetsHoldOnlyWhatTheirIntervalsCover(t *testing.T) {
	set, err := parseGTIDs("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-100:150-200,\n 4e11fa47-71ca-11e1-9e33-c80aa9429562:1-5")
	if err != nil {
		t.Fatal(err)
	}
	u := "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	for r, want := range map[string]bool{"1..100": true, "150..160": true, "90..160": false, "201..201": false} {
		if got := set.hold(map[string]string{u: r}); got != want {
			t.Errorf("hold %s: %v, want %v", r, got, want)
		}
	}
	if set.hold(map[string]string{"5e11fa47-71ca-11e1-9e33-c80aa9429562": "1..1"}) {
		t.Error("a source the set does not name is held")
	}
}

// A prune between two writes of the archiver: the archiver's next write
// takes the prune in instead of undoing it; a write by anyone else stops it.
func TestTheArchiverTakesInAPruneButStopsOnAnotherWriter(t *testing.T) {
	s := Series{Port: "3306", ServerID: 1}
	ix := &Index{FormatVersion: IndexVersion, Port: "3306", ServerID: 1, Files: archivedFiles("0-1-1..0-1-10", "0-1-11..0-1-20", "0-1-21..0-1-30")}
	a, st := archiverOn(t, ix, nil)
	res, err := Prune(t.Context(), st, s, Need{Backup: "2026-11-30", Time: t0.Add(time.Hour), GTID: "0-1-20"}, false)
	if err != nil || strings.Join(res.Files, ",") != "bin.000001,bin.000002" || res.Kept != "bin.000003" {
		t.Fatalf("prune: %+v, %v", res, err)
	}
	a.ix.file("bin.000003").End = 200 // the archiver went on meanwhile
	if err := a.writeIndex(t.Context()); err != nil {
		t.Fatalf("the archiver's write after the prune: %v", err)
	}
	stored, err := ReadIndex(t.Context(), st, s)
	if err != nil || len(stored.Files) != 1 || stored.Files[0].End != 200 || stored.Pruned == nil || stored.Pruned.Before != "bin.000003" {
		t.Fatalf("index after the archiver's write: %+v, %v; want the prune kept and the archiver's progress", stored, err)
	}
	// Another writer of the same series (a second archiver).
	other, _ := ReadIndex(t.Context(), st, s)
	other.file("bin.000003").End = 300
	if err := other.write(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	a.ix.file("bin.000003").End = 250
	if err := a.writeIndex(t.Context()); !errors.Is(err, errOtherWriter) {
		t.Errorf("the archiver's write over another writer's: %v, want it stopped", err)
	}
	// Its own write, whose answer was lost, is not another writer.
	mine, _ := ReadIndex(t.Context(), st, s)
	a.ix = mine
	a.ix.file("bin.000003").End = 400
	if err := a.ix.write(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	a.ix.tag = mine.tag // as if the answer never came
	if err := a.writeIndex(t.Context()); err != nil {
		t.Errorf("rewriting its own landed write: %v", err)
	}
}

// The index goes first; objects of the removed files go after, and those
// of a prune cut short before are swept by the next.
func TestPruneDeletesTheRemovedFilesObjectsAndLeftovers(t *testing.T) {
	s := Series{Port: "3306", ServerID: 1}
	ix := &Index{FormatVersion: IndexVersion, Port: "3306", ServerID: 1, Files: archivedFiles("0-1-1..0-1-10", "0-1-11..0-1-20", "0-1-21..0-1-30")}
	lists := map[string][]Segment{}
	for _, f := range ix.Files {
		lists[f.Name] = segs(s, f.Name, 100)
	}
	_, st := archiverOn(t, ix, lists)
	for _, f := range ix.Files {
		if err := st.Put(t.Context(), s.SegmentKey(f.Name, 0), bytes.NewReader([]byte("x")), nil); err != nil {
			t.Fatal(err)
		}
	}
	// A leftover of an older, cut-short prune: not in the index any more.
	if err := st.Put(t.Context(), s.SegmentKey("bin.000000", 0), bytes.NewReader([]byte("x")), nil); err != nil {
		t.Fatal(err)
	}
	res, err := Prune(t.Context(), st, s, Need{Backup: "d", Time: t0.Add(time.Hour), GTID: "0-1-25"}, false)
	if err != nil || res.Objects != 5 { // two lists, two segments, the leftover
		t.Fatalf("prune: %+v, %v", res, err)
	}
	objs, _ := st.List(t.Context(), s.Prefix())
	var left []string
	for _, o := range objs {
		left = append(left, strings.TrimPrefix(o.Key, s.Prefix()))
	}
	if strings.Join(left, " ") != "bin.000003/000000000000.zst.age bin.000003/segments.json index.json" {
		t.Errorf("left after the prune: %v", left)
	}
	if _, err := st.Head(t.Context(), s.ListKey("bin.000001")); !errors.Is(err, s3.ErrNotExist) {
		t.Errorf("the removed file's list: %v", err)
	}
}

func TestWindowStartsAtTheOldestBackupAfterTheLastGap(t *testing.T) {
	files := archivedFiles("0-1-1..0-1-10", "0-1-11..0-1-20", "0-1-21..0-1-30", "0-1-31..0-1-40")
	files[1].Partial = true // a gap after bin.000002
	ix := &Index{Files: files}
	bases := []Base{
		{Date: "d1", File: "bin.000001", Finished: t0},
		{Date: "d3", File: "bin.000003", Finished: t0.Add(3 * time.Minute)},
		{Date: "d4", File: "bin.000004", Finished: t0.Add(4 * time.Minute)},
	}
	w, ok := ix.Window(bases)
	if !ok || w.Backup != "d3" || !w.To.Equal(files[3].LastEvent) || w.LastFile != "bin.000004" {
		t.Errorf("window %+v, %v; want from d3 (the first backup after the gap) to the last event", w, ok)
	}
	if _, ok := ix.Window(bases[:1]); ok {
		t.Error("a window from a backup before the gap")
	}
}
