package testbed

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/proc"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// MinIO is a throw-away MinIO server with one bucket.
type MinIO struct {
	Endpoint  string // http://127.0.0.1:<port>
	HostPort  string // 127.0.0.1:<port>, the s3_host form
	AccessKey string
	SecretKey string
	Bucket    string
	Dir       string
	LogFile   string

	t       testing.TB
	console int
	proc    *proc.Process
	done    chan error
}

// StartMinIO starts MinIO on a free loopback port with an empty bucket and
// stops it when the test ends.
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	dir := TempDir(t)
	port := FreePort(t)
	m := &MinIO{
		HostPort: fmt.Sprintf("127.0.0.1:%d", port), AccessKey: "mbtest-access", SecretKey: "mbtest-secret-9c1e",
		Bucket: "mysql-backup", Dir: dir, LogFile: filepath.Join(dir, "minio.log"), t: t, console: FreePort(t),
	}
	m.Endpoint = "http://" + m.HostPort
	m.Start()
	t.Cleanup(func() {
		m.Stop()
		keepLog(t, m.LogFile, "minio")
	})
	if err := m.Store().CreateBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	return m
}

// Start starts the server (again, after Stop: same port, same data) and
// waits until it is ready.
func (m *MinIO) Start() {
	t := m.t
	t.Helper()
	bin := Need(t, "minio")[0]
	logf, err := appendFile(m.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := proc.Start(context.WithoutCancel(t.Context()), proc.Spec{
		Name: bin,
		Args: []string{"server", "--quiet", "--address", m.HostPort, "--console-address", fmt.Sprintf("127.0.0.1:%d", m.console), filepath.Join(m.Dir, "data")},
		Env: []string{
			"MINIO_ROOT_USER=" + m.AccessKey, "MINIO_ROOT_PASSWORD=" + m.SecretKey,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1",
		},
		Stdout: logf, DieWithParent: true,
	})
	if err != nil {
		t.Fatalf("start minio: %v", err)
	}
	m.proc, m.done = p, make(chan error, 1)
	go func() { m.done <- p.Wait(); logf.Close() }()
	if err := waitHTTP(m.Endpoint+"/minio/health/live", m.done, 60*time.Second); err != nil {
		t.Fatalf("minio not ready: %v", err)
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 30 s); a no-op when
// it is stopped.
func (m *MinIO) Stop() {
	if m.proc == nil {
		return
	}
	_ = m.proc.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		_ = m.proc.Signal(syscall.SIGKILL)
		<-m.done
	}
	m.proc = nil
}

// Store returns a client for the test bucket.
func (m *MinIO) Store() *s3.Bucket {
	return s3.New(s3.Config{
		Endpoint: m.Endpoint, Region: "us-east-1", Bucket: m.Bucket,
		AccessKey: m.AccessKey, SecretKey: m.SecretKey,
		PartSize: 5 << 20, Concurrency: 2,
	})
}

func waitHTTP(url string, done chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			done <- err
			return fmt.Errorf("exited during startup: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("%s did not answer 200 within %s", url, timeout)
}
