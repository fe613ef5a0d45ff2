package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

// sourceOf is the replication source entry of a testbed instance, on the
// host it binds.
func sourceOf(in *testbed.Instance) string {
	return fmt.Sprintf("    - {host: %s, port: %d, id: %d}\n", in.Host, in.Port, in.ID)
}

// member is one instance of a replication group with its config.
type member struct {
	*testbed.Instance
	conf string
}

// groupOf starts two instances (each on its own host's loopback address
// when samePort) replicating both ways on channels master-<id>, with a
// table app.t, and writes each one's conf.yaml for m's bucket.
func groupOf(t *testing.T, m *testbed.MinIO, a, b testbed.Options, extra func(*testbed.Instance) string) (member, member) {
	t.Helper()
	ia := testbed.StartMariaDBWith(t, a)
	if b.Port == -1 {
		b.Port = ia.Port
	}
	if b.RootPassword == "" && b.Port == ia.Port {
		b.RootPassword = ia.RootPassword // one group: mysql.* is the same everywhere
	}
	ib := testbed.StartMariaDBWith(t, b)
	testbed.Replicate(t, ia, ib)
	testbed.Replicate(t, ib, ia)
	ia.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64))")
	testbed.WaitCaughtUp(t, ib, ia)
	confOf := func(in, peer *testbed.Instance) string {
		x := "purge_binlog_days: 0\n" + replicationConf("", "", sourceOf(peer))
		if extra != nil {
			x += extra(in)
		}
		return instanceConf(t, in, m, x)
	}
	return member{ia, confOf(ia, ib)}, member{ib, confOf(ib, ia)}
}

// loseAndRebuild is the bootstrap story on member lost, whose peer keeps
// writing: backup of from (lost itself or its peer), writes on both sides
// after it, lost killed and wiped, `--when no-data-dir restore`, then
// catchup_binlog. It checks the pending catch-up in between.
func loseAndRebuild(t *testing.T, from, lost, peer member) {
	t.Helper()
	loseAfterBackup(t, from, lost, peer)
	rebuild(t, lost)
}

// loseAfterBackup: a backup of from, writes on both sides after it, lost
// killed and its datadir (and a binlog disk of its own) wiped, the peer
// writing on.
func loseAfterBackup(t *testing.T, from, lost, peer member) {
	t.Helper()
	lost.Exec("INSERT INTO app.t VALUES (1, 'lost: before the backup')")
	peer.Exec("INSERT INTO app.t VALUES (1001, 'peer: before the backup')")
	testbed.WaitCaughtUp(t, lost.Instance, peer.Instance)
	testbed.WaitCaughtUp(t, peer.Instance, lost.Instance)
	if r := runCLI(t, "--conf-path", from.conf, "backup"); r.code != 0 {
		t.Fatalf("backup: exit %d: %s", r.code, lastLine(r.stderr))
	}
	lost.Exec("INSERT INTO app.t VALUES (2, 'lost: after the backup')")
	peer.Exec("INSERT INTO app.t VALUES (1002, 'peer: after the backup')")
	testbed.WaitCaughtUp(t, peer.Instance, lost.Instance)
	lost.Kill()
	if err := os.RemoveAll(lost.DataDir); err != nil {
		t.Fatal(err)
	}
	if lost.BinlogDir() != lost.DataDir { // a binlog disk of its own, lost as well
		os.WriteFile(filepath.Join(lost.BinlogDir(), "unrelated"), nil, 0o644)
		r := runCLI(t, "--conf-path", lost.conf, "restore")
		if r.code != 1 || !strings.Contains(lastLine(r.stderr), "binlog dir "+lost.BinlogDir()+" (log-bin of my.cnf) is not empty") {
			t.Errorf("restore into a non-empty binlog dir: exit %d, last line %q", r.code, lastLine(r.stderr))
		}
		if _, err := os.Stat(lost.DataDir); err == nil {
			t.Error("a refused restore left a datadir")
		}
		if err := os.RemoveAll(lost.BinlogDir()); err != nil {
			t.Fatal(err)
		}
	}
	peer.Exec("INSERT INTO app.t VALUES (1003, 'peer: while the other is down')")
}

// rebuild is the bootstrap hook on the lost member: `--when no-data-dir
// restore`, checks of the pending catch-up, catchup_binlog.
func rebuild(t *testing.T, lost member) {
	t.Helper()
	if r := runCLI(t, "--conf-path", lost.conf, "--when", "no-data-dir", "restore"); r.code != 0 || !strings.Contains(r.stdout, "catchup=pending") {
		t.Fatalf("restore: exit %d, stdout %q: %s", r.code, r.stdout, lastLine(r.stderr))
	}
	if _, err := os.Stat(filepath.Join(lost.DataDir, instance.CatchupMarker)); err != nil {
		t.Errorf("the restore left no pending catch-up marker: %v", err)
	}
	if r := runCLI(t, "--conf-path", lost.conf, "status", "--brief"); !strings.Contains(r.stdout, "CATCH-UP PENDING") {
		t.Errorf("status of the restored, not caught up instance does not say so: %q", r.stdout)
	}
	if r := runCLI(t, "--conf-path", lost.conf, "setup_replication"); r.code != 1 || !strings.Contains(lastLine(r.stderr), "run catchup_binlog first") {
		t.Errorf("setup_replication before the catch-up: exit %d, last line %q; want a refusal", r.code, lastLine(r.stderr))
	}
	if r := runCLI(t, "--conf-path", lost.conf, "catchup_binlog"); r.code != 0 {
		t.Fatalf("catchup_binlog: exit %d: %s", r.code, lastLine(r.stderr))
	}
	if _, err := os.Stat(filepath.Join(lost.DataDir, instance.CatchupMarker)); err == nil {
		t.Error("the pending catch-up marker is still there after a successful catch-up")
	}
	assertRelayLogsReset(t, lost.Instance)
	assertStopped(t, lost.Instance)
}

// assertRelayLogsReset checks the catch-up left no fetched transaction in
// any relay log: the next start fetches again from gtid_slave_pos what was
// not applied, and applies nothing twice. (Each start opens a new relay
// log, so the files are counted by content, not number.)
func assertRelayLogsReset(t *testing.T, in *testbed.Instance) {
	t.Helper()
	bin := testbed.Need(t, "mariadb-binlog")[0]
	var logs []string
	for _, dir := range []string{in.DataDir, filepath.Join(in.Dir, "relay"), filepath.Join(in.DataDir, "relay")} {
		m, _ := filepath.Glob(filepath.Join(dir, "*relay-bin*.[0-9][0-9][0-9][0-9][0-9][0-9]"))
		logs = append(logs, m...)
	}
	if len(logs) == 0 {
		t.Fatal("no relay log after the catch-up")
	}
	gtidEvent := regexp.MustCompile(`\tGTID \d+-\d+-\d+`)
	for _, f := range logs {
		out, err := exec.Command(bin, f).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v: %s", bin, f, err, out)
		}
		if n := len(gtidEvent.FindAll(out, -1)); n > 0 {
			t.Errorf("relay log %s still holds %d fetched transactions after the catch-up", filepath.Base(f), n)
		}
	}
}

// startsAsItself starts the rebuilt member normally (its datadir's
// my.cnf, as systemd or an operator does), starts its channels as after
// skip-slave-start, and checks identity, data and replication both ways.
func startsAsItself(t *testing.T, in, peer member) {
	t.Helper()
	in.Start()
	in.Exec("START ALL SLAVES")
	testbed.WaitChannelsRunning(t, in.Instance, testbed.Channel(peer.Instance))
	testbed.WaitCaughtUp(t, in.Instance, peer.Instance)
	if got, want := in.Query("SELECT CONCAT(@@server_id, '/', @@gtid_domain_id)"), fmt.Sprintf("%d/%d", in.ID, in.ID); got != want {
		t.Errorf("instance %d runs as server_id/gtid_domain_id %s, want its own %s", in.ID, got, want)
	}
	for _, v := range []string{"lost: after the backup", "peer: after the backup", "peer: while the other is down"} {
		if n := in.Query("SELECT COUNT(*) FROM app.t WHERE v = ?", v); n != "1" {
			t.Errorf("instance %d lacks row %q", in.ID, v)
		}
	}
	if ca, cb := in.Checksum("app.t"), peer.Checksum("app.t"); ca != cb {
		t.Errorf("CHECKSUM TABLE app.t: instance %d %s, its peer %s", in.ID, ca, cb)
	}
	in.Exec("INSERT INTO app.t VALUES (3, 'new write on the rebuilt member')")
	testbed.WaitCaughtUp(t, peer.Instance, in.Instance)
	peer.Exec("INSERT INTO app.t VALUES (1004, 'new write on the peer')")
	testbed.WaitCaughtUp(t, in.Instance, peer.Instance)
	if n := peer.Query("SELECT COUNT(*) FROM app.t WHERE id = 3"); n != "1" {
		t.Error("a new write on the rebuilt member did not reach its peer")
	}
}

func TestRestoredInstanceStartsNormallyAsItselfInEveryMyCnfLayout(t *testing.T) {
	for _, c := range []struct {
		name   string
		layout testbed.Layout
		v2     bool
	}{
		{"legacy defaults, legacy format", testbed.LayoutLegacy, false},
		{"legacy defaults, v2 format", testbed.LayoutLegacy, true},
		{"log-basename", testbed.LayoutLogBasename, false},
		{"explicit relay-log paths", testbed.LayoutRelayPaths, false},
		{"relay-log in a subdirectory of the datadir", testbed.LayoutRelayInDatadir, false},
		{"log-bin without a value", testbed.LayoutBareLogBin, false},
		{"no pid-file", testbed.LayoutNoPidFile, false},
		{"binlogs outside the datadir", testbed.LayoutBinlogDir, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := testbed.StartMinIO(t)
			var format func(*testbed.Instance) string
			if c.v2 {
				format = func(in *testbed.Instance) string { return v2Conf(t, in) }
			}
			a, b := groupOf(t, m, testbed.Options{ID: 1, Layout: c.layout}, testbed.Options{ID: 2, Layout: c.layout}, format)
			loseAndRebuild(t, a, a, b)
			startsAsItself(t, a, b)
		})
	}
}

func TestAMemberBootstrappedFromItsPeersBackupRunsAsItself(t *testing.T) {
	// Members of one group share a port on different hosts, so the backup
	// under {date}/{port}/ is whichever member took it: here A's, restored
	// onto B (127.0.0.2, same port), with A's my.cnf inside.
	m := testbed.StartMinIO(t)
	a, b := groupOf(t, m, testbed.Options{ID: 1}, testbed.Options{ID: 2, Host: "127.0.0.2", Port: -1}, nil)
	if a.Port != b.Port {
		t.Fatalf("members on ports %d and %d, want one port", a.Port, b.Port)
	}
	loseAndRebuild(t, a, b, a)
	kept, err := os.ReadFile(filepath.Join(b.DataDir, "my.cnf"+instance.FromBackupSuffix))
	if err != nil || !bytes.Contains(kept, []byte("server-id=1\n")) {
		t.Errorf("B's datadir does not keep A's my.cnf as my.cnf.from-backup: %v", err)
	}
	own, _ := os.ReadFile(filepath.Join(b.ConfBase, "my.cnf"))
	if got, _ := os.ReadFile(b.MyCnf); !bytes.Equal(got, own) {
		t.Error("B's datadir my.cnf is not B's own")
	}
	startsAsItself(t, b, a)
}

func TestTwoPortsRestoredAndCaughtUpInParallelWithOneBackupBase(t *testing.T) {
	// One host with two ports (shared run dir and backup_base), each port
	// with a peer on another host; both rebuilt at once, as a bootstrap
	// hook with one unit per port does.
	m := testbed.StartMinIO(t)
	run := testbed.TempDir(t)
	x1, p1 := groupOf(t, m, testbed.Options{ID: 1, RunDir: run}, testbed.Options{ID: 2, Host: "127.0.0.2"}, nil)
	x2, p2 := groupOf(t, m, testbed.Options{ID: 3, RunDir: run}, testbed.Options{ID: 4, Host: "127.0.0.2"}, nil)
	shared := x1.BackupBase
	x2.BackupBase = shared
	x2.conf = instanceConf(t, x2.Instance, m, "purge_binlog_days: 0\n"+replicationConf("", "", sourceOf(p2.Instance)))
	for _, g := range [][2]member{{x1, p1}, {x2, p2}} {
		x, p := g[0], g[1]
		x.Exec(fmt.Sprintf("INSERT INTO app.t VALUES (1, 'lost: before the backup'), (10, 'port %d')", x.Port))
		testbed.WaitCaughtUp(t, p.Instance, x.Instance)
		if r := runCLI(t, "--conf-path", x.conf, "backup"); r.code != 0 {
			t.Fatalf("backup of %d: exit %d: %s", x.Port, r.code, lastLine(r.stderr))
		}
		x.Exec("INSERT INTO app.t VALUES (2, 'lost: after the backup')")
		p.Exec("INSERT INTO app.t VALUES (1002, 'peer: after the backup')", "INSERT INTO app.t VALUES (1003, 'peer: while the other is down')")
		testbed.WaitCaughtUp(t, p.Instance, x.Instance)
		x.Kill()
		if err := os.RemoveAll(x.DataDir); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	results := make([][]result, 2)
	for i, x := range []member{x1, x2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = append(results[i], runCLI(t, "--conf-path", x.conf, "--when", "no-data-dir", "restore"))
			results[i] = append(results[i], runCLI(t, "--conf-path", x.conf, "catchup_binlog"))
		}()
	}
	wg.Wait()
	for i, rs := range results {
		for _, r := range rs {
			if r.code != 0 {
				t.Fatalf("port %d: exit %d: %s", []member{x1, x2}[i].Port, r.code, lastLine(r.stderr))
			}
		}
	}
	for _, g := range [][2]member{{x1, p1}, {x2, p2}} {
		x, p := g[0], g[1]
		assertStopped(t, x.Instance)
		x.Start()
		if got := x.Query("SELECT v FROM app.t WHERE id = 10"); got != fmt.Sprintf("port %d", x.Port) {
			t.Errorf("port %d holds the data of %q", x.Port, got)
		}
		x.Exec("START ALL SLAVES")
		testbed.WaitCaughtUp(t, x.Instance, p.Instance)
		if ca, cb := x.Checksum("app.t"), p.Checksum("app.t"); ca != cb {
			t.Errorf("port %d: CHECKSUM TABLE app.t %s, its peer %s", x.Port, ca, cb)
		}
	}
}

func TestTemporaryServersRunNoEventAndNoInitFileOfMyCnf(t *testing.T) {
	// my.cnf turns the event scheduler on and names an init file; both
	// write a row with the time. Nothing may be written by them between
	// the instance's loss and its next normal start: the replay runs
	// unlogged, and the catch-up must fetch, not invent.
	dir := testbed.TempDir(t)
	initFile := filepath.Join(dir, "init.sql")
	if err := os.WriteFile(initFile, []byte("SET SESSION sql_log_bin=0;\nCREATE DATABASE IF NOT EXISTS boot;\nCREATE TABLE IF NOT EXISTS boot.starts (ts DATETIME(6));\nINSERT INTO boot.starts VALUES (NOW(6));\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := testbed.StartMariaDBWith(t, testbed.Options{ID: 1, ExtraCnf: "event-scheduler=ON\ninit-file=" + initFile + "\n"})
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.tick (ts DATETIME(6))",
		"CREATE EVENT app.every_second ON SCHEDULE EVERY 1 SECOND DO INSERT INTO app.tick VALUES (NOW(6))")
	confPath := instanceConf(t, in, nil, "purge_binlog_days: 0\n")
	if r := runCLI(t, "--conf-path", confPath, "backup"); r.code != 0 {
		t.Fatalf("backup: exit %d: %s", r.code, lastLine(r.stderr))
	}
	in.Kill()
	killed := time.Now()
	if err := os.RemoveAll(in.DataDir); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // a tick would fall after this point
	if r := runCLI(t, "--conf-path", confPath, "restore"); r.code != 0 {
		t.Fatalf("restore: exit %d: %s", r.code, lastLine(r.stderr))
	}
	started := time.Now()
	in.Start("--event-scheduler=OFF")
	at := func(ts time.Time) string { return ts.Format("2006-01-02 15:04:05.000000") }
	if n := in.Query("SELECT COUNT(*) FROM app.tick WHERE ts > ?", at(killed)); n != "0" {
		t.Errorf("%s event rows were written after the instance was lost, before its normal start", n)
	}
	if n := in.Query("SELECT COUNT(*) FROM boot.starts WHERE ts > ? AND ts < ?", at(killed), at(started)); n != "0" {
		t.Errorf("the init file ran %s times on temporary servers", n)
	}
	if n := in.Query("SELECT COUNT(*) FROM boot.starts WHERE ts >= ?", at(started)); n != "1" {
		t.Errorf("the init file ran %s times at the normal start, want 1 (the test is blind otherwise)", n)
	}
}
