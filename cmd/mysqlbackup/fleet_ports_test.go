package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

func TestChildArgsDropTheFleetFlagsAndNameThePortsConfig(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"--conf-path a.yaml backup --ports 1,2 --jobs 2", "--conf-path /c/3309.yaml backup"},
		{"backup --all-ports --conf-base=/x --conf-fn y --jobs=3 -v", "--conf-path /c/3309.yaml backup -v"},
		{"verify --ports=3309 --date-str latest", "--conf-path /c/3309.yaml verify --date-str latest"},
		{"status --ports 3309 --json -- --ports", "--conf-path /c/3309.yaml status --json -- --ports"},
	} {
		if got := strings.Join(childArgs(strings.Fields(c.in), "/c/3309.yaml"), " "); got != c.want {
			t.Errorf("childArgs(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestAllPortsAreTheAllDigitDirectoriesInNumericOrder(t *testing.T) {
	base := t.TempDir()
	for _, d := range []string{"3310", "999", "3309", "backup", "0330", "70000"} {
		os.Mkdir(filepath.Join(base, d), 0o755)
	}
	os.WriteFile(filepath.Join(base, "3311"), nil, 0o644) // a file, not a port's directory
	os.Symlink(filepath.Join(base, "3309"), filepath.Join(base, "4000"))
	f := &fleetFlags{AllPorts: true, Jobs: 1, ConfBase: base}
	_, ports, err := f.ports(&CLI{})
	if err != nil || !slices.Equal(ports, []string{"999", "3309", "3310", "4000"}) {
		t.Errorf("ports %v, %v", ports, err)
	}
	// Without --conf-base: two levels above --conf-path, as mysqlops laid it out.
	f = &fleetFlags{Ports: []string{"3309", "3309", "3310"}, Jobs: 1}
	got, ports, err := f.ports(&CLI{ConfPath: filepath.Join(base, "3309", "backup_conf.yaml")})
	if err != nil || got != base || !slices.Equal(ports, []string{"3309", "3310"}) {
		t.Errorf("base %s ports %v, %v", got, ports, err)
	}
	port := "3309"
	for _, bad := range []*fleetFlags{{Ports: []string{"x"}, Jobs: 1}, {Ports: []string{"1"}, AllPorts: true, Jobs: 1}, {AllPorts: true, Jobs: 0, ConfBase: base}} {
		if _, _, err := bad.ports(&CLI{}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, _, err := (&fleetFlags{AllPorts: true, Jobs: 1, ConfBase: base}).ports(&CLI{Port: &port}); err == nil {
		t.Error("--port with --all-ports accepted")
	}
}

// selfAsMain makes the fleet driver run this test binary as mysqlbackup.
func selfAsMain(t *testing.T) {
	t.Setenv(mainEnv, "1")
	saved := selfCommand
	selfCommand = func(ctx context.Context, args []string) *exec.Cmd {
		return exec.CommandContext(ctx, os.Args[0], args...)
	}
	t.Cleanup(func() { selfCommand = saved })
}

// portDirs lays the instances' configs out as mysqlops did,
// {root}/{port}/backup_conf.yaml, each port's directory a link to its
// conf_base, and returns root.
func portDirs(t *testing.T, ins ...*testbed.Instance) string {
	t.Helper()
	root := t.TempDir()
	for _, in := range ins {
		if err := os.Symlink(in.ConfBase, filepath.Join(root, fmt.Sprint(in.Port))); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestAllPortsBackUpEveryPortInParallelAndOneFailureStopsNoOther(t *testing.T) {
	m := testbed.StartMinIO(t)
	run := testbed.TempDir(t)
	metrics := filepath.Join(t.TempDir(), "mysqlbackup.prom")
	var ins []*testbed.Instance
	for id := 1; id <= 3; id++ {
		in := testbed.StartMariaDBWith(t, testbed.Options{ID: id, RunDir: run})
		instanceConf(t, in, m, "purge_binlog_days: 0\nretention_count: 3\nmetrics_file: "+metrics+"\n")
		in.Exec("CREATE DATABASE app", fmt.Sprintf("CREATE TABLE app.t (id INT PRIMARY KEY) SELECT %d AS id", id))
		ins = append(ins, in)
	}
	ins[2].Stop() // the third port's instance is down: its backup fails
	root := portDirs(t, ins...)
	selfAsMain(t)

	r := runCLI(t, "backup", "--all-ports", "--conf-base", root, "--jobs", "2")
	if r.code != 1 {
		t.Errorf("exit %d, want 1 (one port failed)", r.code)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	for _, in := range ins[:2] {
		if !slices.ContainsFunc(lines, regexp.MustCompile(fmt.Sprintf(`^%d: backup ok`, in.Port)).MatchString) {
			t.Errorf("no result line of port %d:\n%s", in.Port, r.stdout)
		}
		if r := runCLI(t, "--conf-path", filepath.Join(root, fmt.Sprint(in.Port), "backup_conf.yaml"), "verify"); r.code != 0 {
			t.Errorf("verify of port %d: exit %d: %s", in.Port, r.code, lastLine(r.stderr))
		}
	}
	down := ins[2].Port
	if !slices.ContainsFunc(lines, regexp.MustCompile(fmt.Sprintf(`^%d: FAILED \(exit 1\): .+`, down)).MatchString) {
		t.Errorf("no failure line of port %d:\n%s", down, r.stdout)
	}
	if want := fmt.Sprintf("backup: 3 ports, 2 ok, 1 failed (%d)", down); lines[len(lines)-1] != want {
		t.Errorf("summary %q, want %q", lines[len(lines)-1], want)
	}
	if !strings.Contains(lastLine(r.stderr), fmt.Sprintf("1 of 3 ports failed: %d", down)) {
		t.Errorf("error line %q", lastLine(r.stderr))
	}
	data, _ := os.ReadFile(metrics)
	for i, in := range ins {
		want := fmt.Sprintf(`mysqlbackup_last_run_success{port="%d",command="backup"} %d`, in.Port, map[bool]int{true: 1}[i < 2])
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("metrics file lacks %s:\n%s", want, data)
		}
	}

	// The other commands take the same flags: verify and prune per port.
	ports := fmt.Sprintf("%d,%d", ins[0].Port, ins[1].Port)
	for _, cmd := range []string{"verify", "prune"} {
		if r := runCLI(t, cmd, "--ports", ports, "--conf-base", root, "--jobs", "2"); r.code != 0 || !strings.HasSuffix(strings.TrimSpace(r.stdout), cmd+": 2 ports, 2 ok") {
			t.Errorf("%s --ports: exit %d:\n%s\n%s", cmd, r.code, r.stdout, r.stderr)
		}
	}
}

func TestBootstrapRestoresCatchesUpAndSaysWhenTheGroupHasNoBackupYet(t *testing.T) {
	m := testbed.StartMinIO(t)
	a, b := groupOf(t, m, testbed.Options{ID: 1}, testbed.Options{ID: 2, Host: "127.0.0.2", Port: -1}, nil)

	// The group's first backup is still uploading: not a new group, a
	// failure (provisioning must not start the member empty).
	fresh := filepath.Join(t.TempDir(), "data")
	uploading := catalog.PartialKey(fmt.Sprintf("%s/%d/mysql-%d.tgz.des3", testDate, a.Port, a.Port), "db9.1.00")
	if err := m.Store().Put(t.Context(), uploading, strings.NewReader(""), map[string]string{catalog.MetaHost: "db9", catalog.MetaPID: "1"}); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "--conf-path", b.conf, "--data-base", fresh, "bootstrap"); r.code != exitFailure || !strings.Contains(lastLine(r.stderr), "no complete backup") {
		t.Errorf("bootstrap while the first backup uploads: exit %d, stderr %q; want 1", r.code, lastLine(r.stderr))
	}
	m.Store().Delete(t.Context(), uploading)

	// A brand-new group: no backup of the port anywhere. Distinct status,
	// one line saying so, the (absent) data dir left alone.
	r := runCLI(t, "--conf-path", b.conf, "--data-base", fresh, "bootstrap")
	if r.code != exitNoBackup || !strings.Contains(r.stdout, "no backup of port") || !strings.Contains(r.stdout, "start the instance empty") {
		t.Errorf("bootstrap of a new group: exit %d, stdout %q, stderr %q", r.code, r.stdout, lastLine(r.stderr))
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("bootstrap without a backup touched %s: %v", fresh, err)
	}

	// B lost after A's backup: bootstrap restores A's backup and catches up.
	loseAfterBackup(t, a, b, a)
	if r := runCLI(t, "--conf-path", b.conf, "bootstrap"); r.code != 0 || !strings.Contains(r.stdout, "restore ok") {
		t.Fatalf("bootstrap: exit %d, stdout %q: %s", r.code, r.stdout, lastLine(r.stderr))
	}
	assertStopped(t, b.Instance)
	startsAsItself(t, b, a)

	// Run again at the next boot: the instance runs, nothing is done.
	if r := runCLI(t, "--conf-path", b.conf, "bootstrap"); r.code != 0 || !strings.Contains(r.stdout, "nothing to do") {
		t.Errorf("bootstrap of a running instance: exit %d, stdout %q: %s", r.code, r.stdout, lastLine(r.stderr))
	}
	// A reboot of the whole group: stopped, not restored. Nothing either:
	// a catch-up would wait on peers that are down too.
	b.Stop()
	a.Stop()
	if r := runCLI(t, "--conf-path", b.conf, "bootstrap"); r.code != 0 || !strings.Contains(r.stdout, "start the instance") {
		t.Errorf("bootstrap of a stopped instance after a reboot: exit %d, stdout %q: %s", r.code, r.stdout, lastLine(r.stderr))
	}
}

func TestEveryPortOfAFleetRunTakesTheDriversDate(t *testing.T) {
	// mysqlops computed date_str once: the ports a run reaches after
	// midnight keep the date it started on. A date_str in the file wins.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "data", "mysql-3309", "mysql"), 0o755) // --when no-data-dir: not met, exit 0 after the config
	p := confFile(t, dir, "")
	t.Setenv(fleetNowEnv, time.Date(2026, 11, 30, 23, 59, 58, 0, time.Local).Format(time.RFC3339Nano))
	r := runCLI(t, "-v", "--conf-path", p, "--when", "no-data-dir", "restore")
	if r.code != 0 || !strings.Contains(r.stderr, "s3_key: 2026_11_30/3309/") {
		t.Errorf("exit %d; the effective config does not say s3_key: 2026_11_30/3309/…:\n%s", r.code, r.stderr)
	}
	p = confFile(t, dir, "date_str: 2026_01_01\n")
	if r := runCLI(t, "-v", "--conf-path", p, "--when", "no-data-dir", "restore"); !strings.Contains(r.stderr, "s3_key: 2026_01_01/3309/") {
		t.Errorf("the file's date_str lost to the driver's:\n%s", r.stderr)
	}
}

func TestFleetFlagsRefuseWhatCannotRunPerPort(t *testing.T) {
	for _, args := range [][]string{
		{"status", "--ports", "3309,3310", "--watch"},
		{"status", "--watch=true", "--ports", "3309,3310"},
		{"backup", "--ports="},
		{"backup", "--ports", "3309,03309"},
		{"backup", "--ports", "3309", "--port", "3310"},
		{"backup", "--all-ports", "--jobs", "0", "--conf-base", t.TempDir()},
	} {
		if r := runCLI(t, args...); r.code != exitUsage || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want a usage error in one line", args, r.code, r.stderr)
		}
	}
}

func TestAPortOfAFleetRunWhoseDriverIsKilledCleansUpAfterItself(t *testing.T) {
	// The driver dies without a word (kill -9, the OOM killer, a timeout)
	// while a port uploads: the port gets SIGTERM and leaves nothing, as
	// a run stopped by SIGTERM does.
	in, m, _, key := bigInstance(t)
	st := m.Store()
	root := portDirs(t, in)
	driver, exited := startCLI(t, "backup", "--ports", fmt.Sprint(in.Port), "--conf-base", root)
	var tmp string
	var pid int
	for deadline := time.Now().Add(time.Minute); pid == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		objs, _ := st.List(t.Context(), key+catalog.PartialSuffix+".")
		for _, o := range objs {
			if strings.HasSuffix(o.Key, catalog.BeatSuffix) || strings.HasSuffix(o.Key, catalog.CopyCheckSuffix) {
				continue
			}
			if info, err := st.Head(t.Context(), o.Key); err == nil {
				tmp = o.Key
				fmt.Sscan(info.Metadata[catalog.MetaPID], &pid)
			}
		}
	}
	if pid == 0 || !waitForUpload(t, st, tmp, exited) {
		t.Fatal("the port's backup never uploaded")
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	driver.Process.Kill()
	<-exited
	for deadline := time.Now().Add(2 * time.Minute); syscall.Kill(pid, 0) == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the port's process %d still runs two minutes after its driver was killed", pid)
		}
	}
	if _, err := st.Head(t.Context(), key); !errors.Is(err, s3.ErrNotExist) {
		t.Errorf("object at the final key after the driver was killed: %v", err)
	}
	assertNoUploadLeftovers(t, st, key, tmp)
}
