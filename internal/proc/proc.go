// Package proc runs the external tools mysqlbackup drives (mariabackup,
// xtrabackup, mbstream, mysqlbinlog, mysql, mysqld, minio) the same way
// every time: bound to a context that stops them with SIGTERM and then
// SIGKILL, stderr logged line by line and its tail kept for the error, and
// the exit status checked exactly once, at the end of the stream.
package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// DefaultWaitDelay is how long a tool gets between SIGTERM and SIGKILL
// after its context ends.
const DefaultWaitDelay = 10 * time.Second

// Spec describes one run of an external program. Args never hold a
// secret: credentials go through a defaults-extra-file or the environment.
type Spec struct {
	Name   string   // program, looked up in PATH unless it holds a '/'
	Args   []string // arguments after the program name
	Dir    string   // working directory; "" is the current one
	Env    []string // extra KEY=value entries added to the environment
	Stdin  io.Reader
	Stdout io.Writer
	// Log receives stderr line by line at debug level; nil is slog.Default().
	Log *slog.Logger
	// WaitDelay overrides DefaultWaitDelay.
	WaitDelay time.Duration
	// DieWithParent asks the kernel to SIGKILL the child when the thread
	// that started it exits: test servers must not outlive a crashed test.
	DieWithParent bool
	// Redact, when set, rewrites each stderr line before it is logged or
	// kept for the error (a tool that quotes secrets from its options).
	Redact func(string) string
}

// ExitError is a tool that failed: it did not start, exited non-zero or was
// killed. Tail holds its last stderr lines.
type ExitError struct {
	Name string
	Err  error
	Tail string
}

func (e *ExitError) Error() string {
	if e.Tail == "" {
		return fmt.Sprintf("%s: %v", e.Name, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", e.Name, e.Err, e.Tail)
}

func (e *ExitError) Unwrap() error { return e.Err }

// Process is a started program. Wait must be called exactly once.
type Process struct {
	cmd    *exec.Cmd
	stderr *stderrLog
	name   string
}

// Start starts the program described by s.
func Start(ctx context.Context, s Spec) (*Process, error) {
	cmd := exec.CommandContext(ctx, s.Name, s.Args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Stdin = s.Stdin
	cmd.Stdout = s.Stdout
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	name := baseName(s.Name)
	se := newStderrLog(log.With("tool", name), s.Redact)
	cmd.Stderr = se
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = s.WaitDelay
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = DefaultWaitDelay
	}
	if s.DieWithParent {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
	if err := cmd.Start(); err != nil {
		return nil, &ExitError{Name: name, Err: err}
	}
	return &Process{cmd: cmd, stderr: se, name: name}, nil
}

// Run starts the program and waits for it.
func Run(ctx context.Context, s Spec) error {
	p, err := Start(ctx, s)
	if err != nil {
		return err
	}
	return p.Wait()
}

// Pid is the process id of the running program.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the program.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits for the program to exit and returns an *ExitError unless it
// exited with status 0.
func (p *Process) Wait() error {
	err := p.cmd.Wait()
	p.stderr.flush()
	if err == nil {
		return nil
	}
	if errors.Is(err, exec.ErrWaitDelay) && p.cmd.ProcessState != nil && p.cmd.ProcessState.Success() {
		// It exited cleanly but a child it left behind kept stderr open.
		return nil
	}
	return &ExitError{Name: p.name, Err: err, Tail: p.stderr.tail()}
}

// Tail is the last lines the program wrote to stderr; complete once Wait
// returned.
func (p *Process) Tail() string { return p.stderr.tail() }

func baseName(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}
