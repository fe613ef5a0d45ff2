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

// Layout is how an instance's my.cnf names its files. Production my.cnf
// files differ in exactly the options the server derives file names from,
// so the tests run each of them.
type Layout string

// The layouts the tests cover. LayoutLegacy is the default: what the
// legacy tool's defaults give (pid-file /var/run/mysqld/mysqld-{port}.pid,
// log-bin={datadir}/mysql-bin, no relay-log, no log-basename), so relay
// logs are named after the pid-file.
const (
	LayoutLegacy         Layout = "legacy"           // pid-file mysqld-{port}.pid in the run dir, log-bin={datadir}/mysql-bin
	LayoutLogBasename    Layout = "log-basename"     // + log-basename=db{port}: relay logs and binlog index named after it
	LayoutRelayPaths     Layout = "relay-paths"      // + explicit relay-log and relay-log-index outside the datadir
	LayoutBareLogBin     Layout = "bare-log-bin"     // log-bin without a value: binlogs named after the pid-file
	LayoutNoPidFile      Layout = "no-pid-file"      // no pid-file: relay logs named after the host name
	LayoutBinlogDir      Layout = "binlog-dir"       // log-bin on a directory of its own, outside the datadir
	LayoutRelayInDatadir Layout = "relay-in-datadir" // relay-log in a subdirectory of the datadir
)

// Options choose an instance's identity and place. The zero value of each
// field but ID has a default.
type Options struct {
	ID     int    // server_id and gtid_domain_id
	Layout Layout // default LayoutLegacy
	// Host is the loopback address the server binds, its "host": a second
	// member of a group on another host binds 127.0.0.2 with the same port.
	Host string // default 127.0.0.1
	Port int    // default a free port
	// RunDir holds socket and pid-file, shared by every port of one host
	// like /var/run/mysqld. Default: a directory of the instance's own.
	RunDir string
	// RootPassword is root's password; members of one group share theirs
	// (mysql.* replicates). Default: one of the instance's own.
	RootPassword string
	// ExtraCnf is appended to the [mysqld] group of my.cnf.
	ExtraCnf string
}

// Instance is one throw-away MariaDB server in the legacy layout:
//
//	Dir/data/mysql-<port>/       datadir, holding my.cnf (what the normal start reads)
//	Dir/conf/                    conf_base: my.cnf (this host's own), des3_password
//	Dir/backup/                  backup_base
//	RunDir/mysqld-<port>.sock    socket; mysqld-<port>.pid its pid file (but LayoutNoPidFile)
//	Dir/error.log                server log (outside the datadir, kept on failure)
type Instance struct {
	ID           int // server_id and gtid_domain_id
	Host         string
	Port         int
	Layout       Layout
	ExtraCnf     string
	Dir          string
	DataBase     string
	DataDir      string
	ConfBase     string
	BackupBase   string
	MyCnf        string // the datadir's my.cnf
	Socket       string
	PidFile      string // "" in LayoutNoPidFile
	ErrorLog     string
	RootPassword string

	t    testing.TB
	proc *proc.Process
	done chan error
}

// StartMariaDB creates a fresh instance in the legacy layout with
// server_id and gtid_domain_id id, starts it, and stops it when the test
// ends.
func StartMariaDB(t testing.TB, id int) *Instance {
	t.Helper()
	return StartMariaDBWith(t, Options{ID: id})
}

// StartMariaDBWith creates, starts and (when the test ends) stops an
// instance as o says.
func StartMariaDBWith(t testing.TB, o Options) *Instance {
	t.Helper()
	Need(t, "mariadbd", "mariadb-install-db")
	dir := TempDir(t)
	if o.Port == 0 {
		o.Port = FreePort(t)
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Layout == "" {
		o.Layout = LayoutLegacy
	}
	if o.RunDir == "" {
		o.RunDir = filepath.Join(dir, "run")
	}
	port := strconv.Itoa(o.Port)
	in := &Instance{
		ID: o.ID, Host: o.Host, Port: o.Port, Layout: o.Layout, ExtraCnf: o.ExtraCnf, Dir: dir,
		DataBase:     filepath.Join(dir, "data"),
		DataDir:      filepath.Join(dir, "data", "mysql-"+port),
		ConfBase:     filepath.Join(dir, "conf"),
		BackupBase:   filepath.Join(dir, "backup"),
		Socket:       filepath.Join(o.RunDir, "mysqld-"+port+".sock"),
		PidFile:      filepath.Join(o.RunDir, "mysqld-"+port+".pid"),
		ErrorLog:     filepath.Join(dir, "error.log"),
		RootPassword: fmt.Sprintf("root-pw-%d-%d", o.ID, o.Port),
		t:            t,
	}
	if o.Layout == LayoutNoPidFile {
		in.PidFile = ""
	}
	if o.RootPassword != "" {
		in.RootPassword = o.RootPassword
	}
	in.MyCnf = filepath.Join(in.DataDir, "my.cnf")
	for _, d := range []string{in.DataBase, in.ConfBase, in.BackupBase, o.RunDir, in.tmpDir(), in.relayDir(), in.BinlogDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		in.Stop()
		keepLog(t, in.ErrorLog, fmt.Sprintf("mariadb-%d", o.ID))
	})
	in.install()
	in.Start()
	in.secure()
	return in
}

// Cnf is the instance's my.cnf. The legacy tool reads the server's paths
// from it, and mariabackup finds the datadir and socket through it.
func (in *Instance) Cnf() string {
	cnf := fmt.Sprintf(`[client]
socket=%[4]s
port=%[2]d

[mysqld]
user=root
datadir=%[3]s
port=%[2]d
bind-address=%[7]s
socket=%[4]s
log-error=%[5]s
tmpdir=%[6]s
server-id=%[1]d
gtid_domain_id=%[1]d
log_slave_updates=ON
binlog_format=ROW
skip-slave-start
skip-name-resolve
innodb_buffer_pool_size=64M
innodb_log_file_size=32M
innodb_use_native_aio=0
performance_schema=OFF
max_connections=50
`, in.ID, in.Port, in.DataDir, in.Socket, in.ErrorLog, in.tmpDir(), in.Host)
	if in.PidFile != "" {
		cnf += "pid-file=" + in.PidFile + "\n"
	}
	switch in.Layout {
	case LayoutBareLogBin:
		cnf += "log-bin\n"
	case LayoutBinlogDir:
		cnf += "log-bin=" + filepath.Join(in.BinlogDir(), "mysql-bin") + "\n"
	default:
		cnf += "log-bin=" + filepath.Join(in.DataDir, "mysql-bin") + "\n"
	}
	switch in.Layout {
	case LayoutLogBasename:
		cnf += fmt.Sprintf("log-basename=db%d\n", in.Port)
	case LayoutRelayPaths:
		cnf += fmt.Sprintf("relay-log=%s\nrelay-log-index=%s\n", filepath.Join(in.relayDir(), "relay-bin"), filepath.Join(in.relayDir(), "relay-bin.index"))
	case LayoutRelayInDatadir:
		cnf += "relay-log=" + filepath.Join(in.DataDir, "relay", "relay-bin") + "\n"
	}
	return cnf + in.ExtraCnf
}

// BinlogDir is where the instance's binlogs are: the datadir, or in
// LayoutBinlogDir a directory of their own (a disk of its own in production).
func (in *Instance) BinlogDir() string {
	if in.Layout == LayoutBinlogDir {
		return filepath.Join(in.Dir, "binlog")
	}
	return in.DataDir
}

// relayDir holds the relay logs of LayoutRelayPaths, outside the datadir.
func (in *Instance) relayDir() string { return filepath.Join(in.Dir, "relay") }

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
	if in.Layout == LayoutRelayInDatadir {
		if err := os.MkdirAll(filepath.Join(in.DataDir, "relay"), 0o755); err != nil {
			in.t.Fatal(err)
		}
	}
	cnf := []byte(in.Cnf())
	for _, p := range []string{in.MyCnf, filepath.Join(in.ConfBase, "my.cnf")} {
		if err := os.WriteFile(p, cnf, 0o644); err != nil {
			in.t.Fatal(err)
		}
	}
}

// Start starts mariadbd as the normal start of production does, with the
// my.cnf in its datadir (after a restore, the one the tool left there),
// and waits until it answers a query.
func (in *Instance) Start(extraArgs ...string) {
	in.t.Helper()
	args := append([]string{"--defaults-file=" + in.MyCnf}, extraArgs...)
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
