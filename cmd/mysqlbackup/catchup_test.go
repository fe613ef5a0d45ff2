package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/backup"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

// replicationConf is the replication section listing sources, with the
// harness's replication account unless user/password are given.
func replicationConf(user, password string, sources ...string) string {
	if user == "" {
		user, password = testbed.ReplUser, testbed.ReplPassword
	}
	return fmt.Sprintf("replication:\n  user: %s\n  password: %q\n  source:\n%s", user, password, strings.Join(sources, ""))
}

func sourceEntry(port, id int) string {
	return fmt.Sprintf("    - {host: 127.0.0.1, port: %d, id: %d}\n", port, id)
}

// pair starts instances 1 and 2 replicating both ways, with app.t.
func pair(t *testing.T) (*testbed.Instance, *testbed.Instance) {
	t.Helper()
	a, b := testbed.StartMariaDB(t, 1), testbed.StartMariaDB(t, 2)
	testbed.Replicate(t, a, b)
	testbed.Replicate(t, b, a)
	a.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64))")
	testbed.WaitCaughtUp(t, b, a)
	return a, b
}

func TestRestoreAndCatchupRecoverWhatOnlyThePeersHold(t *testing.T) {
	restoreAndCatchupScenario(t, nil)
}

// restoreAndCatchupScenario: instance 1 is backed up under a concurrent
// writer, with a row after the data copy; more rows land on 1 and on its
// peer 2; 1 is lost, restored and caught up, and must equal 2. format,
// when set, adds configuration for instance 1 (the archive format).
func restoreAndCatchupScenario(t *testing.T, format func(*testbed.Instance) string) {
	a, b := pair(t)
	m := testbed.StartMinIO(t)
	extra := "purge_binlog_days: 0\n" + replicationConf("", "", sourceEntry(b.Port, 2))
	if format != nil {
		extra += format(a)
	}
	confPath := instanceConf(t, a, m, extra)
	b.Exec("INSERT INTO app.t VALUES (2000, 'from 2 before the backup')")
	testbed.WaitCaughtUp(t, a, b)

	w := startWriter(t, a)
	w.waitRows(t, 100)
	app, _ := newApp(t, confPath)
	rowA := func(context.Context) error { a.Exec("INSERT INTO app.t VALUES (1, 'A: after the data')"); return nil }
	if err := runBackup(t.Context(), app, backup.Options{AfterData: rowA}); err != nil {
		t.Fatalf("backup: %v", err)
	}
	w.Stop()
	a.Exec("INSERT INTO app.t VALUES (2, 'B: after the binlog copy')")
	b.Exec("INSERT INTO app.t VALUES (2001, 'from 2 after the backup')")
	testbed.WaitCaughtUp(t, b, a)
	a.Kill()
	if err := os.RemoveAll(a.DataDir); err != nil {
		t.Fatal(err)
	}
	b.Exec("INSERT INTO app.t VALUES (2002, 'from 2 while 1 is down')")

	start := time.Now()
	if r := runCLI(t, "--conf-path", confPath, "--when", "no-data-dir", "restore"); r.code != 0 {
		t.Fatalf("restore: exit %d: %s", r.code, lastLine(r.stderr))
	}
	restored := time.Since(start)
	r := runCLI(t, "--conf-path", confPath, "catchup_binlog")
	if r.code != 0 {
		t.Fatalf("catchup_binlog: exit %d: %s", r.code, lastLine(r.stderr))
	}
	t.Logf("restore took %s, restore + catchup_binlog %s; %s", restored.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), r.stdout)
	assertStopped(t, a)

	a.Start()
	for _, v := range []string{"A: after the data", "B: after the binlog copy", "from 2 after the backup", "from 2 while 1 is down"} {
		if n := a.Query("SELECT COUNT(*) FROM app.t WHERE v = ?", v); n != "1" {
			t.Errorf("instance 1 lacks row %q", v)
		}
	}
	for _, table := range []string{"app.t", "app.w"} {
		if ca, cb := a.Checksum(table), b.Checksum(table); ca != cb {
			t.Errorf("CHECKSUM TABLE %s: instance 1 %s, instance 2 %s", table, ca, cb)
		}
	}
	if id := a.Query("SELECT @@server_id"); id != "1" {
		t.Errorf("instance 1 runs with server_id %s, want its own 1", id)
	}
	a.Exec("INSERT INTO app.t VALUES (3, 'new write on 1 after the restore')")
	testbed.WaitCaughtUp(t, b, a)
	if n := b.Query("SELECT COUNT(*) FROM app.t WHERE id = 3"); n != "1" {
		t.Error("a new write on 1 did not reach 2")
	}
	b.Exec("INSERT INTO app.t VALUES (2003, 'new write on 2')")
	a.Exec("START ALL SLAVES") // my.cnf has skip-slave-start, as in production
	testbed.WaitChannelsRunning(t, a, "master-2")
	testbed.WaitCaughtUp(t, a, b)
}

// assertStopped checks no mysqld answers on the instance's socket and no
// temporary mysqld's directory is left.
func assertStopped(t *testing.T, in *testbed.Instance) {
	t.Helper()
	if alive, _ := adminConnOf(in).Alive(t.Context()); alive {
		t.Error("a mysqld answers on the instance's socket")
	}
	if left, _ := filepath.Glob(filepath.Join(in.BackupBase, "mysqld-tmp*")); len(left) > 0 {
		t.Errorf("temporary mysqld directories left: %v", left)
	}
}

// stoppedWithPeerWrites stops instance 1 cleanly and writes on 2 meanwhile:
// a stopped datadir with something to catch up.
func stoppedWithPeerWrites(t *testing.T) (*testbed.Instance, *testbed.Instance) {
	t.Helper()
	a, b := pair(t)
	a.Stop()
	b.Exec("INSERT INTO app.t SELECT seq, 'while 1 was down' FROM app.seq_1_to_500")
	return a, b
}

func TestCatchupWithAnUnreachableSourceFailsOrSkipsAsConfigured(t *testing.T) {
	a, b := stoppedWithPeerWrites(t)
	dead := testbed.FreePort(t) // nothing listens there
	sources := replicationConf("", "", sourceEntry(b.Port, 2), sourceEntry(dead, 9))

	failConf := instanceConf(t, a, nil, sources)
	r := runCLI(t, "--conf-path", failConf, "catchup_binlog")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "source unreachable: master-9") {
		t.Errorf("catchup_unreachable: fail: exit %d, last line %q", r.code, lastLine(r.stderr))
	}
	assertStopped(t, a)

	skipConf := instanceConf(t, a, nil, "catchup_unreachable: skip\n"+sources)
	r = runCLI(t, "--conf-path", skipConf, "catchup_binlog")
	if r.code != 0 {
		t.Fatalf("catchup_unreachable: skip: exit %d: %s", r.code, lastLine(r.stderr))
	}
	if !strings.Contains(r.stdout, "not_caught_up=master-9") {
		t.Errorf("the result line does not name the skipped channel: %q", r.stdout)
	}
	assertStopped(t, a)
	a.Start()
	if got := strings.Join(a.Channels(), ","); got != "master-2,master-9" {
		t.Errorf("channels %s, want master-2 and the skipped source's master-9 (created, not started)", got)
	}
	if n := a.Query("SELECT COUNT(*) FROM app.t WHERE v = 'while 1 was down'"); n != "500" {
		t.Errorf("instance 1 caught up %s of 500 rows from the reachable source", n)
	}
}

func TestCatchupTimeoutIsAClearError(t *testing.T) {
	a, b := stoppedWithPeerWrites(t)
	// 3000 transactions: a backlog no channel applies within the timeout
	// (one large transaction replicates locally in milliseconds).
	db := b.DB()
	for i := range 3000 {
		if _, err := db.Exec("INSERT INTO app.t VALUES (?, 'backlog')", 10000+i); err != nil {
			t.Fatal(err)
		}
	}
	conf := instanceConf(t, a, nil, "catchup_timeout: 1ms\n"+replicationConf("", "", sourceEntry(b.Port, 2)))
	r := runCLI(t, "--conf-path", conf, "catchup_binlog")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "catch-up did not finish in time: master-2") {
		t.Errorf("exit %d, last line %q", r.code, lastLine(r.stderr))
	}
	assertStopped(t, a)
}

func TestCatchupFailsFastWithTheServersMessageOnABrokenChannel(t *testing.T) {
	a, b := stoppedWithPeerWrites(t)
	// Wrong password: the source itself refuses the connection.
	conf := instanceConf(t, a, nil, replicationConf(testbed.ReplUser, "wrong-password", sourceEntry(b.Port, 2)))
	r := runCLI(t, "--conf-path", conf, "catchup_binlog")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "Access denied for user 'repl'") {
		t.Errorf("wrong password: exit %d, last line %q", r.code, lastLine(r.stderr))
	}
	// A user that may connect but not replicate: the channel's IO thread
	// fails, and the wait stops at once with the channel's error.
	b.Exec("SET SESSION sql_log_bin=0", "CREATE USER 'noslave'@'%' IDENTIFIED BY 'pw'")
	conf = instanceConf(t, a, nil, replicationConf("noslave", "pw", sourceEntry(b.Port, 2)))
	start := time.Now()
	r = runCLI(t, "--conf-path", conf, "catchup_binlog")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "channel master-2: IO error:") {
		t.Errorf("no REPLICATION SLAVE: exit %d, last line %q", r.code, lastLine(r.stderr))
	}
	t.Logf("broken channel reported after %s", time.Since(start).Round(time.Millisecond))
	assertStopped(t, a)
}

func TestCatchupRefusesARunningInstance(t *testing.T) {
	a, b := pair(t)
	conf := instanceConf(t, a, nil, replicationConf("", "", sourceEntry(b.Port, 2)))
	r := runCLI(t, "--conf-path", conf, "catchup_binlog")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "catchup_binlog works on a stopped instance") {
		t.Errorf("exit %d, last line %q", r.code, lastLine(r.stderr))
	}
	if !a.Running() {
		t.Error("the running instance was stopped")
	}
}
