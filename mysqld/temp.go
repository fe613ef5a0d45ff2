package mysqld

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/proc"
)

// TempOptions describe a temporary server on a restored datadir.
type TempOptions struct {
	Bin          string // mysqld or mariadbd
	DefaultsFile string // the instance's my.cnf
	DataDir      string
	RunDir       string   // private dir for socket, pid file and error log
	ExtraArgs    []string // e.g. --server-id=…, long net timeouts
	// KeepBinlog leaves binary logging as my.cnf says; otherwise the
	// server runs with --skip-log-bin.
	KeepBinlog   bool
	User         string // root, for the readiness check
	Password     string
	ReadyTimeout time.Duration // default 10 minutes (crash recovery can be long)
	StopTimeout  time.Duration // default 10 minutes, then SIGKILL
	Log          *slog.Logger
}

// TempServer is a running temporary mysqld. Stop must be called on every
// path; it is safe to call more than once.
type TempServer struct {
	Conn
	opts    TempOptions
	proc    *proc.Process
	done    chan error
	stopped bool
}

// SocketPath is where a temporary server of runDir listens.
func SocketPath(runDir string) string { return filepath.Join(runDir, "mysqld.sock") }

// StartTemp starts mysqld on o.DataDir without networking (outgoing
// replication connections still work) or replica threads, and without
// binary log unless o.KeepBinlog, on a private socket, and returns once the
// socket exists and a query works. It is killed if mysqlbackup dies.
func StartTemp(ctx context.Context, o TempOptions) (*TempServer, error) {
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 10 * time.Minute
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = 10 * time.Minute
	}
	if len(SocketPath(o.RunDir)) > 100 {
		return nil, fmt.Errorf("temporary mysqld: socket path %s is too long for a unix socket", SocketPath(o.RunDir))
	}
	args := append([]string{
		"--defaults-file=" + o.DefaultsFile, "--datadir=" + o.DataDir,
		"--socket=" + SocketPath(o.RunDir), "--pid-file=" + filepath.Join(o.RunDir, "mysqld.pid"),
		"--log-error=" + o.errorLog(), "--skip-networking", "--skip-slave-start",
		"--loose-group-replication-start-on-boot=off",
	}, o.ExtraArgs...)
	if !o.KeepBinlog {
		args = append(args, "--skip-log-bin")
	}
	p, err := proc.Start(context.WithoutCancel(ctx), proc.Spec{Name: o.Bin, Args: args, Log: o.Log, DieWithParent: true, WaitDelay: o.StopTimeout})
	if err != nil {
		return nil, fmt.Errorf("temporary mysqld: %w", err)
	}
	s := &TempServer{Conn: Conn{Socket: SocketPath(o.RunDir), User: o.User, Password: o.Password}, opts: o, proc: p, done: make(chan error, 1)}
	go func() { s.done <- p.Wait() }()
	if err := s.waitReady(ctx); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

func (o TempOptions) errorLog() string { return filepath.Join(o.RunDir, "mysqld.err") }

func (s *TempServer) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(s.opts.ReadyTimeout)
	for {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("temporary mysqld exited during startup (%v): %s", err, s.ErrorTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := os.Stat(s.Socket); err == nil {
			if alive, err := s.Alive(ctx); alive {
				return nil
			} else if err != nil {
				return fmt.Errorf("temporary mysqld: %w", err)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("temporary mysqld not ready after %s: %s", s.opts.ReadyTimeout, s.ErrorTail())
		}
	}
}

// Stop stops the server: SIGTERM, then SIGKILL after the stop timeout.
func (s *TempServer) Stop() error {
	if s.stopped {
		return nil
	}
	s.stopped = true
	_ = s.proc.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		return cleanExit(err)
	case <-time.After(s.opts.StopTimeout):
		_ = s.proc.Signal(syscall.SIGKILL)
		<-s.done
		return fmt.Errorf("temporary mysqld did not stop within %s and was killed", s.opts.StopTimeout)
	}
}

// cleanExit accepts the exit of a server told to stop.
func cleanExit(err error) error {
	var ee *proc.ExitError
	if errors.As(err, &ee) && strings.Contains(ee.Err.Error(), "signal: terminated") {
		return nil
	}
	return err
}

// ErrorTail is the end of the server's error log, for error messages.
func (s *TempServer) ErrorTail() string {
	data, _ := os.ReadFile(s.opts.errorLog())
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}
