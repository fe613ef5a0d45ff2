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
	// OwnDataDir says DataDir is the datadir the normal start of
	// DefaultsFile uses (not a staging copy): the option file must say so.
	OwnDataDir bool
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
// replication connections still work), replica threads, event scheduler,
// init_file or init_connect, and without binary log unless o.KeepBinlog,
// on a private socket, and returns once the socket exists and a query
// works. It is killed if mysqlbackup dies.
//
// Its pid-file lives in o.RunDir under the base name the normal start's
// pid-file has, because the server derives the default names of its relay
// logs (and of a bare log-bin's binlogs) from that base name: a temporary
// server with another one writes relay logs the normal start cannot find.
// Before starting, the server's own view of both starts' options is
// compared name by name; after starting, the server must report the
// datadir, socket and pid-file it was given.
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
	args, err := o.args(ctx)
	if err != nil {
		return nil, fmt.Errorf("temporary mysqld: %w", err)
	}
	p, err := proc.Start(context.WithoutCancel(ctx), proc.Spec{Name: o.Bin, Args: args, Log: o.Log, DieWithParent: true, WaitDelay: o.StopTimeout, Redact: RedactOptionValues})
	if err != nil {
		return nil, fmt.Errorf("temporary mysqld: %w", err)
	}
	s := &TempServer{Conn: Conn{Socket: SocketPath(o.RunDir), User: o.User, Password: o.Password}, opts: o, proc: p, done: make(chan error, 1)}
	go func() { s.done <- p.Wait() }()
	if err := s.waitReady(ctx); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	if err := s.checkIdentity(ctx); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// args builds the command line and proves it names the server's files as
// the normal start does.
func (o TempOptions) args(ctx context.Context) ([]string, error) {
	var override []string
	if !o.OwnDataDir {
		override = []string{"--datadir=" + o.DataDir}
	}
	normal, err := ReadOptions(ctx, o.Bin, o.DefaultsFile, o.Log, override...)
	if err != nil {
		return nil, err
	}
	if o.OwnDataDir && !SamePath(normal["datadir"], o.DataDir) {
		return nil, fmt.Errorf("%s says datadir=%s, not %s: its normal start would run on another datadir", o.DefaultsFile, normal["datadir"], o.DataDir)
	}
	pid := normal["pid-file"]
	if pid == "" {
		return nil, fmt.Errorf("the server's view of %s has no pid-file", o.DefaultsFile)
	}
	args := []string{
		"--datadir=" + o.DataDir, "--socket=" + SocketPath(o.RunDir),
		"--pid-file=" + filepath.Join(o.RunDir, filepath.Base(pid)),
		"--log-error=" + o.errorLog(), "--skip-networking", "--skip-slave-start",
		"--event-scheduler=DISABLED", "--init-file=", "--init-connect=",
		"--loose-group-replication-start-on-boot=off",
	}
	args = append(args, o.ExtraArgs...)
	temp, err := ReadOptions(ctx, o.Bin, o.DefaultsFile, o.Log, args...)
	if err != nil {
		return nil, err
	}
	want, got := normal.FileNames(), temp.FileNames()
	if diff := want.Diff(got); len(diff) > 0 {
		return nil, fmt.Errorf("it would name its files unlike the normal start of %s: %s", o.DefaultsFile, strings.Join(diff, "; "))
	}
	if !o.KeepBinlog {
		args = append(args, "--skip-log-bin")
	}
	return append([]string{"--defaults-file=" + o.DefaultsFile}, args...), nil
}

// checkIdentity proves the server that answers on the private socket is
// the one started here, on the datadir given: another run's server on a
// reused socket must never receive our replay.
func (s *TempServer) checkIdentity(ctx context.Context) error {
	db, err := s.Open()
	if err != nil {
		return err
	}
	defer db.Close()
	var dataDir, socket, pidFile string
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.datadir, @@GLOBAL.socket, @@GLOBAL.pid_file").Scan(&dataDir, &socket, &pidFile); err != nil {
		return fmt.Errorf("temporary mysqld: identity: %w", err)
	}
	want := [][3]string{{"datadir", s.opts.DataDir, dataDir}, {"socket", s.Socket, socket}}
	for _, w := range want {
		if !SamePath(w[1], w[2]) {
			return fmt.Errorf("temporary mysqld: the server on %s reports %s %s, want %s: not ours", s.Socket, w[0], w[2], w[1])
		}
	}
	if !SamePath(filepath.Dir(pidFile), s.opts.RunDir) {
		return fmt.Errorf("temporary mysqld: the server on %s reports pid_file %s, want one in %s: not ours", s.Socket, pidFile, s.opts.RunDir)
	}
	return nil
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
	return RedactOptionValues(strings.Join(lines, " | "))
}

// SamePath says whether a and b name the same file, symbolic links
// resolved (the server may report either form).
func SamePath(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	ra, erra := filepath.EvalSymlinks(a)
	rb, errb := filepath.EvalSymlinks(b)
	return erra == nil && errb == nil && ra == rb
}
