package main

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/restore"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

// mountTmpfs mounts a tmpfs at dir until the test ends; stop runs first
// (the instance must leave the mount before it can go).
func mountTmpfs(t *testing.T, dir string, stop func()) {
	t.Helper()
	testbed.Need(t, "mount", "umount")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs on %s (tests run as root): %v %s", dir, err, out)
	}
	t.Cleanup(func() {
		stop()
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
}

func TestRestoreIntoAMountPointDataDirUsesAMarkerAndIsRedoneAfterAKill(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n")
	backupWithDelta(t, in, confPath, 300000)
	wantSum := in.Checksum("app.t")
	wipe(t, in)
	mountTmpfs(t, in.DataDir, in.Stop) // the datadir is a volume of its own

	cmd := cliCommand(t, "--conf-path", confPath, "restore")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tempPid := waitForPidFile(t, tempPidFiles(in), exited)
	cmd.Process.Kill()
	<-exited
	waitGone(t, tempPid)

	if !restore.InProgress(in.DataDir) {
		t.Fatal("a restore killed in a mount-point datadir left no marker")
	}
	cfg, err := conf.Load(conf.Options{Path: confPath})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkWhen(t.Context(), cfg, "no-data-dir", slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("--when no-data-dir on a marked datadir: %v, want it to run", err)
	}
	if r := runCLI(t, "--conf-path", confPath, "--when", "no-data-dir", "restore"); r.code != 0 {
		t.Fatalf("second restore: exit %d: %s", r.code, lastLine(r.stderr))
	}
	if restore.InProgress(in.DataDir) {
		t.Error("the marker is still there after a finished restore")
	}
	if _, err := os.Stat(filepath.Join(in.DataDir, "ibdata1")); err != nil {
		t.Fatalf("the datadir was not filled in place: %v", err)
	}
	in.Start()
	if got := in.Checksum("app.t"); got != wantSum {
		t.Errorf("CHECKSUM TABLE app.t = %s, want %s", got, wantSum)
	}
}
