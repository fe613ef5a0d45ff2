package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// mainEnv makes the test binary act as the mysqlbackup command, so tests
// can run (and kill) the real CLI in a child process.
const mainEnv = "MYSQLBACKUP_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// cliCommand returns the test binary set up to run mysqlbackup with args.
func cliCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	// A test that fails before it stops the command leaves none running:
	// it is killed by its pid (os.Process knows one that finished, and
	// signals it no more).
	t.Cleanup(func() {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
	})
	return cmd
}

// bigInstance is an instance holding 48 MiB of incompressible rows, so
// that a backup spends seconds in a multipart upload of 5 MiB parts.
func bigInstance(t *testing.T) (*testbed.Instance, *testbed.MinIO, string, string) {
	t.Helper()
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n")
	in.Exec("CREATE DATABASE big", "CREATE TABLE big.b (id INT PRIMARY KEY, v LONGBLOB)")
	insertRandomMiB(t, in, "big.b", 48)
	return in, m, confPath, fmt.Sprintf("%s/%d/mysql-%d.tgz.des3", testDate, in.Port, in.Port)
}

// insertRandomMiB inserts n rows of 1 MiB of random bytes into table
// (id INT, v LONGBLOB): data no compression shrinks.
func insertRandomMiB(t *testing.T, in *testbed.Instance, table string, n int) {
	t.Helper()
	db := in.DB()
	for i := range n {
		blob := make([]byte, 1<<20)
		rand.Read(blob)
		if _, err := db.Exec("INSERT INTO "+table+" VALUES (?, ?)", i, blob); err != nil {
			t.Fatal(err)
		}
	}
}

// startBackupUntilUploading runs the CLI backup and returns once its
// multipart upload is under way, with the run's temporary key.
func startBackupUntilUploading(t *testing.T, st *s3.Bucket, confPath, key string) (*exec.Cmd, chan error, string) {
	t.Helper()
	cmd, exited := startCLI(t, "--conf-path", confPath, "backup")
	var tmp string
	for deadline := time.Now().Add(time.Minute); tmp == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		objs, _ := st.List(t.Context(), key+catalog.PartialSuffix+".")
		for _, o := range objs {
			if !strings.HasSuffix(o.Key, catalog.BeatSuffix) && !strings.HasSuffix(o.Key, catalog.CopyCheckSuffix) {
				tmp = o.Key
			}
		}
	}
	if tmp == "" || !waitForUpload(t, st, tmp, exited) {
		t.Fatal("backup finished before a multipart upload was seen; the data set is too small to test a kill")
	}
	if !strings.HasPrefix(tmp, key+catalog.PartialSuffix+"."+instance.Hostname()+".") {
		t.Errorf("temporary object %s does not name this host", tmp)
	}
	return cmd, exited, tmp
}

func TestBackupKilledDuringUploadLeavesNoObjectAndNextRunSucceeds(t *testing.T) {
	_, m, confPath, key := bigInstance(t)
	st := m.Store()
	cmd, exited, tmp := startBackupUntilUploading(t, st, confPath, key)
	cmd.Process.Kill()
	<-exited

	if _, err := st.Head(t.Context(), key); !errors.Is(err, s3.ErrNotExist) {
		t.Fatalf("object at the final key after SIGKILL mid-upload: %v", err)
	}
	// The next run cleans the leftovers and succeeds.
	out, err := cliCommand(t, "--conf-path", confPath, "backup").CombinedOutput()
	if err != nil {
		t.Fatalf("backup after the killed one: %v\n%s", err, lastLines(out))
	}
	if _, err := st.Head(t.Context(), key); err != nil {
		t.Errorf("no object after the second run: %v", err)
	}
	assertNoUploadLeftovers(t, st, key, tmp)
}

func TestBackupStoppedBySIGTERMCleansUpAfterItself(t *testing.T) {
	in, m, confPath, key := bigInstance(t)
	st := m.Store()
	cmd, exited, tmp := startBackupUntilUploading(t, st, confPath, key)
	stopWithSIGTERM(t, cmd, exited)
	if _, err := st.Head(t.Context(), key); !errors.Is(err, s3.ErrNotExist) {
		t.Errorf("object at the final key after SIGTERM: %v", err)
	}
	assertNoUploadLeftovers(t, st, key, tmp)
	if _, err := os.Stat(filepath.Join(in.BackupBase, fmt.Sprintf("mysql-%d-backup", in.Port))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staging dir left after SIGTERM: %v", err)
	}
}

// assertNoUploadLeftovers checks no temporary object of key is left, nor
// an unfinished upload of the final key or of the run's temporary key.
func assertNoUploadLeftovers(t *testing.T, st *s3.Bucket, key, tmp string) {
	t.Helper()
	for _, k := range []string{key, tmp} {
		if pending, err := st.PendingUploads(t.Context(), k); err != nil || len(pending) != 0 {
			t.Errorf("unfinished multipart uploads left: %v %v", pending, err)
		}
	}
	if objs, err := st.List(t.Context(), key+catalog.PartialSuffix); err != nil || len(objs) != 0 {
		t.Errorf("temporary objects left: %v %v", objs, err)
	}
}

// stopWithSIGTERM sends SIGTERM to the CLI child and checks it exits
// with status 1 within a minute.
func stopWithSIGTERM(t *testing.T, cmd *exec.Cmd, exited chan error) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("exit after SIGTERM: %v, want status 1", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("backup still running a minute after SIGTERM")
	}
}

// startCLI starts the CLI in a child process, killed at the test's end;
// exited receives its Wait result.
func startCLI(t *testing.T, args ...string) (*exec.Cmd, chan error) {
	t.Helper()
	cmd := cliCommand(t, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, exited
}

// waitForUpload polls until a multipart upload of key is under way
// (true) or the process ended first (false). Bounded by a minute.
func waitForUpload(t *testing.T, st *s3.Bucket, key string, exited chan error) bool {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			return false
		default:
		}
		if pending, err := st.PendingUploads(t.Context(), key); err == nil && len(pending) > 0 {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
