package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

// legacyRecipe is the legacy tool's backup, step for step, with stock
// tools only (legacy-tool.md §3), ending in an upload by curl with the
// x-amz-meta-sha1 header: nothing of this project's code makes it.
const legacyRecipe = `set -euo pipefail
mariabackup --defaults-file="$MYCNF" --user=root --password="$PW" --slave-info --backup --target-dir="$B/mysql-$P-backup"
mariabackup --prepare --target-dir="$B/mysql-$P-backup"
cp "$MYCNF" "$B/mysql-$P-backup/"
mkdir "$B/mysql-$P-binlog"
names=$(mariadb --socket="$S" -uroot -p"$PW" -N -e 'SHOW BINARY LOGS' | cut -f1)
mariadb-binlog --socket="$S" --user=root --password="$PW" --raw --read-from-remote-server --result-file="$B/mysql-$P-binlog/" $names
for n in $names; do echo "./$n"; done > "$B/mysql-$P-binlog/mysql-bin.index"
tar -c -C "$B" "mysql-$P-backup" "mysql-$P-binlog" | gzip - --fast | openssl des3 -md md5 -pass "file:$PWFILE" > "$B/archive"
sum=$(sha1sum "$B/archive" | cut -d' ' -f1)
curl -sf -X PUT -T "$B/archive" -H "x-amz-meta-sha1: $sum" --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" "$URL"
`

func TestRestoreReadsAnArchiveMadeByTheLegacyRecipe(t *testing.T) {
	testbed.Need(t, "mariabackup", "mariadb-binlog", "mariadb", "openssl", "gzip", "tar", "curl", "sha1sum")
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "")
	in.Exec("CREATE DATABASE legacy", "CREATE TABLE legacy.t (id INT PRIMARY KEY, v TEXT)",
		"INSERT INTO legacy.t SELECT seq, REPEAT('x', seq % 100) FROM legacy.seq_1_to_5000")
	wantSum := in.Checksum("legacy.t")

	work := t.TempDir()
	cmd := exec.Command("bash", "-c", legacyRecipe)
	cmd.Env = append(os.Environ(),
		"MYCNF="+in.MyCnf, "PW="+in.RootPassword, "S="+in.Socket, "B="+work, fmt.Sprintf("P=%d", in.Port),
		"PWFILE="+filepath.Join(in.ConfBase, "des3_password"), "AK="+m.AccessKey, "SK="+m.SecretKey,
		fmt.Sprintf("URL=%s/%s/%s/%d/mysql-%d.tgz.des3", m.Endpoint, m.Bucket, testDate, in.Port, in.Port))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("legacy recipe: %v\n%s", err, lastLines(out))
	}
	wipe(t, in)
	if r := runCLI(t, "--conf-path", confPath, "restore"); r.code != 0 {
		t.Fatalf("restore of the legacy archive: exit %d: %s", r.code, lastLine(r.stderr))
	}
	in.Start()
	if got := in.Checksum("legacy.t"); got != wantSum {
		t.Errorf("CHECKSUM TABLE legacy.t = %s after restore, want %s", got, wantSum)
	}
}

func TestRestoreKilledDuringReplayIsRedoneByTheNextNoDataDirRun(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n")
	backupWithDelta(t, in, confPath, 300000) // a delta that takes a while to replay
	wantSum := in.Checksum("app.t")
	wipe(t, in)

	pidFile := tempPidFiles(in)
	cmd := cliCommand(t, "--conf-path", confPath, "restore")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tempPid := waitForPidFile(t, pidFile, exited)
	cmd.Process.Kill()
	<-exited

	waitGone(t, tempPid)
	if _, err := os.Stat(in.DataDir); err == nil {
		t.Fatalf("a datadir exists after the restore was killed mid-replay: %s", in.DataDir)
	}
	if r := runCLI(t, "--conf-path", confPath, "--when", "no-data-dir", "restore"); r.code != 0 {
		t.Fatalf("second restore: exit %d: %s", r.code, lastLine(r.stderr))
	}
	in.Start()
	if got := in.Checksum("app.t"); got != wantSum {
		t.Errorf("CHECKSUM TABLE app.t = %s after the redone restore, want %s", got, wantSum)
	}
}

// tempPidFiles matches the pid file of a temporary mysqld of in's port.
func tempPidFiles(in *testbed.Instance) string {
	return filepath.Join(in.BackupBase, fmt.Sprintf("mysqld-tmp-%d-*", in.Port), "*.pid")
}

// waitForPidFile returns the pid a temporary mysqld wrote into a file
// matching pattern, failing if the restore ends first. Bounded by two
// minutes.
func waitForPidFile(t *testing.T, pattern string, exited chan error) int {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("restore ended (%v) before its temporary mysqld was seen", err)
		default:
		}
		matches, _ := filepath.Glob(pattern)
		for _, path := range matches {
			data, err := os.ReadFile(path)
			if err != nil {
				continue
			}
			var pid int
			if _, err := fmt.Sscan(strings.TrimSpace(string(data)), &pid); err == nil && pid > 0 {
				return pid
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no temporary mysqld within two minutes")
	return 0
}

// waitGone fails the test unless process pid is gone within 30 s.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for range 600 {
		if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL) // do not leave it behind either way
	t.Errorf("temporary mysqld %d still running 30 s after mysqlbackup was killed", pid)
}
