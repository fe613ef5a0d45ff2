package binlogsync

import (
	"strings"
	"testing"
)

func TestCoversRefusesASnapshotARestoreCouldNotReplay(t *testing.T) {
	files := func(fs ...File) Snapshot { return Snapshot{Basename: "mysql-bin", Files: fs} }
	ok := files(File{"mysql-bin.000007", 900}, File{"mysql-bin.000008", 4000}, File{"mysql-bin.000009", 256})
	if err := ok.Covers("mysql-bin.000008", 4000); err != nil {
		t.Errorf("a series holding the snapshot: %v", err)
	}
	for _, c := range []struct {
		name string
		s    Snapshot
		file string
		pos  uint64
		want string
	}{
		{"snapshot file purged", files(File{"mysql-bin.000009", 256}), "mysql-bin.000008", 4000, "do not hold the backup's snapshot file mysql-bin.000008"},
		{"snapshot file shorter than the position", ok, "mysql-bin.000008", 4001, "less than the backup's snapshot position 4001"},
		{"a gap after the snapshot file", files(File{"mysql-bin.000008", 4000}, File{"mysql-bin.000010", 256}), "mysql-bin.000008", 10, "skip from number 000008 to mysql-bin.000010"},
		{"no copied binlog at all", files(), "mysql-bin.000008", 10, "(none)"},
	} {
		err := c.s.Covers(c.file, c.pos)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
