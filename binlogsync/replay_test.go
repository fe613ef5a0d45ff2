package binlogsync

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadIndexAcceptsRelativeAndAbsoluteEntries(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mysql-bin.index")
	os.WriteFile(p, []byte("./mysql-bin.000001\n/data1/mysql-3309/mysql-bin.000002\n\nmysql-bin.000003\n"), 0o644)
	got, err := ReadIndex(p)
	if want := []string{"mysql-bin.000001", "mysql-bin.000002", "mysql-bin.000003"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestPlanReplayStartsAtTheSnapshotFileAndSkipsEarlierOnes(t *testing.T) {
	index := []string{"b.000001", "b.000002", "b.000003"}
	p, err := PlanReplay("/d", index, "b.000002", 4711)
	if err != nil || !reflect.DeepEqual(p.Files, []string{"b.000002", "b.000003"}) || p.Pos != 4711 {
		t.Errorf("plan %+v, %v", p, err)
	}
	if _, err := PlanReplay("/d", index, "b.000009", 4); err == nil || !strings.Contains(err.Error(), "do not hold the snapshot file b.000009") {
		t.Errorf("missing snapshot file: %v", err)
	}
}

func TestSnapshotIndexUsesDotSlashEntries(t *testing.T) {
	s := Snapshot{Basename: "db1-bin", Files: []File{{"db1-bin.000007", 10}, {"db1-bin.000008", 20}}}
	if s.IndexName() != "db1-bin.index" || string(s.Index()) != "./db1-bin.000007\n./db1-bin.000008\n" {
		t.Errorf("index %s = %q", s.IndexName(), s.Index())
	}
}

func TestSnapshotOpenFailsWhenTheFileIsShorterThanRecorded(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b.000001"), []byte("12345"), 0o644)
	s := Snapshot{Dir: dir}
	r, err := s.Open(File{"b.000001", 3})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	n, _ := r.Read(buf)
	if string(buf[:n]) != "123" {
		t.Errorf("read %q, want only the recorded 3 bytes", buf[:n])
	}
	r.Close()
	r, _ = s.Open(File{"b.000001", 9})
	defer r.Close()
	var err2 error
	for err2 == nil {
		_, err2 = r.Read(buf)
	}
	if !strings.Contains(err2.Error(), "ended 4 bytes before its recorded size") {
		t.Errorf("short file: %v", err2)
	}
}
