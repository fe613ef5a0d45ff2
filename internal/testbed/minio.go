package testbed

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/proc"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// MinIO is a throw-away MinIO server with one bucket.
type MinIO struct {
	Endpoint string // http://127.0.0.1:<port>, https:// with CA
	HostPort string // 127.0.0.1:<port>, the s3_host form
	// CA, for a server started by StartMinIOTLS, signed its certificate.
	CA        *TestCA
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
	return startMinIO(t, false)
}

// StartMinIOTLS is StartMinIO serving https only, with a certificate for
// 127.0.0.1 signed by a CA made for the test (m.CA).
func StartMinIOTLS(t testing.TB) *MinIO {
	t.Helper()
	return startMinIO(t, true)
}

func startMinIO(t testing.TB, withTLS bool) *MinIO {
	t.Helper()
	dir := TempDir(t)
	port := FreePort(t)
	m := &MinIO{
		HostPort: fmt.Sprintf("127.0.0.1:%d", port), AccessKey: "mbtest-access", SecretKey: "mbtest-secret-9c1e",
		Bucket: "mysql-backup", Dir: dir, LogFile: filepath.Join(dir, "minio.log"), t: t, console: FreePort(t),
	}
	m.Endpoint = "http://" + m.HostPort
	if err := os.MkdirAll(m.certsDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if withTLS {
		m.CA = NewTestCA(t, m.certsDir())
		m.Endpoint = "https://" + m.HostPort
	}
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
		Args: []string{"server", "--quiet", "--address", m.HostPort, "--console-address", fmt.Sprintf("127.0.0.1:%d", m.console),
			"--certs-dir", m.certsDir(), filepath.Join(m.Dir, "data")},
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
	if err := waitHTTP(m.healthClient(), m.Endpoint+"/minio/health/live", m.done, 60*time.Second); err != nil {
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
func (m *MinIO) Store() *s3.Bucket { return s3.New(m.StoreConfig()) }

// StoreConfig is the configuration of Store: small parts, two at once,
// the test CA trusted when the server has one.
func (m *MinIO) StoreConfig() s3.Config {
	c := s3.Config{
		Endpoint: m.Endpoint, Region: "us-east-1", Bucket: m.Bucket,
		AccessKey: m.AccessKey, SecretKey: m.SecretKey,
		PartSize: 5 << 20, Concurrency: 2,
	}
	if m.CA != nil {
		c.RootCAs = m.CA.Pool
	}
	return c
}

// certsDir is MinIO's --certs-dir: empty (plain http, whatever
// ~/.minio/certs holds), or the test CA's server certificate and key.
func (m *MinIO) certsDir() string { return filepath.Join(m.Dir, "certs") }

func waitHTTP(client *http.Client, url string, done chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
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

// IsolateAWSChain leaves the AWS default credential chain nothing but what
// the test sets itself: no variables or shared files of this host, no
// instance role lookup.
func IsolateAWSChain(t testing.TB) {
	dir := TempDir(t)
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
	} {
		t.Setenv(k, v)
	}
}
