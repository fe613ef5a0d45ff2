package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// fleetFlags run a command for several ports of this host, each with its
// own config, as the legacy mysqlops.py driver did.
type fleetFlags struct {
	Ports    []string `name:"ports" sep:"," placeholder:"PORT" help:"Run for these ports, each with {conf-base}/{port}/{conf-fn}.yaml (legacy mysqlops --ports)."`
	AllPorts bool     `name:"all-ports" help:"Run for every port that has a config directory under --conf-base (its all-digit entries)."`
	Jobs     int      `name:"jobs" default:"1" help:"With --ports/--all-ports: how many ports run at once."`
	ConfBase string   `name:"conf-base" placeholder:"DIR" help:"With --ports/--all-ports: the directory of the per-port config directories (default: two levels above --conf-path, else /s2/mysql/backup_conf)."`
	ConfFn   string   `name:"conf-fn" default:"backup_conf" placeholder:"NAME" help:"With --ports/--all-ports: the config file's name in each port's directory, without .yaml."`
}

// fleetCommand is a command that takes fleetFlags.
type fleetCommand interface{ fleet() *fleetFlags }

func (f *fleetFlags) fleet() *fleetFlags { return f }

// legacyConfBase is where mysqlops.py looked for per-port configs.
const legacyConfBase = "/s2/mysql/backup_conf"

// fleetNowEnv carries the driver's start time to its ports: the time
// date_str is derived from when the config sets none.
const fleetNowEnv = "MYSQLBACKUP_FLEET_NOW"

// exitNoBackup is bootstrap's status when the group has no backup yet.
const exitNoBackup = 3

// fleetStopWait is how long a port's process has to clean up after
// SIGTERM before it is killed.
const fleetStopWait = 2 * time.Minute

// portResult is how one port's run ended.
type portResult struct {
	Port   string `json:"port"`
	Exit   int    `json:"exit"`
	Error  string `json:"error,omitempty"`
	output []byte
}

// selfCommand is this program, run for one port (tests replace it: their
// binary is not mysqlbackup).
var selfCommand = func(ctx context.Context, args []string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return exec.CommandContext(ctx, exe, args...)
}

// requested says whether the flags ask for several ports.
func (f *fleetFlags) requested() bool { return len(f.Ports) > 0 || f.AllPorts }

// ports lists the ports to run and the directory of their configs.
func (f *fleetFlags) ports(cli *CLI) (string, []string, error) {
	base := f.ConfBase
	switch {
	case base != "":
	case cli.ConfPath != "":
		abs, err := filepath.Abs(cli.ConfPath)
		if err != nil {
			return "", nil, err
		}
		base = filepath.Dir(filepath.Dir(abs))
	default:
		base = legacyConfBase
	}
	switch {
	case len(f.Ports) > 0 && f.AllPorts:
		return "", nil, errors.New("--ports and --all-ports: give one")
	case cli.Port != nil:
		return "", nil, errors.New("--port names one port: with --ports/--all-ports, leave it out")
	case f.Jobs < 1:
		return "", nil, fmt.Errorf("--jobs %d: want 1 or more", f.Jobs)
	case len(f.Ports) > 0:
		var out []string
		for _, p := range f.Ports {
			if !isPort(p) {
				return "", nil, fmt.Errorf("--ports: %q is not a port (its directory's name: digits, no leading zero)", p)
			}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
		return base, out, nil
	}
	entries, err := os.ReadDir(base)
	if err != nil {
		return "", nil, fmt.Errorf("--all-ports: %w", err)
	}
	var out []string
	for _, e := range entries {
		if !isPort(e.Name()) {
			continue
		}
		if fi, err := os.Stat(filepath.Join(base, e.Name())); err == nil && fi.IsDir() { // a symlink to one too
			out = append(out, e.Name())
		}
	}
	slices.SortFunc(out, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
	if len(out) == 0 {
		return "", nil, fmt.Errorf("--all-ports: no port directory (all digits) in %s", base)
	}
	return base, out, nil
}

// childArgs are args for one port: the fleet flags and any --conf-path
// dropped, the port's config given.
func childArgs(args []string, confPath string) []string {
	withValue := map[string]bool{"--ports": true, "--jobs": true, "--conf-base": true, "--conf-fn": true, "--conf-path": true}
	out := []string{"--conf-path", confPath}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		name, _, hasValue := strings.Cut(a, "=")
		switch {
		case name == "--all-ports":
		case withValue[name] && hasValue:
		case withValue[name]:
			i++ // its value
		default:
			out = append(out, a)
		}
	}
	return out
}

// runFleet runs the command once per port, jobs at a time, each as its
// own process with the port's config: one port's failure, or crash, never
// stops another. Each port's stdout is printed when it ends, its lines
// prefixed with the port (with --json, one JSON object per port); its
// log lines go to stderr as they come. The last line is a summary. It
// fails when any port failed.
func runFleet(ctx context.Context, cli *CLI, f *fleetFlags, cmdName string, args []string, stdout, stderr io.Writer) error {
	base, ports, err := f.ports(cli)
	if err != nil {
		return usageError{err}
	}
	if hasFlag(args, "--watch") {
		return usageError{errors.New("--watch redraws one view until stopped: give it one port, not --ports/--all-ports")}
	}
	jsonOut := hasFlag(args, "--json")
	// Every port takes the driver's date, as mysqlops computed date_str
	// once: a run that crosses midnight keeps one date.
	env := append(os.Environ(), fleetNowEnv+"="+time.Now().Format(time.RFC3339Nano))
	var mu sync.Mutex
	results := make([]portResult, len(ports))
	sem := make(chan struct{}, f.Jobs)
	var wg sync.WaitGroup
	for i, port := range ports {
		select { // in the order given: --jobs 1 runs them one after the other
		case sem <- struct{}{}:
		case <-ctx.Done():
			results[i] = portResult{Port: port, Exit: exitFailure, Error: "not started: the run was stopped"}
			mu.Lock()
			printPort(stdout, results[i], jsonOut)
			mu.Unlock()
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			r := runPort(ctx, port, childArgs(args, filepath.Join(base, port, f.ConfFn+".yaml")), env, &lockedWriter{mu: &mu, w: stderr})
			mu.Lock()
			defer mu.Unlock()
			results[i] = r
			printPort(stdout, r, jsonOut)
		})
	}
	wg.Wait()
	var failed, empty []string
	for _, r := range results {
		switch r.Exit {
		case 0:
		case exitNoBackup:
			empty = append(empty, r.Port)
		default:
			failed = append(failed, r.Port)
		}
	}
	summary := fmt.Sprintf("%s: %d ports, %d ok", cmdName, len(ports), len(ports)-len(failed)-len(empty))
	if len(empty) > 0 {
		summary += fmt.Sprintf(", %d without a backup yet (%s)", len(empty), strings.Join(empty, " "))
	}
	if len(failed) > 0 {
		summary += fmt.Sprintf(", %d failed (%s)", len(failed), strings.Join(failed, " "))
	}
	if !jsonOut {
		fmt.Fprintln(stdout, summary)
	}
	switch {
	case len(failed) > 0:
		return fmt.Errorf("%d of %d ports failed: %s", len(failed), len(ports), strings.Join(failed, " "))
	case len(empty) > 0:
		return &exitError{code: exitNoBackup, err: fmt.Errorf("no backup yet of port %s", strings.Join(empty, ", ")), out: ""}
	}
	return nil
}

// runPort runs one port's process to its end. SIGINT/SIGTERM of the
// driver reach it as SIGTERM, so that it cleans up as a run of its own.
func runPort(ctx context.Context, port string, args, env []string, stderr io.Writer) portResult {
	r := portResult{Port: port}
	cmd := selfCommand(ctx, args)
	cmd.Env = env
	// A driver that dies without a word (SIGKILL, the OOM killer, a
	// timeout) takes its ports down as SIGTERM would: each cleans up. The
	// kernel sends it when the thread that started the child ends, so
	// this goroutine keeps its thread until the child is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = fleetStopWait
	var out bytes.Buffer
	errLine := &lastErrorLine{w: stderr}
	cmd.Stdout, cmd.Stderr = &out, errLine
	err := cmd.Run()
	errLine.flush()
	r.output = out.Bytes()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		r.Exit, r.Error = ee.ExitCode(), errLine.last
	default:
		r.Exit, r.Error = exitFailure, err.Error()
	}
	if r.Exit != 0 && r.Error == "" {
		r.Error = fmt.Sprintf("exit status %d", r.Exit)
	}
	return r
}

// hasFlag says whether args hold the boolean flag name (--name or
// --name=value, but not --name=false), before any "--".
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == name || strings.HasPrefix(a, name+"=") && a != name+"=false" {
			return true
		}
	}
	return false
}

// printPort prints one port's output and outcome.
func printPort(w io.Writer, r portResult, jsonOut bool) {
	if jsonOut {
		v := struct {
			portResult
			Result json.RawMessage `json:"result,omitempty"`
		}{portResult: r}
		if json.Valid(r.output) && len(bytes.TrimSpace(r.output)) > 0 {
			v.Result = bytes.TrimSpace(r.output)
		}
		line, _ := json.Marshal(v)
		fmt.Fprintf(w, "%s\n", line)
		return
	}
	if out := strings.TrimSuffix(string(r.output), "\n"); out != "" {
		for line := range strings.SplitSeq(out, "\n") {
			fmt.Fprintf(w, "%s: %s\n", r.Port, line)
		}
	}
	switch r.Exit {
	case 0:
	case exitNoBackup:
		fmt.Fprintf(w, "%s: NO BACKUP YET (exit %d): %s\n", r.Port, r.Exit, r.Error)
	default:
		fmt.Fprintf(w, "%s: FAILED (exit %d): %s\n", r.Port, r.Exit, r.Error)
	}
}

// lockedWriter writes whole writes under a mutex shared by every port.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// lastErrorLine passes a port's stderr on line by line (lines of ports
// running at once never mix) and keeps its error line: the last one a
// failed run prints, "mysqlbackup <cmd>: error: …".
type lastErrorLine struct {
	w       io.Writer
	partial []byte
	last    string
}

func (l *lastErrorLine) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.line(l.partial[:i+1])
		l.partial = l.partial[i+1:]
	}
}

func (l *lastErrorLine) line(b []byte) {
	if _, msg, ok := strings.Cut(strings.TrimSpace(string(b)), ": error: "); ok {
		l.last = msg
	}
	_, _ = l.w.Write(b)
}

func (l *lastErrorLine) flush() {
	if len(l.partial) > 0 {
		l.line(append(l.partial, '\n'))
		l.partial = nil
	}
}
