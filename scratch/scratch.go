// Package scratch gives a copy of the instance its own place beside it:
// a datadir, socket, pid file, port and lock under one directory, none of
// them the instance's, into which a backup of the instance's port is
// restored (restore-test checks it; backup --from-scratch replicates it
// forward and backs it up). A killed run's scratch is cleared by the next.
package scratch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/lock"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/restore"
)

// Scratch is a copy's place, locked while it is used.
type Scratch struct {
	Dir string
	// In is the copy's instance: the instance's config with every path
	// the instance owns moved under Dir and a free port.
	In   *instance.Instance
	lock *lock.Lock
}

// Open takes the scratch of purpose (restore-test, backup-scratch) of the
// instance's port: dir ("" = {backup_base}/{purpose}-{port}), locked by
// {backup_base}/mysql-{port}.{purpose}.lock, cleared of what a killed run
// left, and made anew.
func Open(in *instance.Instance, purpose, dir string) (*Scratch, error) {
	cfg := in.Cfg
	if err := os.MkdirAll(cfg.BackupBase, 0o750); err != nil {
		return nil, fmt.Errorf("backup_base: %w", err)
	}
	lk, err := lock.Acquire(filepath.Join(cfg.BackupBase, "mysql-"+string(cfg.Port)+"."+purpose+".lock"))
	if err != nil {
		return nil, err
	}
	s, err := open(in, purpose, dir)
	if err != nil {
		lk.Release()
		return nil, err
	}
	s.lock = lk
	return s, nil
}

func open(in *instance.Instance, purpose, dir string) (*Scratch, error) {
	cfg := in.Cfg
	if dir == "" {
		dir = filepath.Join(cfg.BackupBase, purpose+"-"+string(cfg.Port))
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := refuseOwned(cfg, dir); err != nil {
		return nil, err
	}
	if err := clearStale(in, dir); err != nil {
		return nil, err
	}
	// The marker first: from now on the dir is ours to clear. The server
	// runs as mysql_user: it must reach its datadir, socket and pid file
	// (the unpacked backup below stays root's).
	if err := os.Mkdir(dir, 0o711); err != nil {
		return nil, fmt.Errorf("scratch: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, Marker), []byte(purpose+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("scratch: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	sin := instance.New(configFor(cfg, dir, port), in.Log)
	for _, d := range []string{"backup", "data", "run", "check"} {
		p := filepath.Join(dir, d)
		if err := os.Mkdir(p, 0o711); err != nil {
			return nil, fmt.Errorf("scratch: %w", err)
		}
		if d != "backup" {
			if err := sin.ChownToMySQL(p); err != nil {
				return nil, err
			}
		}
	}
	return &Scratch{Dir: dir, In: sin}, nil
}

// BufferPool is the copy's innodb_buffer_pool_size, whatever the
// instance's: the copy runs on the serving host, beside the instance.
var BufferPool = "256M"

// Marker names the file that makes a dir a scratch of ours: only a dir
// that holds it is ever cleared.
const Marker = ".mysqlbackup-scratch"

// Close releases the scratch, removing it when remove is set.
func (s *Scratch) Close(remove bool) error {
	var err error
	if remove {
		err = os.RemoveAll(s.Dir)
	}
	if s.lock != nil {
		s.lock.Release()
	}
	return err
}

// Restore restores date_str's backup of the instance's port into the
// scratch as a copy: its my.cnf relocated, no replication channels, no
// catch-up pending.
func (s *Scratch) Restore(ctx context.Context, term io.Writer) (*restore.Result, error) {
	// Planned first: a scratch usually shares the datadir's filesystem,
	// which it must not fill.
	plan, err := restore.DryRun(ctx, s.In)
	if err != nil {
		return nil, err
	}
	if len(plan.Short) > 0 {
		return nil, fmt.Errorf("scratch %s: %s", s.Dir, plan.Short[0])
	}
	return restore.Run(ctx, s.In, restore.Options{Copy: true, Term: term, CopyOptions: []string{"innodb_buffer_pool_size = " + BufferPool}})
}

// RunDir is where the copy runs as a temporary server.
func (s *Scratch) RunDir() string { return filepath.Join(s.Dir, "check") }

// Start starts the restored copy as a temporary server: its private
// socket, no networking (its own outgoing replication connections work),
// no replica threads at start, binary logging as its my.cnf says, the
// temporary server id, and extra.
func (s *Scratch) Start(ctx context.Context, extra ...string) (*mysqld.TempServer, error) {
	cfg := s.In.Cfg
	return s.In.StartTemp(ctx, cfg.MySQLDataDir, s.RunDir(), true, append([]string{"--server-id=" + string(cfg.TmpServerID)}, extra...)...)
}

// ErrorLog is the copy's error log while Start's server runs.
func (s *Scratch) ErrorLog() string { return filepath.Join(s.RunDir(), "mysqld.err") }

// configFor is the config of the copy: the instance's, with every path
// the instance owns moved under dir, a free port, the backups (and binlog
// archive) of the instance's port as the source, no metrics (the caller
// writes its own), and the unpacked backup removed after its restore.
func configFor(cfg *conf.Config, dir string, port int) *conf.Config {
	c := *cfg
	if c.FromPort == "" {
		c.FromPort = cfg.Port
	}
	c.Port = conf.Number(strconv.Itoa(port))
	c.DataBase = filepath.Join(dir, "data")
	c.MySQLDataDir = filepath.Join(c.DataBase, "mysql-"+string(c.Port))
	c.MySQLMyCnf = filepath.Join(c.MySQLDataDir, "my.cnf")
	c.MySQLSocket = filepath.Join(dir, "run", "mysqld.sock")
	c.MySQLPidPath = filepath.Join(dir, "run", "mysqld.pid")
	// The unpacked dirs keep the instance's names (a legacy archive's
	// entries carry them) under the scratch's own backup_base.
	c.BackupBase = filepath.Join(dir, "backup")
	c.BackupDataDir = filepath.Join(c.BackupBase, c.BackupDataTail)
	c.BackupMyCnf = filepath.Join(c.BackupDataDir, "my.cnf")
	c.BackupBinlogDir = filepath.Join(c.BackupBase, c.BackupBinlogTail)
	c.MetricsFile = ""
	c.CleanAfterRestore = true
	return &c
}

// refuseOwned refuses a scratch that is, holds or lies in what the
// instance owns.
func refuseOwned(cfg *conf.Config, dir string) error {
	for _, p := range []string{cfg.MySQLDataDir, filepath.Dir(cfg.MySQLSocket), filepath.Dir(cfg.MySQLPidPath), cfg.BackupDataDir, cfg.BackupBinlogDir} {
		if p == "" || p == "." {
			continue
		}
		if instance.Inside(p, dir) || instance.Inside(dir, p) || filepath.Clean(p) == dir {
			return fmt.Errorf("scratch dir %s overlaps %s, which the instance owns", dir, p)
		}
	}
	return nil
}

// clearStale removes the scratch an earlier, killed run left: first every
// server still running on it (a pid file under it whose process runs
// from it), then the dir.
func clearStale(in *instance.Instance, dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, Marker)); err != nil {
		return fmt.Errorf("%s exists and is not a scratch of mysqlbackup (no %s in it): refusing to use or remove it; give another --scratch-dir", dir, Marker)
	}
	in.Log.Info("clearing the scratch of an earlier run", "dir", dir)
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".pid") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 1 || !runsFrom(pid, dir) {
			return nil
		}
		in.Log.Warn("stopping the server of an earlier run on the scratch", "pid", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for deadline := time.Now().Add(time.Minute); instance.ProcessAlive(pid) && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		if instance.ProcessAlive(pid) {
			return fmt.Errorf("process %d of the earlier run on the scratch does not end", pid)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// runsFrom says whether process pid's command line names dir.
func runsFrom(pid int, dir string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(data, []byte(dir))
}

// freePort is a TCP port free on the loopback now, for the copy's my.cnf
// (its start proof listens there).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
