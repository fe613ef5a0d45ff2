package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/restoretest"
)

// sqlTestConf is the legacy data-completeness pair on a heartbeat table.
const sqlTestConf = "sql_test_insert: \"insert into app.heartbeat (k, v) values ('test-backup', '{v}')\"\n" +
	"sql_test_get_2: \"select v from app.heartbeat order by id desc limit 2\"\n"

// restoreTestJSON runs restore-test --json.
func restoreTestJSON(t *testing.T, args ...string) (restoretest.Result, result) {
	t.Helper()
	r := runCLI(t, append(args, "restore-test", "--json")...)
	var res restoretest.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("restore-test --json: %v: %q %s", err, r.stdout, lastLine(r.stderr))
	}
	return res, r
}

// checkOf is the check of that name in res.
func checkOf(res restoretest.Result, name string) restoretest.Check {
	for _, c := range res.Checks {
		if c.Name == name {
			return c
		}
	}
	return restoretest.Check{Name: name, Status: "absent"}
}

// A good backup passes every check while the instance keeps serving
// writes on the same host: the copy has its own datadir, socket, pid
// file, port and lock, and the scratch is gone after success.
func TestRestoreTestPassesAGoodBackupWhileTheInstanceServesWrites(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	metrics := filepath.Join(t.TempDir(), "mysqlbackup.prom")
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nmetrics_file: "+metrics+"\n"+sqlTestConf+v2Conf(t, in))
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.heartbeat (id INT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(32), v VARCHAR(64))",
		"CREATE TABLE app.w (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(32))")
	backupWithDelta(t, in, confPath, 20)
	realPid, _ := os.ReadFile(in.PidFile)

	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var writes int
	wg.Go(func() {
		db := in.DB()
		defer db.Close()
		for ctx.Err() == nil {
			if _, err := db.ExecContext(ctx, "INSERT INTO app.w (v) VALUES ('serving')"); err == nil {
				writes++
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	res, r := restoreTestJSON(t, "--conf-path", confPath)
	stop()
	wg.Wait()
	if r.code != 0 || !res.OK {
		t.Fatalf("restore-test: exit %d %+v %s", r.code, res.Checks, lastLine(r.stderr))
	}
	for _, name := range []string{"restore", "start", "check-table", "tables", "gtid", "sql-test"} {
		if c := checkOf(res, name); c.Status != "ok" {
			t.Errorf("check %s: %s %s", name, c.Status, c.Detail)
		}
	}
	if writes == 0 || !in.Running() {
		t.Errorf("the instance did not serve during the test (%d writes, running %v)", writes, in.Running())
	}
	if pid, _ := os.ReadFile(in.PidFile); string(pid) != string(realPid) {
		t.Errorf("the instance's pid file changed: %q → %q", realPid, pid)
	}
	if _, err := os.Stat(res.Scratch); !os.IsNotExist(err) || res.Kept {
		t.Errorf("the scratch %s is left after success: %v", res.Scratch, err)
	}
	if data, _ := os.ReadFile(metrics); !strings.Contains(string(data), "mysqlbackup_restore_test_ok{port=") || !strings.Contains(string(data), "mysqlbackup_restore_test_last_success_timestamp_seconds") {
		t.Errorf("metrics:\n%s", data)
	}
	text := runCLI(t, "--conf-path", confPath, "restore-test")
	if text.code != 0 || !strings.HasPrefix(text.stdout, "restore-test ok: port=") || !strings.Contains(text.stdout, "gtid=ok") {
		t.Errorf("the result line: exit %d %q", text.code, text.stdout)
	}
}
