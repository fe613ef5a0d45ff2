package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFileAppearsOnlyOnCommit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mysql-3309.tgz.des3")
	f, err := Create(p, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("data"))
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatal("visible before Commit")
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "data" {
		t.Errorf("content %q", b)
	}
	f.Abort() // after Commit: harmless
	if _, err := os.Stat(p); err != nil {
		t.Error("Abort after Commit removed the file")
	}
}

func TestAbortAndLeftoversLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a")
	f, _ := Create(p, 0o600)
	f.Abort()
	g, _ := Create(p, 0o600) // a "killed run": never committed nor aborted
	g.Close()
	if err := RemoveLeftovers(p); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left %v", entries)
	}
}
