package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

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
	return cmd
}

func TestBackupKilledDuringUploadLeavesNoObjectAndNextRunSucceeds(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n")
	// 48 MiB of incompressible rows: several 5 MiB parts at 3DES speed.
	in.Exec("CREATE DATABASE big", "CREATE TABLE big.b (id INT PRIMARY KEY, v LONGBLOB)")
	db := in.DB()
	for i := range 48 {
		blob := make([]byte, 1<<20)
		rand.Read(blob)
		if _, err := db.Exec("INSERT INTO big.b VALUES (?, ?)", i, blob); err != nil {
			t.Fatal(err)
		}
	}
	key := fmt.Sprintf("%s/%d/mysql-%d.tgz.des3", testDate, in.Port, in.Port)
	st := m.Store()

	cmd := cliCommand(t, "--conf-path", confPath, "backup")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := make(chan error, 1)
	go func() { killed <- cmd.Wait() }()
	if !waitForUpload(t, st, key+partialSuffix, killed) {
		t.Fatal("backup finished before a multipart upload was seen; the data set is too small to test a kill")
	}
	cmd.Process.Kill()
	<-killed

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
	if pending, err := st.PendingUploads(t.Context(), key); err != nil || len(pending) != 0 {
		t.Errorf("unfinished multipart uploads left: %v %v", pending, err)
	}
	if _, err := st.Head(t.Context(), key+partialSuffix); !errors.Is(err, s3.ErrNotExist) {
		t.Errorf("temporary object left: %v", err)
	}
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
