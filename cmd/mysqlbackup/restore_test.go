package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/backup"
	"github.com/mysqlbackup/mysqlbackup/restore"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

// backupWithDelta fills app.t, then backs up with a hook that writes the
// delta rows (committed after the data copy, before the binlog copy).
func backupWithDelta(t *testing.T, in *testbed.Instance, confPath string, deltaRows int) {
	t.Helper()
	in.Exec("CREATE DATABASE IF NOT EXISTS app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64))",
		"INSERT INTO app.t SELECT seq, CONCAT('before-', seq) FROM app.seq_1_to_1000")
	app, _ := newApp(t, confPath)
	hook := func(context.Context) error {
		in.Exec(fmt.Sprintf("INSERT INTO app.t SELECT seq, 'delta' FROM app.seq_100001_to_%d", 100000+deltaRows))
		return nil
	}
	if err := runBackup(t.Context(), app, backup.Options{AfterData: hook}); err != nil {
		t.Fatalf("backup: %v", err)
	}
}

// wipe kills the instance and deletes its datadir, like a lost host.
func wipe(t *testing.T, in *testbed.Instance) {
	t.Helper()
	in.Kill()
	if err := os.RemoveAll(in.DataDir); err != nil {
		t.Fatal(err)
	}
}

func runRestoreCmd(t *testing.T, confPath string) (string, error) {
	t.Helper()
	app, out := newApp(t, confPath)
	err := (&RestoreCmd{}).Run(t.Context(), app)
	return out.String(), err
}

func TestRestoreBringsBackEveryRowIncludingTheBinlogDelta(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nclean_after_restore: true\n")
	backupWithDelta(t, in, confPath, 50)
	wantSum, wantGTID := in.Checksum("app.t"), in.Query("SELECT @@gtid_binlog_pos")
	wipe(t, in)

	out, err := runRestoreCmd(t, confPath)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	t.Log(out)
	if !strings.Contains(out, "restore ok:") || !strings.Contains(out, "replayed=") {
		t.Errorf("no result line: %q", out)
	}
	if alive, _ := adminConnOf(in).Alive(t.Context()); alive {
		t.Fatal("an instance answers on the socket after restore; it must be left stopped")
	}
	if left, _ := filepath.Glob(filepath.Join(in.BackupBase, "mysqld-tmp*")); len(left) > 0 {
		t.Errorf("temporary mysqld dirs left: %v", left)
	}
	in.Start()
	if n := in.Query("SELECT COUNT(*) FROM app.t WHERE v='delta'"); n != "50" {
		t.Errorf("delta rows after restore: %s, want 50", n)
	}
	if got := in.Checksum("app.t"); got != wantSum {
		t.Errorf("CHECKSUM TABLE app.t = %s after restore, %s at binlog-copy time", got, wantSum)
	}
	if got := in.Query("SELECT @@gtid_binlog_pos"); got != wantGTID {
		t.Errorf("gtid_binlog_pos = %q after restore, want %q: data and binlog disagree", got, wantGTID)
	}
	in.Exec("INSERT INTO app.t VALUES (999999, 'after restore')") // the instance takes writes
	for _, d := range []string{fmt.Sprintf("mysql-%d-backup", in.Port), fmt.Sprintf("mysql-%d-binlog", in.Port)} {
		if _, err := os.Stat(filepath.Join(in.BackupBase, d)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("clean_after_restore: %s left", d)
		}
	}
}

func TestRestoreRefusesWhatWouldLoseData(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n")
	backupWithDelta(t, in, confPath, 5)
	key := fmt.Sprintf("%s/%d/mysql-%d.tgz.des3", testDate, in.Port, in.Port)
	good := getObject(t, m, key)

	t.Run("LiveInstance", func(t *testing.T) {
		r := runCLI(t, "--conf-path", confPath, "restore")
		if r.code != 1 || !strings.Contains(lastLine(r.stderr), "stop it before restoring") {
			t.Errorf("exit %d, last line %q", r.code, lastLine(r.stderr))
		}
		if !in.Running() {
			t.Error("the live instance stopped")
		}
	})
	in.Stop()
	t.Run("NonEmptyDataDir", func(t *testing.T) {
		r := runCLI(t, "--conf-path", confPath, "restore")
		if r.code != 1 || !strings.Contains(lastLine(r.stderr), "is not empty") {
			t.Errorf("exit %d, last line %q", r.code, lastLine(r.stderr))
		}
		if _, err := os.Stat(filepath.Join(in.DataDir, "ibdata1")); err != nil {
			t.Errorf("datadir touched: %v", err)
		}
	})
	if err := os.RemoveAll(in.DataDir); err != nil {
		t.Fatal(err)
	}
	t.Run("MissingDateNamesTheDatesThatExist", func(t *testing.T) {
		r := runCLI(t, "--conf-path", confPath, "--date-str", "2001_01_01", "restore")
		if r.code != 1 || !strings.Contains(lastLine(r.stderr), "dates with a backup of port") || !strings.Contains(lastLine(r.stderr), testDate) {
			t.Errorf("exit %d, last line %q", r.code, lastLine(r.stderr))
		}
	})
	put := func(t *testing.T, body []byte) {
		t.Helper()
		if err := m.Store().Put(t.Context(), key, strings.NewReader(string(body)), map[string]string{"sha1": sha1Hex(t, strings.NewReader(string(body)))}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		body func() []byte
		want string
	}{
		{"CorruptedObjectWithMatchingSha1", func() []byte {
			b := append([]byte{}, good...)
			b[len(b)/2] ^= 0x40
			return b
		}, ""},
		{"TruncatedObject", func() []byte { return good[:len(good)*2/3] }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			put(t, c.body())
			r := runCLI(t, "--conf-path", confPath, "restore")
			if r.code != 1 || !strings.Contains(lastLine(r.stderr), "restore: error: download:") {
				t.Errorf("exit %d, last line %q", r.code, lastLine(r.stderr))
			}
			assertNoDataDir(t, in)
		})
	}
	put(t, good)
	t.Run("WrongPassword", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(in.ConfBase, "des3_password"), []byte("not the password\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, "--conf-path", confPath, "restore")
		if r.code != 1 || !strings.Contains(lastLine(r.stderr), "wrong des3 password or not an encrypted archive") {
			t.Errorf("exit %d, last line %q", r.code, lastLine(r.stderr))
		}
		assertNoDataDir(t, in)
	})
}

func assertNoDataDir(t *testing.T, in *testbed.Instance) {
	t.Helper()
	for _, d := range []string{in.DataDir, in.DataDir + restore.StagingSuffix} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after a failed restore: %v", d, err)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
