package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/restore"
)

// plantPlugin appends to the instance's my.cnf (the one the next backup
// takes) the audit plugin with its log on: any server started with it
// writes that log, which it returns.
func plantPlugin(t *testing.T, in *testbed.Instance) string {
	t.Helper()
	audit := filepath.Join(t.TempDir(), "planted-audit.log")
	f, err := os.OpenFile(in.MyCnf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("plugin-load-add=server_audit\nserver_audit_logging=ON\nserver_audit_output_type=file\nserver_audit_file_path=" + audit + "\n"); err != nil {
		t.Fatal(err)
	}
	return audit
}

// A backup's my.cnf is whatever the bucket holds. On a host without an own
// my.cnf, an unsigned backup whose my.cnf loads code is refused: the
// normal start would read it.
func TestRestoreWithoutAnOwnMyCnfRefusesAnUnsignedBackupsCodeLoadingMyCnf(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	noOwnMyCnf(t, in)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n")
	audit := plantPlugin(t, in)
	backupWithDelta(t, in, confPath, 10) // the running server read its my.cnf before the change
	wipe(t, in)
	_, err := runRestoreCmd(t, confPath)
	if err == nil || !strings.Contains(err.Error(), "sets plugin-load-add, which the normal start would load, and the backup is not signed") {
		t.Fatalf("restore: %v, want a refusal naming plugin-load-add", err)
	}
	if _, err := os.Stat(audit); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a server loaded the backup's plugin (its log exists: %v)", err)
	}
	if _, err := os.Stat(in.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused restore left a datadir: %v", err)
	}
}

// A signed backup is trusted with its my.cnf for the normal start, but the
// restore's temporary servers still take only its safe options.
func TestRestoreOfASignedBackupStartsNoTemporaryServerWithItsPlugins(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	noOwnMyCnf(t, in)
	m := testbed.StartMinIO(t)
	r := runCLI(t, "keygen", "--signing", "--output", filepath.Join(in.ConfBase, "sign.key"))
	if r.code != 0 {
		t.Fatalf("keygen --signing: exit %d %s", r.code, r.stderr)
	}
	signing := "backup_signing_key: sign.key\nbackup_verify_keys:\n  - " + strings.TrimSpace(r.stdout) + "\n"
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n"+v2Conf(t, in)+signing)
	audit := plantPlugin(t, in)
	backupWithDelta(t, in, confPath, 3000)
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

// The unpacked backup holds the data unencrypted: its dirs are for root
// only while a restore works on them, in both formats (and the v2
// restore's my.cnf too; the legacy one keeps its tar mode inside them).
func TestTheUnpackedBackupIsForRootOnly(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	for _, format := range []string{"", v2Conf(t, in)} {
		confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n"+format)
		backupWithDelta(t, in, confPath, 10)
		wipe(t, in)
		app, _ := newApp(t, confPath)
		check := func(context.Context) error {
			for _, p := range []string{app.Cfg.BackupDataDir, app.Cfg.BackupBinlogDir} {
				if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o700 {
					t.Errorf("%q: %s during the restore: %v %v", format, p, fi.Mode(), err)
				}
			}
			if fi, err := os.Stat(app.Cfg.BackupMyCnf); format != "" && (err != nil || fi.Mode().Perm()&0o077 != 0) {
				t.Errorf("%q: the unpacked my.cnf: %v %v", format, fi.Mode(), err)
			}
			return nil
		}
		if err := runRestore(t.Context(), app, restore.Options{BeforeReplay: check}); err != nil {
			t.Fatalf("%q: restore: %v", format, err)
		}
		in.Start()
		in.Exec("DROP DATABASE app")
	}
}
