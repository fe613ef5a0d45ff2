// Package testbed starts real, throw-away servers for tests: MariaDB
// instances laid out like the legacy tool expects (datadir
// {data_base}/mysql-{port} holding my.cnf), wired into multi-source
// replication, and a MinIO object store, all on 127.0.0.1 and free ports.
// Every process it starts is stopped by PID when the test ends, failed or
// not; the error logs of a failed test are printed and kept.
//
// A test that needs a missing binary is skipped, unless the environment
// sets MYSQLBACKUP_TEST_REQUIRE=1 (scripts/test.sh and CI do), which turns
// the skip into a failure.
package testbed

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireEnv is the variable that turns missing test dependencies into failures.
const RequireEnv = "MYSQLBACKUP_TEST_REQUIRE"

// Need returns the path of each named program, or skips the test (fails it
// under MYSQLBACKUP_TEST_REQUIRE=1) when one is missing.
func Need(t testing.TB, names ...string) []string {
	t.Helper()
	paths := make([]string, len(names))
	for i, name := range names {
		p, err := lookPath(name)
		if err != nil {
			if os.Getenv(RequireEnv) == "1" {
				t.Fatalf("%s not found and %s=1: run scripts/test.sh, which installs it", name, RequireEnv)
			}
			t.Skipf("%s not found (set %s=1 to make this a failure)", name, RequireEnv)
		}
		paths[i] = p
	}
	return paths
}

// lookPath finds name in PATH, then in the sbin directories a root-less
// PATH lacks, then in the Go bin directory where `go install` puts minio.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	dirs := []string{"/usr/sbin", "/usr/local/sbin", "/sbin"}
	if gp := os.Getenv("GOPATH"); gp != "" {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TempDir makes a short temporary directory (unix socket paths are limited
// to 107 bytes, too few for t.TempDir under long test names) and removes
// it when the test ends.
func TempDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "mbtb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// keepLog prints the last lines of a failed test's server log and copies
// the whole file to a directory that outlives the test.
func keepLog(t testing.TB, path, label string) {
	if !t.Failed() {
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	t.Logf("last lines of %s log %s:\n%s", label, path, strings.Join(lines, "\n"))
	dir := filepath.Join(os.TempDir(), "mysqlbackup-test-logs")
	if os.MkdirAll(dir, 0o755) == nil {
		name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + "-" + label + ".log"
		if os.WriteFile(filepath.Join(dir, name), data, 0o644) == nil {
			t.Logf("kept %s log as %s", label, filepath.Join(dir, name))
		}
	}
}

// appendFile opens path for appending, creating it.
func appendFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}
