package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/replication"
)

// gtidAtLeast says whether the MariaDB GTID list have is at or past want
// in every domain want names.
func gtidAtLeast(have, want string) bool {
	behind, err := replication.Behind(replication.MariaDB, have, want)
	return err == nil && behind == 0
}

// backup --from-scratch under a concurrent writer: the latest backup is
// restored beside the instance, replicated up to the instance's position
// at the start, and backed up as the port's backup of the date, with the
// instance's my.cnf and server id. That backup restores (normal restore
// and catchup_binlog) to an instance equal to its peer.
func TestBackupFromScratchUnderWritesRestoresToAnInstanceEqualToItsPeer(t *testing.T) {
	a, b := pair(t)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, a, m, "purge_binlog_days: 0\n"+replicationConf("", "", sourceEntry(b.Port, 2))+v2Conf(t, a))
	if r := runCLI(t, "--conf-path", confPath, "backup", "--from-scratch"); r.code != 1 || !strings.Contains(lastLine(r.stderr), "take a first normal backup") {
		t.Errorf("--from-scratch without an earlier backup: exit %d, %q", r.code, lastLine(r.stderr))
	}
	a.Exec("INSERT INTO app.t VALUES (1, 'in the first backup')")
	if r := runCLI(t, "--conf-path", confPath, "--date-str", "2026_11_22", "backup"); r.code != 0 {
		t.Fatalf("the first, normal backup: exit %d: %s", r.code, lastLine(r.stderr))
	}
	a.Exec("INSERT INTO app.t VALUES (2, 'after the first backup')")
	w := startWriter(t, a)
	w.waitRows(t, 50)
	before := a.Query("SELECT @@gtid_binlog_pos")
	r := runCLI(t, "--conf-path", confPath, "backup", "--from-scratch")
	w.Stop()
	if r.code != 0 || !strings.Contains(r.stdout, "from_scratch=goal:") {
		t.Fatalf("backup --from-scratch: exit %d %q %s", r.code, r.stdout, lastLine(r.stderr))
	}
	t.Log(r.stdout)
	man := manifestOf(t, a, m, testDate)
	if !man.FromScratch || man.ServerID != 1 || !gtidAtLeast(man.GTID, before) {
		t.Errorf("manifest: from_scratch %v, server_id %d, snapshot gtid %q; want the instance's id 1 and a snapshot at or past %q",
			man.FromScratch, man.ServerID, man.GTID, before)
	}
	if cnf, _ := os.ReadFile(filepath.Join(a.DataDir, "my.cnf")); len(cnf) == 0 {
		t.Error("the instance has no my.cnf to compare with")
	}
	if left, _ := filepath.Glob(filepath.Join(a.BackupBase, "backup-scratch-*")); len(left) > 0 {
		t.Errorf("the scratch is left: %v", left)
	}

	a.Exec("INSERT INTO app.t VALUES (3, 'after the scratch backup')")
	testbed.WaitCaughtUp(t, b, a)
	wipe(t, a)
	if r := runCLI(t, "--conf-path", confPath, "restore"); r.code != 0 {
		t.Fatalf("restore of the scratch backup: exit %d: %s", r.code, lastLine(r.stderr))
	}
	if r := runCLI(t, "--conf-path", confPath, "catchup_binlog"); r.code != 0 {
		t.Fatalf("catchup_binlog: exit %d: %s", r.code, lastLine(r.stderr))
	}
	a.Start()
	for _, table := range []string{"app.t", "app.w"} {
		if ca, cb := a.Checksum(table), b.Checksum(table); ca != cb {
			t.Errorf("CHECKSUM TABLE %s: instance 1 %s, its peer %s", table, ca, cb)
		}
	}
	if id := a.Query("SELECT @@server_id"); id != "1" {
		t.Errorf("the restored instance runs with server_id %s, want 1", id)
	}
}

// The scratch copy follows the instance whole: replication filters of
// the instance's my.cnf (meant for its own channels) do not drop the
// instance's writes, and the copy writes nothing of its own
// (sql_test_insert runs on servers, not on copies).
func TestBackupFromScratchIgnoresTheInstancesFiltersAndWritesNothingOfItsOwn(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n"+sqlTestConf+replicationConf("", "")+v2Conf(t, in))
	own := filepath.Join(in.ConfBase, "my.cnf")
	data, err := os.ReadFile(own)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(own, append(data, []byte("\n[mysqld]\nreplicate_wild_ignore_table=app.local%\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.heartbeat (id INT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(32), v VARCHAR(64))",
		"CREATE TABLE app.local_t (id INT PRIMARY KEY)")
	if r := runCLI(t, "--conf-path", confPath, "--date-str", "2026_11_22", "backup"); r.code != 0 {
		t.Fatalf("the first backup: exit %d: %s", r.code, lastLine(r.stderr))
	}
	in.Exec("INSERT INTO app.local_t VALUES (1)")
	want := in.Query("SELECT @@gtid_binlog_pos")
	if r := runCLI(t, "--conf-path", confPath, "backup", "--from-scratch"); r.code != 0 {
		t.Fatalf("backup --from-scratch: exit %d: %s", r.code, lastLine(r.stderr))
	}
	man := manifestOf(t, in, m, testDate)
	if man.TestValue != "" || man.GTID != want {
		t.Errorf("the scratch backup: test value %q, snapshot gtid %q; want no value and exactly the instance's %q", man.TestValue, man.GTID, want)
	}
	wipe(t, in)
	if r := runCLI(t, "--conf-path", confPath, "restore"); r.code != 0 {
		t.Fatalf("restore: exit %d: %s", r.code, lastLine(r.stderr))
	}
	in.Start()
	if n := in.Query("SELECT COUNT(*) FROM app.local_t"); n != "1" {
		t.Errorf("app.local_t has %s rows; the instance's write was dropped by its own replication filter", n)
	}
	if got := in.Query("SELECT @@gtid_binlog_pos"); got != want {
		t.Errorf("the restored instance is at %s, the instance was at %s", got, want)
	}
}
