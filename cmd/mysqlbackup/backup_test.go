package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/backup"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/internal/lock"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

func TestBackupUnderWriteLoadOpensWithStockToolsAndRestoresWithCopyBack(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "")
	w := startWriter(t, in)
	w.waitRows(t, 200) // some rows before the backup begins
	before := w.n.Load()

	app, out := newApp(t, confPath)
	if err := (&BackupCmd{}).Run(t.Context(), app); err != nil {
		t.Fatalf("backup: %v", err)
	}
	written := w.Stop()
	t.Logf("rows before backup %d, by the end %d; %s", before, written, out.String())

	key := fmt.Sprintf("%s/%d/mysql-%d.tgz.des3", testDate, in.Port, in.Port)
	info, err := m.Store().Head(t.Context(), key)
	if err != nil {
		t.Fatalf("no object at %s: %v", key, err)
	}
	obj := getObject(t, m, key)
	if got := sha1Hex(t, bytes.NewReader(obj)); info.Metadata["sha1"] != got || int64(len(obj)) != info.Size {
		t.Errorf("sha1 metadata %q, sha1 of the object %s", info.Metadata["sha1"], got)
	}
	if !strings.Contains(out.String(), "sha1="+info.Metadata["sha1"]) {
		t.Errorf("summary line does not report the sha1: %q", out.String())
	}
	if objs, err := m.Store().List(t.Context(), key+catalog.PartialSuffix); err != nil || len(objs) != 0 {
		t.Errorf("temporary objects left: %v %v", objs, err)
	}

	x := t.TempDir()
	extractWithStockTools(t, bytes.NewReader(obj), filepath.Join(in.ConfBase, "des3_password"), "md5", x)
	backupDir := filepath.Join(x, fmt.Sprintf("mysql-%d-backup", in.Port))
	binlogDir := filepath.Join(x, fmt.Sprintf("mysql-%d-binlog", in.Port))
	checkArchiveLayout(t, in, backupDir, binlogDir)
	checkBinlogsMatchServer(t, in, binlogDir)

	// Restore with stock mariabackup into the emptied datadir, start, count.
	in.Stop()
	if err := os.RemoveAll(in.DataDir); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testbed.Need(t, "mariabackup")[0], "--copy-back", "--target-dir="+backupDir, "--datadir="+in.DataDir)
	if outb, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mariabackup --copy-back: %v: %s", err, lastLines(outb))
	}
	in.Start()
	got, _ := strconv.ParseInt(in.Query("SELECT COUNT(*) FROM app.w"), 10, 64)
	if got < before || got > written {
		t.Errorf("restored %d rows, want between %d (committed before the backup) and %d", got, before, written)
	}
	if max := in.Query("SELECT MAX(id) FROM app.w"); max != strconv.FormatInt(got, 10) {
		t.Errorf("restored ids have gaps: max %s, count %d", max, got)
	}
}

func checkArchiveLayout(t *testing.T, in *testbed.Instance, backupDir, binlogDir string) {
	t.Helper()
	for _, f := range []string{"my.cnf", "xtrabackup_binlog_info", "xtrabackup_checkpoints", "ibdata1", "app/w.ibd"} {
		if _, err := os.Stat(filepath.Join(backupDir, f)); err != nil {
			t.Errorf("archive lacks %s: %v", f, err)
		}
	}
	cnf, _ := os.ReadFile(filepath.Join(backupDir, "my.cnf"))
	if want, _ := os.ReadFile(in.MyCnf); !bytes.Equal(cnf, want) {
		t.Error("archived my.cnf differs from the instance's")
	}
	filepath.WalkDir(filepath.Dir(backupDir), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "auto.cnf" {
			t.Errorf("archive holds auto.cnf at %s", p)
		}
		return nil
	})
	index, err := os.ReadFile(filepath.Join(binlogDir, "mysql-bin.index"))
	if err != nil || !strings.HasPrefix(string(index), "./mysql-bin.000001\n") {
		t.Errorf("mysql-bin.index = %q, %v; want ./mysql-bin.NNNNNN lines", index, err)
	}
}

// checkBinlogsMatchServer compares every archived binlog with the server's
// file up to the archived length, and checks the index lists them all.
func checkBinlogsMatchServer(t *testing.T, in *testbed.Instance, binlogDir string) {
	t.Helper()
	index, _ := os.ReadFile(filepath.Join(binlogDir, "mysql-bin.index"))
	names := strings.Fields(strings.ReplaceAll(string(index), "./", ""))
	if len(names) == 0 {
		t.Fatal("no binlogs in the archive")
	}
	for _, name := range names {
		got, err := os.ReadFile(filepath.Join(binlogDir, name))
		if err != nil {
			t.Fatalf("binlog %s listed in the index but not archived: %v", name, err)
		}
		server, err := os.ReadFile(filepath.Join(in.DataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || len(got) > len(server) || !bytes.Equal(got, server[:len(got)]) {
			t.Errorf("binlog %s: archived %d bytes are not the first bytes of the server's %d", name, len(got), len(server))
		}
	}
}

func TestBackupWithoutS3KeepsAVerifiableLocalArchive(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	in.Exec("CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY)", "INSERT INTO d.t VALUES (1),(2),(3)")
	confPath := instanceConf(t, in, nil, "des3_digest: sha256\npurge_binlog_days: 0\n")
	app, _ := newApp(t, confPath)
	if err := (&BackupCmd{}).Run(t.Context(), app); err != nil {
		t.Fatalf("backup: %v", err)
	}
	archivePath := app.Cfg.BackupTgzDes3
	sum, err := os.ReadFile(archivePath + ".sha1")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(archivePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if want := sha1Hex(t, f) + "  " + filepath.Base(archivePath) + "\n"; string(sum) != want {
		t.Errorf(".sha1 = %q, want %q (sha1sum format)", sum, want)
	}
	if err := exec.Command("sh", "-c", "cd \"$0\" && sha1sum -c --quiet \"$1\"", filepath.Dir(archivePath), filepath.Base(archivePath)+".sha1").Run(); err != nil {
		t.Errorf("sha1sum -c rejects the .sha1 file: %v", err)
	}
	f.Seek(0, 0)
	x := t.TempDir()
	extractWithStockTools(t, f, filepath.Join(in.ConfBase, "des3_password"), "sha256", x)
	if _, err := os.Stat(filepath.Join(x, fmt.Sprintf("mysql-%d-backup", in.Port), "d", "t.ibd")); err != nil {
		t.Errorf("table missing from the archive: %v", err)
	}
	for _, dir := range []string{app.Cfg.BackupDataDir, app.Cfg.BackupBinlogDir} {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("staging dir %s left behind: %v", dir, err)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(in.BackupBase, ".*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left in backup_base: %v", leftovers)
	}
	if r := runCLI(t, "--conf-path", confPath, "verify"); r.code != 0 || !strings.HasPrefix(r.stdout, "verify ok: "+archivePath) {
		t.Errorf("verify of the local archive: exit %d %q %s", r.code, r.stdout, lastLine(r.stderr))
	}
	if r := runCLI(t, "--conf-path", confPath, "list"); r.code != 0 || !strings.Contains(r.stdout, "sha1:") || !strings.Contains(r.stdout, "local") {
		t.Errorf("list of the local archive: exit %d:\n%s", r.code, r.stdout)
	}
}

func TestSecondBackupOfTheSamePortFailsAtOnce(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	app, _ := newApp(t, instanceConf(t, in, nil, ""))
	lk, err := lock.Acquire(filepath.Join(in.BackupBase, fmt.Sprintf("mysql-%d.lock", in.Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Release()
	err = (&BackupCmd{}).Run(t.Context(), app)
	if !errors.Is(err, lock.ErrBusy) {
		t.Errorf("got %v, want the lock to refuse the second run", err)
	}
}

func TestBackupWithMissingPasswordFileFailsBeforeTouchingAnything(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	app, _ := newApp(t, instanceConf(t, in, nil, ""))
	os.Remove(filepath.Join(in.ConfBase, "des3_password"))
	err := (&BackupCmd{}).Run(t.Context(), app)
	if err == nil || !strings.HasPrefix(err.Error(), "check: des3 password") {
		t.Errorf("got %v, want a check-phase error about the des3 password", err)
	}
	if _, err := os.Stat(app.Cfg.BackupTgzDes3); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("archive exists after a failed backup: %v", err)
	}
	in.Stop() // the password is named before the server is asked anything
	if err := (&BackupCmd{}).Run(t.Context(), app); err == nil || !strings.HasPrefix(err.Error(), "check: des3 password") {
		t.Errorf("with the server down too: %v, want the des3 password named first", err)
	}
}

func lastLines(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}

func TestBackupMetricsKeepTheLastSuccessAcrossAFailure(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	metrics := filepath.Join(t.TempDir(), "mysqlbackup.prom")
	confPath := instanceConf(t, in, nil, "purge_binlog_days: 0\nmetrics_file: "+metrics+"\n")
	app, _ := newApp(t, confPath)
	if err := (&BackupCmd{}).Run(t.Context(), app); err != nil {
		t.Fatal(err)
	}
	series := func() map[string]string {
		data, _ := os.ReadFile(metrics)
		out := map[string]string{}
		for _, l := range strings.Split(string(data), "\n") {
			if i := strings.LastIndexByte(l, ' '); i > 0 && !strings.HasPrefix(l, "#") {
				out[l[:i]] = l[i+1:]
			}
		}
		return out
	}
	lbl := fmt.Sprintf(`{port="%d",command="backup"}`, in.Port)
	first := series()
	if first["mysqlbackup_last_run_success"+lbl] != "1" || first["mysqlbackup_last_success_timestamp_seconds"+lbl] == "" ||
		first[fmt.Sprintf(`mysqlbackup_last_run_phase_seconds{port="%d",command="backup",phase="data"}`, in.Port)] == "" {
		t.Fatalf("after a success: %v", first)
	}
	if size, _ := strconv.ParseFloat(first["mysqlbackup_last_success_archive_bytes"+lbl], 64); size <= 0 {
		t.Errorf("archive size %v", size)
	}
	os.Remove(filepath.Join(in.ConfBase, "des3_password")) // the next run fails
	if err := (&BackupCmd{}).Run(t.Context(), app); err == nil {
		t.Fatal("backup without a password file succeeded")
	}
	second := series()
	if second["mysqlbackup_last_run_success"+lbl] != "0" {
		t.Errorf("last_run_success after a failure = %q, want 0", second["mysqlbackup_last_run_success"+lbl])
	}
	if second["mysqlbackup_last_success_timestamp_seconds"+lbl] != first["mysqlbackup_last_success_timestamp_seconds"+lbl] {
		t.Error("a failed run changed the last success time")
	}
}

// A purge between the data and the binlog listing (another tool, or
// expire_logs_days) removes the snapshot's binlog: such a backup could
// never be restored, so it must not be published, in either format.
func TestBackupWhoseSnapshotBinlogWasPurgedFailsAndPublishesNothing(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1)")
	for _, format := range []string{"", v2Conf(t, in)} {
		confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n"+format)
		app, _ := newApp(t, confPath)
		purgeAll := func(context.Context) error {
			in.Exec("FLUSH BINARY LOGS", "INSERT INTO app.t SELECT MAX(id)+1 FROM app.t", "FLUSH BINARY LOGS")
			in.Exec("PURGE BINARY LOGS BEFORE NOW() + INTERVAL 1 DAY")
			return nil
		}
		err := runBackup(t.Context(), app, backup.Options{AfterData: purgeAll})
		if err == nil || !strings.Contains(err.Error(), "do not hold the backup's snapshot file") {
			t.Fatalf("backup %q with its snapshot binlog purged: %v, want a refusal naming it", format, err)
		}
		if bs := listBackups(t, confPath); len(bs) != 0 {
			t.Errorf("the failed backup left:\n%s", describe(bs))
		}
	}
}
