package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/restore"
)

// dryRunJSON runs restore --dry-run --json.
func dryRunJSON(t *testing.T, args ...string) (restore.DryRunReport, result) {
	t.Helper()
	r := runCLI(t, append(args, "restore", "--dry-run", "--json")...)
	var rep restore.DryRunReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("restore --dry-run --json: %v: %q %s", err, r.stdout, lastLine(r.stderr))
	}
	return rep, r
}

// untouched fails the test when a dry run left anything: the datadir is
// still absent and backup_base holds no staging dir.
func untouched(t *testing.T, in *testbed.Instance, what string) {
	t.Helper()
	if _, err := os.Stat(in.DataDir); !os.IsNotExist(err) {
		t.Errorf("%s: the datadir exists: %v", what, err)
	}
	left, _ := filepath.Glob(filepath.Join(in.BackupBase, "mysql-*-b*")) // the unpacked backup and binlogs, the archive's work
	if staged, _ := filepath.Glob(in.DataDir + "*"); len(staged) > 0 {
		left = append(left, staged...)
	}
	if len(left) > 0 {
		t.Errorf("%s: left under backup_base: %v", what, left)
	}
}

// restore --dry-run says, touching nothing, whether the restore would
// proceed: a clean plan exits 0; each refusal the real restore gives
// (the instance answering, a datadir with data, no backup of the date, a
// server of another line) exits 1 naming it, and the real restore refuses
// the same.
func TestRestoreDryRunPlansAndNamesEveryRefusalOfTheRealRun(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	keys := v2Conf(t, in)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n"+keys)
	backupWithDelta(t, in, confPath, 10)

	rep, r := dryRunJSON(t, "--conf-path", confPath)
	if r.code != 1 || len(rep.Refusals) != 2 || !strings.Contains(rep.Refusals[0], "the instance answers on") || !strings.Contains(rep.Refusals[1], "is not empty") {
		t.Errorf("the instance serving: exit %d, refusals %q", r.code, rep.Refusals)
	}
	if !strings.Contains(lastLine(r.stderr), "the restore would be refused (2 refusal(s)): the instance answers") {
		t.Errorf("the error line: %q", lastLine(r.stderr))
	}
	wipe(t, in)

	rep, r = dryRunJSON(t, "--conf-path", confPath)
	if r.code != 0 || len(rep.Refusals) != 0 {
		t.Fatalf("a wiped instance: exit %d, refusals %q: %s", r.code, rep.Refusals, lastLine(r.stderr))
	}
	if rep.Format != "v2" || rep.Snapshot == "" || len(rep.Objects) != 3 || rep.Binlogs != "bundled" || rep.Installed.ServerVersion == "" ||
		rep.Installed.EngineVersion == "" || len(rep.Disk) == 0 || rep.Disk[0].Need <= 0 || rep.MyCnf == nil {
		t.Errorf("the plan lacks a part: %+v", rep)
	}
	untouched(t, in, "a clean dry run")
	text := runCLI(t, "--conf-path", confPath, "restore", "--dry-run")
	if text.code != 0 || !strings.Contains(text.stdout, "verdict:   the restore would proceed") || !strings.Contains(text.stdout, "versions:  backup of 10.") {
		t.Errorf("the text plan: exit %d\n%s", text.code, text.stdout)
	}
	t.Log(text.stdout)

	rep, r = dryRunJSON(t, "--conf-path", confPath, "--date-str", "2020_01_01")
	if r.code != 1 || len(rep.Refusals) != 1 || !strings.Contains(rep.Refusals[0], "2020_01_01") {
		t.Errorf("a date without a backup: exit %d, refusals %q", r.code, rep.Refusals)
	}

	// A server of another major line installed (mysql_base/bin first).
	base := t.TempDir()
	os.MkdirAll(filepath.Join(base, "bin"), 0o755)
	fake := "#!/bin/sh\necho 'mariadbd  Ver 11.4.2-MariaDB for debian-linux-gnu on x86_64'\n"
	if err := os.WriteFile(filepath.Join(base, "bin", "mariadbd"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	other := instanceConf(t, in, m, "purge_binlog_days: 0\nmysql_base: "+base+"\n"+keys)
	rep, r = dryRunJSON(t, "--conf-path", other)
	if r.code != 1 || len(rep.Refusals) != 1 || !strings.Contains(rep.Refusals[0], "same major line (10.11) only") {
		t.Errorf("an 11.4 server installed: exit %d, refusals %q", r.code, rep.Refusals)
	}
	if real := runCLI(t, "--conf-path", other, "restore"); real.code == 0 || !strings.Contains(lastLine(real.stderr), "same major line (10.11) only") {
		t.Errorf("the real restore with an 11.4 server: exit %d, %q", real.code, lastLine(real.stderr))
	}
	untouched(t, in, "the refused restore")
}
