package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/backup"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

// startArchiver runs binlog-archive until the returned stop, which fails
// the test if it did not end with exit 0.
func startArchiver(t *testing.T, confPath string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() { done <- run(ctx, []string{"--conf-path", confPath, "binlog-archive"}, &out, &errb) }()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("binlog-archive: exit %d: %s", code, lastLine(errb.String()))
		}
	}
	t.Cleanup(stop)
	return stop
}

// manifestOf reads the committed manifest of the port's backup of date.
func manifestOf(t *testing.T, in *testbed.Instance, m *testbed.MinIO, date string) catalog.Manifest {
	t.Helper()
	man, err := catalog.ReadManifest(t.Context(), m.Store(), catalog.V2Prefix(date, fmt.Sprint(in.Port)), nil)
	if err != nil {
		t.Fatalf("manifest of %s: %v", date, err)
	}
	return man
}

// With binlog-archive running, a v2 backup leaves its binlogs out (they
// are in the archive, proven event by event before the manifest), and
// the restore takes the delta from the archive: every row, the GTID
// position, the binlogs the server had before the snapshot's file (for
// replicas behind it), then the normal start. A GTID that jumps ahead in
// the delta (a session's gtid_seq_no) is the server's history, as a
// bundled backup would replay it.
func TestABackupLeavesItsBinlogsToTheRunningArchiveAndTheRestoreTakesThemFromThere(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nclean_after_restore: true\nbinlog_archive_interval: 100ms\nbackup_binlogs: auto\n"+v2Conf(t, in))
	in.Exec("FLUSH BINARY LOGS") // the snapshot is not in the first file
	stopArchiver := startArchiver(t, confPath)
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64))",
		"INSERT INTO app.t SELECT seq, CONCAT('before-', seq) FROM app.seq_1_to_1000")
	app, _ := newApp(t, confPath)
	var beforeJump string
	delta := func(ctx context.Context) error {
		db := in.DB()
		defer db.Close()
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "INSERT INTO app.t SELECT seq, 'delta' FROM app.seq_100001_to_100050"); err != nil {
			return err
		}
		if err := conn.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&beforeJump); err != nil {
			return err
		}
		_, err = conn.ExecContext(ctx, "SET SESSION gtid_seq_no = 5000")
		if err == nil {
			_, err = conn.ExecContext(ctx, "INSERT INTO app.t VALUES (200000, 'after a gtid jump')")
		}
		return err
	}
	if err := runBackup(t.Context(), app, backup.Options{AfterData: delta}); err != nil {
		t.Fatalf("backup: %v", err)
	}
	wantSum, wantGTID := in.Checksum("app.t"), in.Query("SELECT @@gtid_binlog_pos")

	man := manifestOf(t, in, m, testDate)
	if _, bundled := man.Object(catalog.RoleBinlogs); bundled || man.BinlogArchive == nil {
		t.Fatalf("the manifest bundles the binlogs (objects %v, binlog_archive %+v); the running archive holds them", man.Objects, man.BinlogArchive)
	}
	if a := man.BinlogArchive; man.FormatVersion != catalog.ManifestVersion || a.Proof != "events" || a.To != man.BinlogEnd || a.Transactions != 2 ||
		a.Series != seriesOf(in).Prefix() || a.Oldest != "mysql-bin.000001" || a.FromCreated.IsZero() {
		t.Errorf("format_version %d, binlog_archive %+v: want version %d, an events proof of the two delta transactions to %s in %s, the oldest binlog and the snapshot file's creation",
			man.FormatVersion, *a, catalog.ManifestVersion, man.BinlogEnd, seriesOf(in).Prefix())
	}
	if bs := listBackups(t, confPath); len(bs) != 1 || bs[0].BinlogArchive != seriesOf(in).Prefix() {
		t.Errorf("list --json: %+v, want the backup with binlog_archive %s", bs, seriesOf(in).Prefix())
	}
	if r := runCLI(t, "--conf-path", confPath, "verify"); r.code != 0 || !strings.Contains(r.stdout, "binlogs=archive:"+seriesOf(in).Prefix()) || !strings.Contains(r.stdout, "transactions=2") {
		t.Errorf("verify: exit %d %q %s", r.code, r.stdout, lastLine(r.stderr))
	}
	stopArchiver()
	wipe(t, in)

	r := runCLI(t, "--conf-path", confPath, "restore")
	if r.code != 0 || !strings.Contains(r.stdout, "binlogs=archive:") || strings.Contains(r.stdout, "stop_gtid=") {
		t.Fatalf("restore: exit %d %q %s", r.code, r.stdout, lastLine(r.stderr))
	}
	if _, err := os.Stat(filepath.Join(in.BinlogDir(), "mysql-bin.000001")); err != nil {
		t.Errorf("the binlog before the snapshot's file is not back: %v", err)
	}
	in.Start()
	if got := in.Checksum("app.t"); got != wantSum {
		t.Errorf("CHECKSUM TABLE app.t = %s after restore, %s when the backup listed its binlogs", got, wantSum)
	}
	if got := in.Query("SELECT @@gtid_binlog_pos"); got != wantGTID {
		t.Errorf("gtid_binlog_pos = %q after restore, want %q", got, wantGTID)
	}

	// A point-in-time restore from it: the archive alone gives the binlogs.
	// Its proof follows GTIDs strictly: up to the jump, not across it.
	wipe(t, in)
	if r := runCLI(t, "--conf-path", confPath, "restore", "--until", "latest"); r.code != 1 || !strings.Contains(lastLine(r.stderr), "a hole") {
		t.Errorf("restore --until latest across the GTID jump: exit %d %q", r.code, lastLine(r.stderr))
	}
	if r := runCLI(t, "--conf-path", confPath, "restore", "--until", "gtid:"+beforeJump); r.code != 0 || !strings.Contains(r.stdout, "stop_gtid=") {
		t.Fatalf("restore --until gtid:%s: exit %d %q %s", beforeJump, r.code, r.stdout, lastLine(r.stderr))
	}
	in.Start()
	if n := in.Query("SELECT COUNT(*) FROM app.t WHERE v = 'delta'") + "/" + in.Query("SELECT COUNT(*) FROM app.t WHERE id = 200000"); n != "50/0" {
		t.Errorf("restore --until gtid:%s: delta rows / rows after the jump %s, want 50/0", beforeJump, n)
	}
}

// An archive that does not hold the binlogs (binlog-archive stopped while
// the server wrote on): backup_binlogs auto bundles them; archive fails
// the backup naming why, with nothing visible as a backup.
func TestABackupBundlesItsBinlogsWhenTheArchiveLagsOrFailsWhenItMustNotBundle(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	defer func(stall time.Duration) { backup.ArchiveStall = stall }(backup.ArchiveStall)
	backup.ArchiveStall = time.Second
	keys := v2Conf(t, in)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nbinlog_archive_interval: 100ms\n"+keys)
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1)")
	if r := runCLI(t, "--conf-path", confPath, "binlog-archive", "--once"); r.code != 0 {
		t.Fatalf("binlog-archive --once: exit %d: %s", r.code, lastLine(r.stderr))
	}
	in.Exec("INSERT INTO app.t VALUES (2)") // not archived: the archiver is stopped

	strict := instanceConf(t, in, m, "purge_binlog_days: 0\nbinlog_archive_interval: 100ms\nbackup_binlogs: archive\n"+keys)
	r := runCLI(t, "--conf-path", strict, "--date-str", "2026_11_01", "backup")
	if r.code == 0 || !strings.Contains(lastLine(r.stderr), "backup_binlogs archive:") || !strings.Contains(lastLine(r.stderr), "is binlog-archive running?") {
		t.Fatalf("backup_binlogs archive, the archive behind: exit %d, %q", r.code, lastLine(r.stderr))
	}
	for _, b := range listBackups(t, strict) {
		if b.Date == "2026_11_01" {
			t.Errorf("the failed backup left %+v", b)
		}
	}

	confPath = instanceConf(t, in, m, "purge_binlog_days: 0\nbinlog_archive_interval: 100ms\nbackup_binlogs: auto\n"+keys) // the same file
	r = runCLI(t, "--conf-path", confPath, "backup")
	if r.code != 0 || !strings.Contains(r.stdout, "binlogs=bundled") {
		t.Fatalf("backup_binlogs auto, the archive behind: exit %d %q %s", r.code, r.stdout, lastLine(r.stderr))
	}
	man := manifestOf(t, in, m, testDate)
	if _, ok := man.Object(catalog.RoleBinlogs); !ok || man.BinlogArchive != nil || man.FormatVersion != catalog.BundledVersion {
		t.Errorf("auto with the archive behind: format_version %d, binlogs object %v, binlog_archive %+v; want the binlogs bundled in a version %d manifest",
			man.FormatVersion, ok, man.BinlogArchive, catalog.BundledVersion)
	}
}
