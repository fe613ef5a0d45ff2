package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

// A backup's my.cnf is whatever the bucket holds. Here it loads the audit
// plugin with its log on: any server started with it writes that log. The
// restore's temporary servers must not load it, on a host without an own
// my.cnf in conf_base too; the normal start (the operator's) then reads
// the datadir's my.cnf as it is.
func TestRestoreWithoutAnOwnMyCnfStartsNoServerWithPluginsFromTheBackupsMyCnf(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	noOwnMyCnf(t, in)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n")
	audit := filepath.Join(t.TempDir(), "planted-audit.log")
	planted := "plugin-load-add=server_audit\nserver_audit_logging=ON\nserver_audit_output_type=file\nserver_audit_file_path=" + audit + "\n"
	f, err := os.OpenFile(in.MyCnf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(planted); err != nil {
		t.Fatal(err)
	}
	f.Close()
	backupWithDelta(t, in, confPath, 3000) // the running server read its my.cnf before the change
	wantSum := in.Checksum("app.t")
	wipe(t, in)

	if _, err := runRestoreCmd(t, confPath); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if _, err := os.Stat(audit); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a temporary server loaded the backup's plugin (its log exists: %v)", err)
	}
	cnf, err := os.ReadFile(in.MyCnf)
	if err != nil || !strings.Contains(string(cnf), "plugin-load-add=server_audit") {
		t.Fatalf("the datadir's my.cnf is not the backup's as it was: %v", err)
	}
	if kept, err := os.ReadFile(in.MyCnf + instance.FromBackupSuffix); err != nil || string(kept) != string(cnf) {
		t.Fatalf("no identical %s marks the my.cnf as the backup's: %v", instance.FromBackupSuffix, err)
	}
	in.Start() // the operator's normal start
	if got := in.Checksum("app.t"); got != wantSum {
		t.Errorf("CHECKSUM TABLE app.t = %s, want %s", got, wantSum)
	}
}

func TestRestoreRefusesABackupsMyCnfThatPutsDataOutsideTheDatadir(t *testing.T) {
	in := testbed.StartMariaDBWith(t, testbed.Options{ID: 1, ExtraCnf: "innodb_tmpdir=/var/tmp/elsewhere\n"})
	noOwnMyCnf(t, in)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n")
	backupWithDelta(t, in, confPath, 10)
	wipe(t, in)
	_, err := runRestoreCmd(t, confPath)
	if err == nil || !strings.Contains(err.Error(), "innodb-tmpdir=/var/tmp/elsewhere, outside the datadir") || !strings.Contains(err.Error(), "own my.cnf") {
		t.Fatalf("restore with a backup's my.cnf pointing outside the datadir: %v, want a refusal naming the option", err)
	}
	if _, err := os.Stat(in.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused restore left a datadir: %v", err)
	}
}

// noOwnMyCnf removes the instance's own my.cnf from its conf_base: the
// host has only what a backup brings.
func noOwnMyCnf(t *testing.T, in *testbed.Instance) {
	t.Helper()
	if err := os.Remove(filepath.Join(in.ConfBase, "my.cnf")); err != nil {
		t.Fatal(err)
	}
}
