package testbed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlbackup/mysqlbackup/internal/proc"
)

// ReplUser and ReplPassword are the replication account every instance has.
const (
	ReplUser     = "repl"
	ReplPassword = "repl-pw-7f3a"
)

// Instance is one throw-away MariaDB server in the legacy layout:
//
//	Dir/data/mysql-<port>/       datadir, holding my.cnf
//	Dir/conf/                    conf_base: my.cnf (the runtime copy), des3_password
//	Dir/backup/                  backup_base
//	Dir/run/mysqld.sock, .pid    socket and pid file
//	Dir/error.log                server log (outside the datadir, kept on failure)
type Instance struct {
	ID           int // server_id and gtid_domain_id
	Port         int
	Dir          string
	DataBase     string
	DataDir      string
	ConfBase     string
	BackupBase   string
	MyCnf        string // the datadir's my.cnf
	Socket       string
	PidFile      string
	ErrorLog     string
	RootPassword string

	t    testing.TB
	proc *proc.Process
	done chan error
}

// StartMariaDB creates a fresh instance with server_id and gtid_domain_id
// id, starts it, and stops it when the test ends.
func StartMariaDB(t testing.TB, id int) *Instance {
	t.Helper()
	Need(t, "mariadbd", "mariadb-install-db")
	dir := TempDir(t)
	port := FreePort(t)
	in := &Instance{
		ID: id, Port: port, Dir: dir,
		DataBase:     filepath.Join(dir, "data"),
		DataDir:      filepath.Join(dir, "data", "mysql-"+strconv.Itoa(port)),
		ConfBase:     filepath.Join(dir, "conf"),
		BackupBase:   filepath.Join(dir, "backup"),
		Socket:       filepath.Join(dir, "run", "mysqld.sock"),
		PidFile:      filepath.Join(dir, "run", "mysqld.pid"),
		ErrorLog:     filepath.Join(dir, "error.log"),
		RootPassword: fmt.Sprintf("root-pw-%d-%d", id, port),
		t:            t,
	}
	in.MyCnf = filepath.Join(in.DataDir, "my.cnf")
	for _, d := range []string{in.DataBase, in.ConfBase, in.BackupBase, filepath.Dir(in.Socket), in.tmpDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		in.Stop()
		keepLog(t, in.ErrorLog, fmt.Sprintf("mariadb-%d", id))
	})
	in.install()
	in.Start()
	in.secure()
	return in
}

// Cnf is the instance's my.cnf. The legacy tool reads the server's paths
// from it, and mariabackup finds the datadir and socket through it.
func (in *Instance) Cnf() string {
	return fmt.Sprintf(`[client]
socket=%[4]s
port=%[2]d

[mysqld]
user=root
datadir=%[3]s
port=%[2]d
bind-address=127.0.0.1
socket=%[4]s
pid-file=%[5]s
log-error=%[6]s
tmpdir=%[7]s
server-id=%[1]d
gtid_domain_id=%[1]d
log-bin=mysql-bin
relay-log=relay-bin
log_slave_updates=ON
binlog_format=ROW
skip-name-resolve
innodb_buffer_pool_size=64M
innodb_log_file_size=32M
innodb_use_native_aio=0
performance_schema=OFF
max_connections=50
`, in.ID, in.Port, in.DataDir, in.Socket, in.PidFile, in.ErrorLog, in.tmpDir())
}

// tmpDir is the instance's own tmpdir: servers bootstrapped in parallel
// must not share temporary table files.
func (in *Instance) tmpDir() string { return filepath.Join(in.Dir, "tmp") }

func (in *Instance) install() {
	in.t.Helper()
	err := proc.Run(in.t.Context(), proc.Spec{Name: mustLook(in.t, "mariadb-install-db"), Args: []string{
		"--no-defaults", "--datadir=" + in.DataDir, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve",
	}, Env: []string{"TMPDIR=" + in.tmpDir()}})
	if err != nil {
		in.t.Fatalf("mariadb-install-db: %v", err)
	}
	cnf := []byte(in.Cnf())
	for _, p := range []string{in.MyCnf, filepath.Join(in.ConfBase, "my.cnf")} {
		if err := os.WriteFile(p, cnf, 0o644); err != nil {
			in.t.Fatal(err)
		}
	}
}

// Start starts mariadbd on the instance's datadir with its runtime my.cnf
// (conf_base/my.cnf, which survives a wiped datadir) and waits until it
// answers a query.
func (in *Instance) Start(extraArgs ...string) {
	in.t.Helper()
	args := append([]string{"--defaults-file=" + filepath.Join(in.ConfBase, "my.cnf")}, extraArgs...)
	p, err := proc.Start(context.WithoutCancel(in.t.Context()), proc.Spec{
		Name: mustLook(in.t, "mariadbd"), Args: args, DieWithParent: true, WaitDelay: time.Minute,
	})
	if err != nil {
		in.t.Fatalf("start mariadbd %d: %v", in.ID, err)
	}
	in.proc, in.done = p, make(chan error, 1)
	go func() { in.done <- p.Wait() }()
	if err := in.waitReady(60 * time.Second); err != nil {
		in.Stop()
		in.t.Fatalf("mariadbd %d not ready: %v", in.ID, err)
	}
}

// waitReady waits until the socket exists and a query works, or the
// server exits, or the timeout passes.
func (in *Instance) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-in.done:
			in.done <- err
			return fmt.Errorf("mariadbd exited during startup: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := os.Stat(in.Socket); err != nil {
			continue
		}
		if err := in.ping(); err == nil {
			return nil
		}
	}
	return fmt.Errorf("no answer on %s after %s", in.Socket, timeout)
}

func (in *Instance) ping() error {
	for _, pw := range []string{in.RootPassword, ""} {
		db, err := sql.Open("mysql", in.dsn(pw))
		if err != nil {
			return err
		}
		err = db.PingContext(in.t.Context())
		db.Close()
		if err == nil {
			return nil
		}
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1045 { // 1045: before secure() sets the password
			return err
		}
	}
	return errors.New("access denied")
}

// Running says whether this harness's mariadbd process is alive.
func (in *Instance) Running() bool {
	if in.proc == nil {
		return false
	}
	select {
	case err := <-in.done:
		in.done <- err
		return false
	default:
		return true
	}
}

// Stop stops the server with SIGTERM and waits; after a minute it kills it.
func (in *Instance) Stop() { in.stop(syscall.SIGTERM) }

// Kill stops the server with SIGKILL, as a crash would.
func (in *Instance) Kill() { in.stop(syscall.SIGKILL) }

func (in *Instance) stop(sig syscall.Signal) {
	if !in.Running() {
		return
	}
	_ = in.proc.Signal(sig)
	select {
	case <-in.done:
	case <-time.After(time.Minute):
		_ = in.proc.Signal(syscall.SIGKILL)
		<-in.done
	}
	in.proc = nil
}
