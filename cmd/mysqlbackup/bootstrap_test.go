package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/restore"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

func loadConf(t *testing.T, path string) *conf.Config {
	t.Helper()
	cfg, err := conf.Load(conf.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// waitTempOn returns the pid of a temporary mysqld of in's port started on
// datadir (the restore's start proof runs on the real datadir, its replay
// on the staging one), failing if the command ends first.
func waitTempOn(t *testing.T, in *testbed.Instance, datadir string, exited chan error) int {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("the command ended (%v) before a temporary mysqld ran on %s", err, datadir)
		default:
		}
		pids, _ := filepath.Glob(tempPidFiles(in))
		for _, f := range pids {
			var pid int
			data, _ := os.ReadFile(f)
			if _, err := fmt.Sscan(string(data), &pid); err != nil {
				continue
			}
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if bytes.Contains(cmdline, []byte("--datadir="+datadir+"\x00")) {
				return pid
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no temporary mysqld on %s within three minutes", datadir)
	return 0
}

func TestRestoreKilledInItsStartProofIsRedoneAndLeavesNoTrustedBinlogMarker(t *testing.T) {
	m := testbed.StartMinIO(t)
	a, b := groupOf(t, m, testbed.Options{ID: 1, Layout: testbed.LayoutBinlogDir}, testbed.Options{ID: 2, Layout: testbed.LayoutBinlogDir}, nil)
	loseAfterBackup(t, a, a, b)

	cmd := cliCommand(t, "--conf-path", a.conf, "--when", "no-data-dir", "restore")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pid := waitTempOn(t, a.Instance, a.DataDir, exited) // published, proving its start
	cmd.Process.Kill()
	<-exited
	waitGone(t, pid)

	if !restore.InProgress(a.DataDir) {
		t.Fatal("a restore killed in its start proof left a datadir that counts as finished")
	}
	if r := runCLI(t, "--conf-path", a.conf, "catchup_binlog"); r.code != 1 || !strings.Contains(lastLine(r.stderr), "holds an unfinished restore") {
		t.Errorf("catchup_binlog on an unproven datadir: exit %d, %q; want a refusal", r.code, lastLine(r.stderr))
	}
	// The proof passed just before the kill would have removed the binlog
	// dir's marker first: that window must be redone too.
	if err := os.Remove(filepath.Join(a.BinlogDir(), restore.BinlogDirMarker)); err != nil {
		t.Fatal(err)
	}
	// A restore that fails after its checks (S3 down at boot; here a date
	// without a backup) must leave the datadir counted as absent.
	if r := runCLI(t, "--conf-path", a.conf, "--date-str", "1999_01_01", "restore"); r.code != 1 {
		t.Fatalf("restore of a date without a backup: exit %d", r.code)
	}
	if err := checkWhen(t.Context(), loadConf(t, a.conf), "no-data-dir", slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("after a failed second restore, --when no-data-dir: %v; want it to run", err)
	}
	rebuild(t, a) // the bootstrap hook runs again and redoes the restore
	if _, err := os.Stat(filepath.Join(a.BinlogDir(), restore.BinlogDirMarker)); err == nil {
		t.Error("the binlog dir keeps a restore marker after a finished restore")
	}
	startsAsItself(t, a, b)

	// Later only the datadir's disk is lost; the binlog disk survives with
	// transactions nobody else holds. A restore must refuse, not clear it.
	a.Exec("INSERT INTO app.t VALUES (5, 'only in the surviving binlogs')")
	a.Kill()
	if err := os.RemoveAll(a.DataDir); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadDir(a.BinlogDir())
	r := runCLI(t, "--conf-path", a.conf, "restore")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "is not empty") {
		t.Errorf("restore over a surviving binlog dir: exit %d, %q; want a refusal", r.code, lastLine(r.stderr))
	}
	if after, _ := os.ReadDir(a.BinlogDir()); len(after) != len(before) {
		t.Errorf("the binlog dir held %d entries, now %d", len(before), len(after))
	}
}

func TestCatchupRefusesAnOwnMyCnfThatWouldStartAnotherDatadirOrBinlogSeries(t *testing.T) {
	m := testbed.StartMinIO(t)
	a, b := groupOf(t, m, testbed.Options{ID: 1}, testbed.Options{ID: 2}, nil)
	loseAfterBackup(t, a, a, b)
	if r := runCLI(t, "--conf-path", a.conf, "--when", "no-data-dir", "restore"); r.code != 0 {
		t.Fatalf("restore: exit %d: %s", r.code, lastLine(r.stderr))
	}
	own := filepath.Join(a.ConfBase, "my.cnf")
	good := a.Cnf()
	installed, _ := os.ReadFile(a.MyCnf)
	other := a.DataDir + "-old"
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, from, to, want string }{
		{"log-bin renamed", "/mysql-bin\n", "/db-bin\n", "writes the binlog series"},
		{"datadir moved", "datadir=" + a.DataDir + "\n", "datadir=" + other + "\n", "says datadir=" + other},
	} {
		if err := os.WriteFile(own, []byte(strings.Replace(good, c.from, c.to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, "--conf-path", a.conf, "catchup_binlog")
		if r.code != 1 || !strings.Contains(lastLine(r.stderr), c.want) {
			t.Errorf("%s: exit %d, %q; want a refusal naming it", c.name, r.code, lastLine(r.stderr))
		}
		if got, _ := os.ReadFile(a.MyCnf); !bytes.Equal(got, installed) {
			t.Errorf("%s: the datadir's my.cnf changed before the refusal", c.name)
		}
		if m, _ := filepath.Glob(filepath.Join(a.DataDir, "db-bin*")); len(m) > 0 {
			t.Errorf("%s: a server wrote %v before the refusal", c.name, m)
		}
	}
	if err := os.WriteFile(own, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "--conf-path", a.conf, "catchup_binlog"); r.code != 0 {
		t.Fatalf("catchup_binlog with the own my.cnf put right: exit %d: %s", r.code, lastLine(r.stderr))
	}
	startsAsItself(t, a, b)
}

// A restore killed after the rename leaves a marked datadir that counts as
// absent. If an operator starts the server on it anyway and it takes
// writes, the next restore (the bootstrap hook at the next boot) must
// refuse to clear it: the marker proves the datadir was ours once, not
// that nothing was written since.
func TestRestoreRefusesToClearAMarkedDatadirAServerWroteToSince(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n")
	backupWithDelta(t, in, confPath, 100)
	wipe(t, in)

	cmd := cliCommand(t, "--conf-path", confPath, "restore")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pid := waitTempOn(t, in, in.DataDir, exited) // published, proving its start
	cmd.Process.Kill()
	<-exited
	waitGone(t, pid)
	if !restore.InProgress(in.DataDir) {
		t.Fatal("the killed restore left no marker")
	}

	in.Start() // the operator, by hand
	in.Exec("INSERT INTO app.t VALUES (424242, 'written after the restore')")
	in.Stop()

	r := runCLI(t, "--conf-path", confPath, "--when", "no-data-dir", "restore")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "a server has used it; refusing to clear it") {
		t.Fatalf("restore over a used marked datadir: exit %d, %q; want a refusal", r.code, lastLine(r.stderr))
	}
	in.Start()
	if got := in.Query("SELECT v FROM app.t WHERE id = 424242"); got != "written after the restore" {
		t.Errorf("the row written after the restore: %q", got)
	}
}
