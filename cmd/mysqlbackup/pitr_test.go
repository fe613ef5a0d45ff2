package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/internal/proc"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// binlogEnd is where the server's current binlog ends now: a transaction
// boundary between statements.
func binlogEnd(t *testing.T, in *testbed.Instance) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(in.BinlogDir(), "mysql-bin.[0-9]*"))
	fi, err := os.Stat(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s:%d", filepath.Base(files[len(files)-1]), fi.Size())
}

// nextSecond waits until the clock is in a second after at's.
func nextSecond(at time.Time) {
	time.Sleep(time.Until(at.Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
}

// archiveUntilCaughtUp runs binlog-archive until the archive holds the
// server's binlog up to where it ends now, then stops it.
func archiveUntilCaughtUp(t *testing.T, in *testbed.Instance, m *testbed.MinIO, confPath string) {
	t.Helper()
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() { done <- run(ctx, []string{"--conf-path", confPath, "binlog-archive"}, &out, &errb) }()
	want := binlogEnd(t, in)
	waitFor(t, "the archive to reach "+want, func() bool {
		ix, err := binlogarchive.ReadIndex(t.Context(), m.Store(), seriesOf(in))
		if err != nil || len(ix.Files) == 0 {
			return false
		}
		last := ix.Files[len(ix.Files)-1]
		return fmt.Sprintf("%s:%d", last.Name, last.End) == want
	})
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("binlog-archive: exit %d: %s", code, errb.String())
	}
}

// referenceAt replays source's own binlogs on replica, as a replica does,
// up to and including gtid (START SLAVE UNTIL master_gtid_pos): the state
// at that point, reached without the archive. It returns CHECKSUM TABLE
// of table there, "" when the table does not exist.
func referenceAt(t *testing.T, replica, source *testbed.Instance, gtid, table string) string {
	t.Helper()
	ch := testbed.Channel(source)
	replica.Exec(fmt.Sprintf("STOP SLAVE '%s'", ch), fmt.Sprintf("START SLAVE '%s' UNTIL master_gtid_pos = '%s'", ch, gtid))
	waitFor(t, "the reference replica to stop at "+gtid, func() bool {
		return replica.Query("SELECT @@gtid_slave_pos") == gtid &&
			replica.Query("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVES_RUNNING'") == "0"
	})
	schema, name, _ := strings.Cut(table, ".")
	if replica.Query("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", schema, name) == "0" {
		return ""
	}
	return replica.Checksum(table)
}

// Each kind of --until target restores the table as it was at that point:
// a time (every transaction of that second and before), a GTID (up to and
// including it), a position (every event before it), latest (the
// archive's end). The reference for each is a replica of the instance
// stopped there by START SLAVE UNTIL master_gtid_pos, besides the
// checksums recorded as the writes went. Every restore ends with the
// normal start of the server.
func TestPointInTimeRestoreStopsAtEachKindOfTarget(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	ref := testbed.StartMariaDB(t, 2)
	m := testbed.StartMinIO(t)
	ref.Exec(fmt.Sprintf("CHANGE MASTER '%s' TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
		testbed.Channel(in), in.Host, in.Port, testbed.ReplUser, testbed.ReplPassword))
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nclean_after_restore: true\nbinlog_archive_interval: 100ms\n"+v2Conf(t, in))
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(32))",
		"INSERT INTO app.t SELECT seq, 'in the backup' FROM app.seq_1_to_100")
	if r := runCLI(t, "--conf-path", confPath, "backup"); r.code != 0 {
		t.Fatalf("backup: exit %d: %s", r.code, lastLine(r.stderr))
	}
	in.Exec("INSERT INTO app.t SELECT seq, 'a' FROM app.seq_101_to_200", "FLUSH BINARY LOGS",
		"INSERT INTO app.t SELECT seq, 'a' FROM app.seq_201_to_300", "UPDATE app.t SET v = 'a2' WHERE id <= 50")
	atA, sumA, gtidA := time.Now(), in.Checksum("app.t"), in.Query("SELECT @@gtid_binlog_pos")
	nextSecond(atA)
	in.Exec("INSERT INTO app.t SELECT seq, 'b' FROM app.seq_301_to_400")
	posB, sumB, gtidB := binlogEnd(t, in), in.Checksum("app.t"), in.Query("SELECT @@gtid_binlog_pos")
	in.Exec("DELETE FROM app.t WHERE id > 350", "DROP TABLE app.t") // the mistake
	gtidEnd := in.Query("SELECT @@gtid_binlog_pos")
	archiveUntilCaughtUp(t, in, m, confPath)
	refA, refB, refEnd := referenceAt(t, ref, in, gtidA, "app.t"), referenceAt(t, ref, in, gtidB, "app.t"), referenceAt(t, ref, in, gtidEnd, "app.t")
	if refA != sumA || refB != sumB || refEnd != "" {
		t.Fatalf("the reference replica: %q %q %q, recorded on the instance %q %q and no table", refA, refB, refEnd, sumA, sumB)
	}

	if r := runCLI(t, "--conf-path", confPath, "list", "--binlogs"); !strings.Contains(r.stdout, "recoverable (restore --until) from ") || !strings.Contains(r.stdout, "(backup "+testDate+")") {
		t.Errorf("list --binlogs shows no recoverable window:\n%s", r.stdout)
	}
	if st := archiverStatusOf(t, confPath); st.Recoverable == nil || st.Recoverable.Backup != testDate {
		t.Errorf("status --json: the archiver's recoverable window %+v, want one from the backup of %s", st.Recoverable, testDate)
	}
	dry := runCLI(t, "--conf-path", confPath, "restore", "--until", "gtid:"+gtidA, "--dry-run")
	if dry.code != 0 || !strings.Contains(dry.stdout, "proof:") || !strings.Contains(dry.stdout, "gtid "+gtidA) {
		t.Fatalf("restore --dry-run: exit %d\n%s%s", dry.code, dry.stdout, lastLine(dry.stderr))
	}
	t.Log(dry.stdout)
	if !in.Running() {
		t.Fatal("--dry-run stopped the instance")
	}
	cases := []struct{ until, sum, gtid string }{
		{atA.UTC().Truncate(time.Second).Format(time.RFC3339), refA, gtidA},
		{"gtid:" + gtidA, refA, gtidA},
		{"pos:" + posB, refB, gtidB},
		{"latest", refEnd, gtidEnd},
	}
	for _, c := range cases {
		wipe(t, in)
		r := runCLI(t, "--conf-path", confPath, "restore", "--until", c.until)
		if r.code != 0 || !strings.Contains(r.stdout, "until=") {
			t.Fatalf("restore --until %s: exit %d %q: %s", c.until, r.code, r.stdout, lastLine(r.stderr))
		}
		in.Start()
		switch {
		case c.sum == "":
			if n := in.Query("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 't'"); n != "0" {
				t.Errorf("--until latest: app.t exists; the archive's end drops it")
			}
		default:
			if got := in.Checksum("app.t"); got != c.sum {
				t.Errorf("--until %s: CHECKSUM TABLE app.t = %s, the reference replica stopped there has %s", c.until, got, c.sum)
			}
		}
		if c.gtid != "" {
			if got := in.Query("SELECT @@gtid_binlog_pos"); got != c.gtid {
				t.Errorf("--until %s: gtid_binlog_pos %s, want %s", c.until, got, c.gtid)
			}
		}
		if pending, _ := os.Stat(filepath.Join(in.DataDir, "mysqlbackup-catchup-pending.json")); pending != nil {
			t.Errorf("--until %s: a catch-up marker; a point-in-time restore is complete", c.until)
		}
	}

	// Refused before anything is touched: the datadir stays absent.
	wipe(t, in)
	ix, _ := binlogarchive.ReadIndex(t.Context(), m.Store(), seriesOf(in))
	segs, _ := binlogarchive.ReadSegments(t.Context(), m.Store(), seriesOf(in), ix.Files[len(ix.Files)-1].Name)
	refusals := map[string]string{
		"2020-01-01T00:00:00Z":                               "is before the oldest backup",
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339): "is after the last archived event",
		"pos:" + posB[:strings.IndexByte(posB, ':')+1] + fmt.Sprint(atoi(t, posB[strings.IndexByte(posB, ':')+1:])+1): "not an event boundary",
	}
	for until, want := range refusals {
		r := runCLI(t, "--conf-path", confPath, "restore", "--until", until)
		if r.code == 0 || !strings.Contains(lastLine(r.stderr), want) {
			t.Errorf("restore --until %s: exit %d, %q; want a refusal with %q", until, r.code, lastLine(r.stderr), want)
		}
	}
	if err := m.Store().Delete(t.Context(), segs[0].Key); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "--conf-path", confPath, "restore", "--until", "latest")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), segs[0].Key) {
		t.Errorf("restore --until latest with a segment gone: exit %d, %q", r.code, lastLine(r.stderr))
	}
	if _, err := os.Stat(in.DataDir); !os.IsNotExist(err) {
		t.Errorf("a refused restore left the datadir: %v", err)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// "Undo a DROP TABLE at 11:02": a point-in-time copy restored beside the
// instance, on another port and data_base given on the command line,
// while the instance keeps serving; the copy starts normally from its own
// (relocated) my.cnf and holds the table as it was.
func TestPointInTimeCopyBesideTheServingInstanceUndoesADropTable(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nbinlog_archive_interval: 100ms\n"+v2Conf(t, in))
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(32))",
		"INSERT INTO app.t SELECT seq, 'kept' FROM app.seq_1_to_500")
	if r := runCLI(t, "--conf-path", confPath, "backup"); r.code != 0 {
		t.Fatalf("backup: exit %d: %s", r.code, lastLine(r.stderr))
	}
	in.Exec("UPDATE app.t SET v = 'changed after the backup' WHERE id <= 100")
	before, sum := time.Now(), in.Checksum("app.t")
	nextSecond(before)
	in.Exec("DROP TABLE app.t", "CREATE TABLE app.other (id INT PRIMARY KEY)")
	archiveUntilCaughtUp(t, in, m, confPath)

	// The copy's config: the instance's, its socket and pid-file left to
	// follow the port (the legacy defaults), on the instance's conf_base.
	data, _ := os.ReadFile(confPath)
	var copyConf []string
	for _, l := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(l, "mysql_socket:") && !strings.HasPrefix(l, "mysql_pid_path:") {
			copyConf = append(copyConf, l)
		}
	}
	copyConf = append(copyConf, "conf_base: "+in.ConfBase)
	copyPath := filepath.Join(t.TempDir(), "copy.yaml")
	if err := os.WriteFile(copyPath, []byte(strings.Join(copyConf, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/var/run/mysqld", 0o755); err != nil {
		t.Fatal(err)
	}
	port, dataBase := testbed.FreePort(t), t.TempDir()
	until := before.UTC().Truncate(time.Second).Format(time.RFC3339)
	r := runCLI(t, "--conf-path", copyPath, "--port", fmt.Sprint(port), "--data-base", dataBase, "restore", "--until", until, "--from-port", fmt.Sprint(in.Port))
	if r.code != 0 {
		t.Fatalf("restore --until %s into port %d: exit %d: %s", until, port, r.code, lastLine(r.stderr))
	}
	if !in.Running() || in.Checksum("app.other") == "" {
		t.Fatal("the instance stopped serving during the copy's restore")
	}
	copyDir := filepath.Join(dataBase, fmt.Sprintf("mysql-%d", port))
	cnf, err := os.ReadFile(filepath.Join(copyDir, "my.cnf"))
	if err != nil || !strings.Contains(string(cnf), fmt.Sprintf("port = %d", port)) || strings.Contains(string(cnf), in.DataDir) {
		t.Fatalf("the copy's my.cnf (%v):\n%s", err, cnf)
	}
	db := startCopy(t, filepath.Join(copyDir, "my.cnf"), mysqld.Conn{Socket: fmt.Sprintf("/var/run/mysqld/mysqld-%d.sock", port), User: "root", Password: in.RootPassword})
	var name, got string
	if err := db.QueryRowContext(t.Context(), "CHECKSUM TABLE app.t").Scan(&name, &got); err != nil || got != sum {
		t.Errorf("the copy's app.t: CHECKSUM %s (%v), %s before the DROP", got, err, sum)
	}
	var others int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 'other'").Scan(&others); err != nil || others != 0 {
		t.Errorf("the copy holds app.other, created after the target (%v)", err)
	}
}

// startCopy starts a restored copy as its normal start would (mariadbd
// with the datadir's my.cnf), stopped by its pid when the test ends.
func startCopy(t *testing.T, cnf string, conn mysqld.Conn) *sql.DB {
	t.Helper()
	bin, err := exec.LookPath("mariadbd")
	if err != nil {
		bin = "/usr/sbin/mariadbd"
	}
	p, err := proc.Start(context.WithoutCancel(t.Context()), proc.Spec{Name: bin, Args: []string{"--defaults-file=" + cnf}, DieWithParent: true, WaitDelay: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.Wait() }()
	t.Cleanup(func() {
		_ = p.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			_ = p.Signal(syscall.SIGKILL)
			<-exited
		}
	})
	db, err := conn.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	waitFor(t, "the copy to answer", func() bool {
		select {
		case err := <-exited:
			t.Fatalf("the copy exited: %v: %s", err, p.Tail())
		default:
		}
		return db.PingContext(t.Context()) == nil
	})
	return db
}

// A replica restored to a point in time does not replicate on its own:
// its channels would fetch what came after the target. (MariaDB keeps
// them in files mariabackup leaves out; MySQL in tables the backup holds,
// which the restore resets on its temporary server: that step runs here
// too, and must leave a server that starts normally.)
func TestPointInTimeRestoreOfAReplicaLeavesNoReplicationChannel(t *testing.T) {
	source, replica := testbed.StartMariaDB(t, 1), testbed.StartMariaDB(t, 2)
	m := testbed.StartMinIO(t)
	testbed.Replicate(t, replica, source)
	confPath := instanceConf(t, replica, m, "purge_binlog_days: 0\nbinlog_archive_interval: 100ms\n"+v2Conf(t, replica))
	source.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t SELECT seq FROM app.seq_1_to_100")
	testbed.WaitCaughtUp(t, replica, source)
	if r := runCLI(t, "--conf-path", confPath, "backup"); r.code != 0 {
		t.Fatalf("backup: exit %d: %s", r.code, lastLine(r.stderr))
	}
	source.Exec("INSERT INTO app.t SELECT seq FROM app.seq_101_to_150")
	testbed.WaitCaughtUp(t, replica, source)
	archiveUntilCaughtUp(t, replica, m, confPath)
	wipe(t, replica)
	if r := runCLI(t, "--conf-path", confPath, "restore", "--until", "latest"); r.code != 0 {
		t.Fatalf("restore --until latest: exit %d: %s", r.code, lastLine(r.stderr))
	}
	replica.Start()
	if n := replica.Query("SELECT COUNT(*) FROM app.t"); n != "150" {
		t.Errorf("rows after the restore: %s, want 150", n)
	}
	if chs := replica.Channels(); len(chs) != 0 {
		t.Errorf("the restored replica has channels %v: it would replicate past the target", chs)
	}
}

// After a failover: A (server 1) backed up and archived, then lost; B
// (server 2), its peer on another host on the same port, goes on taking
// writes, archiving its own binlogs (which carry A's transactions too). A
// restore of A to a time after the failover through A's own archive is
// refused, naming where it ends; through B's (--archive-server-id 2) it
// follows GTIDs, not file names, and brings back what B holds at T.
func TestPointInTimeRestoreAfterAFailoverFollowsThePromotedPeersArchive(t *testing.T) {
	m := testbed.StartMinIO(t)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	shared := func(in *testbed.Instance) string { // one group, one key pair
		if err := os.WriteFile(filepath.Join(in.ConfBase, "age.key"), []byte(id.String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("binlog_archive_interval: 100ms\narchive_format: v2\nencryption_recipients:\n  - %s\nencryption_identity_file: age.key\n", id.Recipient())
	}
	a, b := groupOf(t, m, testbed.Options{ID: 1}, testbed.Options{ID: 2, Host: "127.0.0.2", Port: -1}, shared)
	a.Exec("INSERT INTO app.t SELECT seq, 'before the backup' FROM app.seq_1_to_100")
	if r := runCLI(t, "--conf-path", a.conf, "backup"); r.code != 0 {
		t.Fatalf("backup of A: exit %d: %s", r.code, lastLine(r.stderr))
	}
	a.Exec("INSERT INTO app.t SELECT seq, 'on A after the backup' FROM app.seq_101_to_200")
	testbed.WaitCaughtUp(t, b.Instance, a.Instance)
	archiveUntilCaughtUp(t, a.Instance, m, a.conf)
	a.Kill() // the failover: B takes the writes
	b.Exec("STOP ALL SLAVES", "INSERT INTO app.t SELECT seq, 'on B after the failover' FROM app.seq_201_to_300")
	at, sum := time.Now(), b.Checksum("app.t")
	nextSecond(at)
	b.Exec("INSERT INTO app.t SELECT seq, 'on B after the target' FROM app.seq_301_to_400")
	archiveUntilCaughtUp(t, b.Instance, m, b.conf)

	if err := os.RemoveAll(a.DataDir); err != nil {
		t.Fatal(err)
	}
	until := at.UTC().Truncate(time.Second).Format(time.RFC3339)
	r := runCLI(t, "--conf-path", a.conf, "restore", "--until", until)
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "is after the last archived event") || !strings.Contains(lastLine(r.stderr), "another member's archive may reach it: --archive-server-id 2 goes on to") {
		t.Errorf("restore --until %s through A's own archive: exit %d, %q; want it refused where A's archive ends", until, r.code, lastLine(r.stderr))
	}
	r = runCLI(t, "--conf-path", a.conf, "restore", "--until", until, "--archive-server-id", "2")
	if r.code != 0 {
		t.Fatalf("restore --until %s through B's archive: exit %d: %s", until, r.code, lastLine(r.stderr))
	}
	a.Start()
	if got := a.Checksum("app.t"); got != sum {
		t.Errorf("A restored through B's archive: CHECKSUM %s, B had %s at the target", got, sum)
	}
	if n := a.Query("SELECT COUNT(*) FROM app.t"); n != "300" {
		t.Errorf("A restored through B's archive holds %s rows, want 300", n)
	}
}
