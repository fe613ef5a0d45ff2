package binlogarchive

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestHoldsProvesTheStretchFromTheIndexAndSaysWhenTheArchiveIsBehind(t *testing.T) {
	one, two := newBinlog(), newBinlog()
	one.tx(1, at0)
	snap := one.tx(2, at0.Add(time.Second))
	one.tx(3, at0.Add(2*time.Second))
	two.tx(4, at0.Add(3*time.Second))
	end := uint64(two.buf.Len())
	st, ix, _ := store(t, map[string][]byte{"bin.000001": one.buf.Bytes(), "bin.000002": two.buf.Bytes()})
	from := Snapshot{File: "bin.000001", Pos: snap, GTID: "0-1-1"}

	got, err := Holds(t.Context(), st, ix, from, "bin.000002", end)
	if err != nil {
		t.Fatalf("a whole stretch: %v", err)
	}
	if want := uint64(one.buf.Len()) - snap + end; got.Files != 2 || got.Segments != 2 || got.Bytes != want {
		t.Errorf("stretch %+v, want 2 files, 2 segments, %d bytes", got, want)
	}

	for name, c := range map[string]struct {
		file string
		end  uint64
	}{
		"a position past the open file's end": {"bin.000002", end + 10},
		"a file not archived yet":             {"bin.000003", 200},
	} {
		if _, err := Holds(t.Context(), st, ix, from, c.file, c.end); !errors.Is(err, ErrBehind) {
			t.Errorf("%s: %v, want ErrBehind", name, err)
		}
	}

	seg := ix.Series().SegmentKey("bin.000002", 0)
	if err := st.Delete(t.Context(), seg); err != nil {
		t.Fatal(err)
	}
	if _, err := Holds(t.Context(), st, ix, from, "bin.000002", end); err == nil || errors.Is(err, ErrBehind) || !strings.Contains(err.Error(), seg) {
		t.Errorf("a deleted segment: %v, want an error naming %s", err, seg)
	}
	if _, err := Holds(t.Context(), st, ix, from, "bin.000001", uint64(one.buf.Len())); err != nil {
		t.Errorf("a stretch that does not need the deleted segment: %v", err)
	}
	ix.Files[0].Closed = false
	if _, err := Holds(t.Context(), st, ix, Snapshot{File: "bin.000001", Pos: snap}, "bin.000001", uint64(one.buf.Len())+1); !errors.Is(err, ErrBehind) {
		t.Errorf("an open snapshot file short of the end: %v, want ErrBehind", err)
	}
}

func TestHoldsRefusesAGapAndAnotherHistory(t *testing.T) {
	one, three := newBinlog(), newBinlog()
	snap := one.tx(1, at0)
	three.tx(9, at0.Add(time.Minute))
	st, ix, _ := store(t, map[string][]byte{"bin.000001": one.buf.Bytes(), "bin.000003": three.buf.Bytes()})
	from := Snapshot{File: "bin.000001", Pos: snap}
	if _, err := Holds(t.Context(), st, ix, from, "bin.000003", uint64(three.buf.Len())); err == nil || errors.Is(err, ErrBehind) || !strings.Contains(err.Error(), "gap") {
		t.Errorf("a missing file between: %v, want the gap named", err)
	}
	ix.Files[0].Created = at0
	from.Created = at0.Add(-time.Hour)
	if _, err := Holds(t.Context(), st, ix, from, "bin.000001", uint64(one.buf.Len())); err == nil || !strings.Contains(err.Error(), "another history") {
		t.Errorf("a snapshot file of another history: %v", err)
	}
}
