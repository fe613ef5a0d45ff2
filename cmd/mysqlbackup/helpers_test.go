package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

const (
	testDate     = "2026_11_23"
	testPassword = "des3 pass phrase"
)

// instanceConf writes the conf.yaml of a testbed instance (and its
// des3_password) into its conf_base. With m, backups go to MinIO.
func instanceConf(t *testing.T, in *testbed.Instance, m *testbed.MinIO, extra string) string {
	t.Helper()
	body := fmt.Sprintf(`host: %s
data_base: %s
backup_base: %s
port: %d
instance_id: %d
date_str: %s
mysql_socket: %s
mysql_pid_path: %s
root_password: %q
`, in.Host, in.DataBase, in.BackupBase, in.Port, in.ID, testDate, in.Socket, in.PidFile, in.RootPassword)
	if m != nil {
		body += fmt.Sprintf("s3_host: %s\ns3_bucket: %s\ns3_access_key: %s\ns3_secret_key: %s\ns3_part_size_mb: 5\n",
			m.HostPort, m.Bucket, m.AccessKey, m.SecretKey)
	}
	body += extra
	if err := os.WriteFile(filepath.Join(in.ConfBase, "des3_password"), []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(in.ConfBase, "backup_conf.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// newApp loads a config the way main does, logging into the test log.
func newApp(t *testing.T, confPath string) (*App, *bytes.Buffer) {
	t.Helper()
	cfg, err := conf.Load(conf.Options{Path: confPath})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return &App{Cfg: cfg, Log: log, Stdout: &out}, &out
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// writer inserts rows into app.w until stopped, and counts them.
type writer struct {
	n      atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup
	failed atomic.Value
}

func startWriter(t *testing.T, in *testbed.Instance) *writer {
	t.Helper()
	in.Exec("CREATE DATABASE IF NOT EXISTS app", "CREATE TABLE IF NOT EXISTS app.w (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64))")
	w := &writer{stop: make(chan struct{})}
	db := in.DB()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			if _, err := db.Exec("INSERT INTO app.w (v) VALUES (UUID())"); err != nil {
				w.failed.Store(err.Error())
				return
			}
			w.n.Add(1)
		}
	}()
	t.Cleanup(func() { w.Stop() })
	return w
}

// waitRows waits until the writer committed at least n rows.
func (w *writer) waitRows(t *testing.T, n int64) {
	t.Helper()
	for w.n.Load() < n {
		if msg := w.failed.Load(); msg != nil {
			t.Fatalf("writer failed: %v", msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Stop stops the writer and returns how many rows it committed.
func (w *writer) Stop() int64 {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
	return w.n.Load()
}

// extractWithStockTools runs the legacy restore pipeline:
// openssl des3 -d -md <digest> -pass file:… | tar xzf - -C dir.
func extractWithStockTools(t *testing.T, archive io.Reader, pwFile, digest, dir string) {
	t.Helper()
	testbed.Need(t, "openssl", "tar", "gzip")
	cmd := exec.Command("bash", "-c", `set -o pipefail; openssl des3 -d -md "$0" -pass "file:$1" | tar xzf - -C "$2"`, digest, pwFile, dir)
	cmd.Stdin = archive
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("stock openssl|tar failed: %v: %s", err, out)
	}
}

func sha1Hex(t *testing.T, r io.Reader) string {
	t.Helper()
	h := sha1.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// getObject reads a whole object.
func getObject(t *testing.T, m *testbed.MinIO, key string) []byte {
	t.Helper()
	r, err := m.Store().Get(context.WithoutCancel(t.Context()), key, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// adminConnOf is the root connection to a testbed instance's socket.
func adminConnOf(in *testbed.Instance) mysqld.Conn {
	return mysqld.Conn{Socket: in.Socket, User: "root", Password: in.RootPassword}
}
