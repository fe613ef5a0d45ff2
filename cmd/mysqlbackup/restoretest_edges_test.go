package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

// A --scratch-dir that exists and is not a scratch of ours (an operator's
// directory, conf_base) is refused and left as it was.
func TestRestoreTestRefusesAScratchDirItDidNotMake(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n"+v2Conf(t, in))
	backupWithDelta(t, in, confPath, 5)
	for _, dir := range []string{t.TempDir(), in.ConfBase} {
		keep := filepath.Join(dir, "operator-file")
		if err := os.WriteFile(keep, []byte("mine"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, "--conf-path", confPath, "restore-test", "--scratch-dir", dir)
		if r.code == 0 || !strings.Contains(lastLine(r.stderr), "is not a scratch of mysqlbackup") {
			t.Errorf("--scratch-dir %s: exit %d, %q", dir, r.code, lastLine(r.stderr))
		}
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("--scratch-dir %s: the operator's file is gone: %v", dir, err)
		}
	}
}

// The production shapes restore-test must get right: mariadbd running as
// the mysql user (own my.cnf user=mysql), no own my.cnf in conf_base,
// tables whose engine has no CHECK TABLE (MEMORY, whose first open
// binlogs a DELETE), a schema with a dot in its name, a system-versioned
// table and a sequence.
func TestRestoreTestPassesProductionShapes(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	for _, d := range []string{in.Dir, in.BackupBase} { // as on a host whose server runs as mysql
		os.Chmod(d, 0o755)
	}
	os.Chmod(filepath.Join(in.Dir, "tmp"), 0o1777)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nmysql_user: mysql\nmysql_user_group: mysql\n"+v2Conf(t, in))
	in.Exec("CREATE DATABASE `dot.db`", "CREATE TABLE `dot.db`.t (id INT PRIMARY KEY)", "INSERT INTO `dot.db`.t VALUES (1)",
		"CREATE DATABASE app", "CREATE TABLE app.mem (id INT) ENGINE=MEMORY", "INSERT INTO app.mem VALUES (1)",
		"CREATE TABLE app.hist (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING", "INSERT INTO app.hist VALUES (1, 1)",
		"CREATE SEQUENCE app.seq")
	backupWithDelta(t, in, confPath, 5)
	own := filepath.Join(in.ConfBase, "my.cnf")
	data, err := os.ReadFile(own)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(own, []byte(strings.Replace(string(data), "user=root", "user=mysql", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	res, r := restoreTestJSON(t, "--conf-path", confPath)
	if r.code != 0 || !res.OK {
		t.Fatalf("mariadbd as mysql: exit %d %+v %s", r.code, res.Checks, lastLine(r.stderr))
	}
	if c := checkOf(res, "check-table"); !strings.Contains(c.Detail, "5 tables") || !strings.Contains(c.Detail, "app.mem") {
		t.Errorf("check-table: %+v, want 5 tables, app.mem's engine without a check", c)
	}
	if c := checkOf(res, "gtid"); c.Status != "ok" {
		t.Errorf("gtid with a MEMORY table: %+v", c)
	}

	if err := os.Remove(own); err != nil {
		t.Fatal(err)
	}
	res, r = restoreTestJSON(t, "--conf-path", confPath)
	if r.code != 0 || !res.OK {
		t.Fatalf("no own my.cnf: exit %d %+v %s", r.code, res.Checks, lastLine(r.stderr))
	}
}

// A server whose binlogs are encrypted: the backup stands, without the
// GTID position at its end (restore-test skips that check); a read-only
// server gets no sql_test_insert row (restore-test skips that one too).
func TestBackupOfAnEncryptedBinlogOrAReadOnlyServerSkipsWhatItCannotRecord(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(keys, []byte("1;a7addd9adea9978fda19f21e6be987880e68ac92632ca052e5bb42b1a506939a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := testbed.StartMariaDBWith(t, testbed.Options{ID: 1, ExtraCnf: "plugin_load_add=file_key_management\nfile_key_management_filename=" + keys + "\nencrypt_binlog=ON\n"})
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n"+sqlTestConf+v2Conf(t, in))
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.heartbeat (id INT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(32), v VARCHAR(64))",
		"SET GLOBAL read_only = ON")
	backupWithDelta(t, in, confPath, 5)
	man := manifestOf(t, in, m, testDate)
	if man.BinlogEndGTID != "" || man.TestValue != "" {
		t.Errorf("recorded end gtid %q, test value %q; want neither (binlog encrypted, server read-only)", man.BinlogEndGTID, man.TestValue)
	}
	if n := in.Query("SELECT COUNT(*) FROM app.heartbeat"); n != "0" {
		t.Errorf("sql_test_insert wrote %s row(s) on a read-only server", n)
	}
}
