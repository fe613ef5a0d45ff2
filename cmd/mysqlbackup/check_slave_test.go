package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

// legacyRunDir is where the legacy probe looks for mysqld-<port>.sock.
const legacyRunDir = "/var/run/mysqld"

// probeUser is the unprivileged OS user the probe runs as in the tests, as
// a Zabbix agent runs it as zabbix.
const probeUser = "nobody"

// probeAs runs the CLI as the OS user u, the way an agent runs a
// UserParameter: a copy of the test binary it may execute, its own
// working directory, the caller's environment (USER=root included: the
// probe must not take its identity from there).
func probeAs(t *testing.T, u *user.User, args ...string) result {
	t.Helper()
	dir := testbed.TempDir(t)
	bin := filepath.Join(dir, "mysqlbackup")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := copyExecutable(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run() // Run waits: the child is gone when it returns
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run the probe as %s: %v", u.Username, err)
	}
	return result{cmd.ProcessState.ExitCode(), out.String(), errb.String()}
}

func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// legacyReplica starts a primary and a replica of it whose socket is
// where the legacy probe looks (/var/run/mysqld/mysqld-<port>.sock), and
// gives the OS user u a unix_socket account allowed to read the replica
// status and nothing else, as a monitoring account is set up.
func legacyReplica(t *testing.T, u *user.User) *testbed.Instance {
	t.Helper()
	if err := os.MkdirAll(legacyRunDir, 0o755); err != nil {
		t.Fatal(err)
	}
	primary := testbed.StartMariaDB(t, 1)
	replica := testbed.StartMariaDBWith(t, testbed.Options{ID: 2, RunDir: legacyRunDir})
	testbed.Replicate(t, replica, primary)
	primary.Exec("CREATE DATABASE probe")
	testbed.WaitCaughtUp(t, replica, primary)
	testbed.WaitChannelsRunning(t, replica, testbed.Channel(primary))
	replica.Exec("SET SESSION sql_log_bin=0",
		"CREATE USER '"+u.Username+"'@'localhost' IDENTIFIED VIA unix_socket",
		"GRANT SLAVE MONITOR ON *.* TO '"+u.Username+"'@'localhost'")
	return replica
}

func TestCheckSlaveLegacyProbeLineAsUnprivilegedOSUserPrintsOnlyTheValue(t *testing.T) {
	u, err := user.Lookup(probeUser)
	if err != nil {
		t.Skipf("no OS user %s: %v", probeUser, err)
	}
	// root has a password: only the OS user's unix_socket account answers
	// a probe that connects without one.
	replica := legacyReplica(t, u)
	port := strconv.Itoa(replica.Port)
	for metric, want := range map[string]string{"role": "Slaveof-1-master", "slave_health": "0", "slave_behind": "0", "no_such_metric": "-2"} {
		r := probeAs(t, u, "check-slave", port, metric)
		if r.code != 0 || r.stdout != want+"\n" || r.stderr != "" {
			t.Errorf("check-slave %s %s as %s: exit %d, stdout %q, stderr %q; want exit 0, %q and nothing on stderr", port, metric, u.Username, r.code, r.stdout, r.stderr, want+"\n")
		}
	}
	if r := probeAs(t, u, "check-slave", port, "role", "-v"); r.code != 0 || r.stdout != "Slaveof-1-master\n" {
		t.Errorf("with -v: exit %d, stdout %q; want the same value", r.code, r.stdout)
	}

	// No server on the port: the legacy -1 and exit 255, silent unless -v.
	none := strconv.Itoa(testbed.FreePort(t))
	if r := probeAs(t, u, "check-slave", none, "slave_health"); r.code != 255 || r.stdout != "-1\n" || r.stderr != "" {
		t.Errorf("no server: exit %d, stdout %q, stderr %q; want 255, \"-1\\n\" and nothing on stderr", r.code, r.stdout, r.stderr)
	}
	r := probeAs(t, u, "check-slave", none, "slave_health", "-v")
	if r.code != 255 || r.stdout != "-1\n" || !strings.Contains(r.stderr, "mysqld-"+none+".sock") {
		t.Errorf("no server, -v: exit %d, stdout %q, stderr %q; want 255, -1 and the socket named on stderr", r.code, r.stdout, r.stderr)
	}
}

func TestCheckSlavePortArgumentNamesTheLegacySocketUnlessAConfigSaysOtherwise(t *testing.T) {
	// No server answers: -v's error line names the socket the probe tried.
	r := runCLI(t, "check-slave", "1", "role", "-v")
	if r.code != 255 || r.stdout != "-1\n" || !strings.Contains(r.stderr, "/var/run/mysqld/mysqld-1.sock") {
		t.Errorf("bare port: exit %d, stdout %q, stderr %q; want 255, -1 and the legacy socket", r.code, r.stdout, r.stderr)
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "elsewhere.sock")
	conf := confFile(t, dir, "mysql_socket: "+sock+"\n")
	r = runCLI(t, "--conf-path", conf, "check-slave", "3309", "role", "-v")
	if r.code != 255 || r.stdout != "-1\n" || !strings.Contains(r.stderr, sock) {
		t.Errorf("port with a config: exit %d, stdout %q, stderr %q; want 255, -1 and the config's socket %s", r.code, r.stdout, r.stderr, sock)
	}
}

func TestCheckSlaveRefusesArgumentsThatNameTwoInstances(t *testing.T) {
	for _, args := range [][]string{
		{"check-slave", "3309", "role", "--socket", "/s.sock"},
		{"--port", "3310", "check-slave", "3309", "role"},
		{"check-slave", "role", "3309"},
	} {
		r := runCLI(t, args...)
		if r.code != exitUsage || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and one error line", args, r.code, r.stdout, r.stderr)
		}
	}
}
