package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/catalog"
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
	db := in.DB()
	for i := range 48 {
		blob := make([]byte, 1<<20)
		rand.Read(blob)
		if _, err := db.Exec("INSERT INTO big.b VALUES (?, ?)", i, blob); err != nil {
			t.Fatal(err)
		}
	}
	return in, m, confPath, fmt.Sprintf("%s/%d/mysql-%d.tgz.des3", testDate, in.Port, in.Port)
}

// startBackupUntilUploading runs the CLI backup and returns once its
// multipart upload is under way.
func startBackupUntilUploading(t *testing.T, st *s3.Bucket, confPath, key string) (*exec.Cmd, chan error) {
	t.Helper()
	cmd, exited := startCLI(t, "--conf-path", confPath, "backup")
	if !waitForUpload(t, st, key+catalog.PartialSuffix, exited) {
		t.Fatal("backup finished before a multipart upload was seen; the data set is too small to test a kill")
	}
	return cmd, exited
}

func TestBackupKilledDuringUploadLeavesNoObjectAndNextRunSucceeds(t *testing.T) {
	_, m, confPath, key := bigInstance(t)
	st := m.Store()
	cmd, exited := startBackupUntilUploading(t, st, confPath, key)
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
	assertNoUploadLeftovers(t, st, key)
}

func TestBackupStoppedBySIGTERMCleansUpAfterItself(t *testing.T) {
	in, m, confPath, key := bigInstance(t)
	st := m.Store()
	cmd, exited := startBackupUntilUploading(t, st, confPath, key)
	stopWithSIGTERM(t, cmd, exited)
	if _, err := st.Head(t.Context(), key); !errors.Is(err, s3.ErrNotExist) {
		t.Errorf("object at the final key after SIGTERM: %v", err)
	}
	assertNoUploadLeftovers(t, st, key)
	if _, err := os.Stat(filepath.Join(in.BackupBase, fmt.Sprintf("mysql-%d-backup", in.Port))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staging dir left after SIGTERM: %v", err)
	}
}

func assertNoUploadLeftovers(t *testing.T, st *s3.Bucket, key string) {
	t.Helper()
	if pending, err := st.PendingUploads(t.Context(), key); err != nil || len(pending) != 0 {
		t.Errorf("unfinished multipart uploads left: %v %v", pending, err)
	}
	if _, err := st.Head(t.Context(), key+catalog.PartialSuffix); !errors.Is(err, s3.ErrNotExist) {
		t.Errorf("temporary object left: %v", err)
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
