package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/backup"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/restore"
)

// backupWithDeltaTransactions fills app.t, then backs up with a hook that
// commits n one-row transactions after the data copy: a delta whose
// mariadb-binlog output is far larger than the pipes between the tools.
func backupWithDeltaTransactions(t *testing.T, in *testbed.Instance, confPath string, n int) {
	t.Helper()
	in.Exec("CREATE DATABASE IF NOT EXISTS app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64))",
		"INSERT INTO app.t SELECT seq, CONCAT('before-', seq) FROM app.seq_1_to_1000")
	app, _ := newApp(t, confPath)
	hook := func(ctx context.Context) error {
		db := in.DB()
		for i := range n {
			if _, err := db.ExecContext(ctx, "INSERT INTO app.t VALUES (?, 'delta')", 100001+i); err != nil {
				return err
			}
		}
		return nil
	}
	if err := runBackup(t.Context(), app, backup.Options{AfterData: hook}); err != nil {
		t.Fatalf("backup: %v", err)
	}
}

// restoreOrHang runs a restore. The deadline is only a safety net: a
// restore that has not returned by then hangs in life (as a bootstrap
// hook, with the temporary server running and the port's lock held).
func restoreOrHang(t *testing.T, confPath string, o restore.Options) error {
	t.Helper()
	app, out := newApp(t, confPath)
	done := make(chan error, 1)
	go func() { done <- runRestore(t.Context(), app, o) }()
	select {
	case err := <-done:
		t.Logf("restore: %v %s", err, out)
		return err
	case <-time.After(5 * time.Minute):
		t.Fatal("the restore has not returned after 5 minutes: it hangs")
		return nil
	}
}

// tempServerDir is the run directory of the restore's temporary server.
func tempServerDir(in *testbed.Instance) (string, error) {
	dirs, err := filepath.Glob(filepath.Join(in.BackupBase, fmt.Sprintf("mysqld-tmp-%d-*", in.Port)))
	if err != nil || len(dirs) != 1 {
		return "", fmt.Errorf("want one temporary server dir, found %v (%v)", dirs, err)
	}
	return dirs[0], nil
}

// killMidReplay is a BeforeReplay hook that takes a global read lock on
// the temporary server, so that the replay waits at its first row event
// with the rest of the delta queued behind it, and then kills the server
// (SIGKILL) once the replay waits: a server dying mid-replay, every time.
// killed receives the pid killed, or why there was none.
func killMidReplay(in *testbed.Instance) (hook func(context.Context) error, killed <-chan error) {
	result := make(chan error, 1)
	hook = func(ctx context.Context) error {
		dir, err := tempServerDir(in)
		if err != nil {
			return err
		}
		db, err := mysqld.Conn{Socket: mysqld.SocketPath(dir), User: "root", Password: in.RootPassword}.Open()
		if err != nil {
			return err
		}
		lock, err := db.Conn(ctx)
		if err == nil {
			_, err = lock.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK")
		}
		if err != nil {
			db.Close()
			return err
		}
		go func() {
			defer db.Close()
			defer lock.Close()
			result <- killWhenReplayWaits(db, dir)
		}()
		return nil
	}
	return hook, result
}

func killWhenReplayWaits(db *sql.DB, dir string) error {
	for {
		var waiting int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE LIKE 'Waiting for%'").Scan(&waiting); err != nil {
			return fmt.Errorf("the replay never waited on the lock: %w", err)
		}
		if waiting > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	pids, _ := filepath.Glob(filepath.Join(dir, "*.pid"))
	if len(pids) != 1 {
		return fmt.Errorf("want one pid file in %s, found %v", dir, pids)
	}
	b, err := os.ReadFile(pids[0])
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return err
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}

func TestRestoreFailsNamingTheClientWhenTheTemporaryServerDiesMidReplay(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n")
	backupWithDeltaTransactions(t, in, confPath, 2000)
	wipe(t, in)

	hook, killed := killMidReplay(in)
	err := restoreOrHang(t, confPath, restore.Options{BeforeReplay: hook})
	if kerr := <-killed; kerr != nil {
		t.Fatalf("the temporary server was not killed mid-replay: %v", kerr)
	}
	want := "replay: mariadb (client) exited with status 1: ERROR 2013"
	if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("restore error:\n%v\nwant one line starting %q", err, want)
	}
	if left, _ := filepath.Glob(filepath.Join(in.BackupBase, "mysqld-tmp*")); len(left) > 0 {
		t.Errorf("temporary server dirs left: %v", left)
	}
	assertNoDataDir(t, in)
}

// hostileOptions is a global option file that sends every client to
// another server and filters the binlog tool's output down to nothing.
const hostileOptions = `[client]
protocol=tcp
host=127.0.0.3
port=1
[mariadb-client]
protocol=tcp
host=127.0.0.3
port=1
[mysqlbinlog]
database=elsewhere
`

func TestRestoreReplaysOnItsTemporaryServerDespiteHostileGlobalOptions(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n")
	backupWithDelta(t, in, confPath, 50)
	wipe(t, in)

	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "my.cnf"), []byte(hostileOptions), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MYSQL_HOME", home)
	t.Setenv("MYSQL_HOST", "127.0.0.3")
	if err := restoreOrHang(t, confPath, restore.Options{}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	in.Start()
	if n := in.Query("SELECT COUNT(*) FROM app.t WHERE v='delta'"); n != "50" {
		t.Errorf("delta rows after restore: %s, want 50", n)
	}
}

// A binlog cut inside an event (damaged in storage, or on its way) makes
// mariadb-binlog stop with "ERROR:" on stderr and exit 0: the restore must
// fail, not report ok with part of the delta.
func TestRestoreFailsWhenABinlogOfTheDeltaIsCut(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n")
	backupWithDeltaTransactions(t, in, confPath, 3)
	wipe(t, in)
	app, _ := newApp(t, confPath)
	cut := func(context.Context) error {
		names, err := filepath.Glob(filepath.Join(app.Cfg.BackupBinlogDir, "mysql-bin.[0-9]*"))
		if err != nil || len(names) == 0 {
			return fmt.Errorf("no binlog to cut: %v", err)
		}
		last := names[len(names)-1]
		fi, err := os.Stat(last)
		if err != nil {
			return err
		}
		return os.Truncate(last, fi.Size()-5)
	}
	err := restoreOrHang(t, confPath, restore.Options{BeforeReplay: cut})
	if err == nil || !strings.Contains(err.Error(), "binlog tool exited 0 but reported") {
		t.Fatalf("restore with a cut binlog: %v, want the binlog tool's report", err)
	}
	if _, err := os.Stat(in.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the failed restore left a datadir: %v", err)
	}
}

// One statement of the delta may be as large as the source took: a
// BINLOG statement of 30,000 rows of 1 KiB is over the 16 MiB default.
func TestRestoreReplaysADeltaStatementLargerThanTheDefaultPacket(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n")
	in.Exec("SET GLOBAL max_allowed_packet = 1073741824")
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.big (id INT PRIMARY KEY, v VARCHAR(1024))")
	app, _ := newApp(t, confPath)
	big := func(context.Context) error {
		in.Exec("INSERT INTO app.big SELECT seq, REPEAT('x', 1024) FROM app.seq_1_to_30000")
		return nil
	}
	if err := runBackup(t.Context(), app, backup.Options{AfterData: big}); err != nil {
		t.Fatalf("backup: %v", err)
	}
	want := in.Checksum("app.big")
	wipe(t, in)
	if err := restoreOrHang(t, confPath, restore.Options{}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	in.Start()
	if got := in.Checksum("app.big"); got != want {
		t.Errorf("CHECKSUM TABLE app.big = %s, want %s", got, want)
	}
}
