package binlogsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/mysqlbackup/mysqlbackup/internal/proc"
)

// ReadIndex returns the binlog names of an index file in order ("./name"
// and absolute entries are reduced to their base names).
func ReadIndex(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("binlog index: %w", err)
	}
	var names []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			names = append(names, filepath.Base(l))
		}
	}
	return names, nil
}

// OpenIndex is the one *.index file of a binlog dir and the names it lists.
func OpenIndex(dir string) (path string, names []string, err error) {
	if path, err = FindIndex(dir); err != nil {
		return "", nil, err
	}
	names, err = ReadIndex(path)
	return path, names, err
}

// FindIndex returns the one *.index file of a binlog dir.
func FindIndex(dir string) (string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*.index"))
	if err != nil || len(m) != 1 {
		return "", fmt.Errorf("binlog dir %s: want exactly one *.index file, found %d", dir, len(m))
	}
	return m[0], nil
}

// ReplayPlan is the part of the binlogs a restore replays: every
// transaction after the snapshot position.
type ReplayPlan struct {
	Dir   string
	Files []string // from the snapshot file on, in index order
	Pos   uint64   // start position in Files[0]
	// StartGTID, when set, starts by GTIDs instead of Pos (MariaDB): in
	// each domain, only what follows its GTID in the list is replayed
	// (the binlogs of another server than the backup's, after a failover).
	StartGTID string
}

// PlanReplay picks the files from the snapshot file on. Files before it
// are not read at all.
func PlanReplay(dir string, index []string, file string, pos uint64) (ReplayPlan, error) {
	for i, name := range index {
		if name == file {
			return ReplayPlan{Dir: dir, Files: index[i:], Pos: pos}, nil
		}
	}
	return ReplayPlan{}, fmt.Errorf("the backup's binlogs do not hold the snapshot file %s (they run %s)", file, strings.Join(index, ", "))
}

// Replayer applies binlogs to a server with the stock tools: one binlog
// tool run (mariadb-binlog / mysqlbinlog) writing into one client
// (mariadb / mysql).
type Replayer struct {
	BinlogBin string // mysqlbinlog / mariadb-binlog
	ClientBin string // mysql / mariadb
	// ClientDefaults is a 0600 option file with the credentials, the
	// socket and protocol=socket of the server to apply to. It is the
	// client's only option file: no global one is read.
	ClientDefaults string
	Log            *slog.Logger
}

// Replay applies the plan in one client session, with binary logging off
// for it: one binlog tool run reads every file (--start-position applies
// to the first) and writes straight into the client's stdin through an OS
// pipe, so that a statement-based binlog's temporary tables live across
// file boundaries and nothing of ours stands between the two tools. The
// first tool to fail fails the replay at once, naming the tool and its
// stderr; the other is stopped. Ending ctx stops both.
func (r Replayer) Replay(ctx context.Context, p ReplayPlan) error {
	if len(p.Files) == 0 {
		return nil
	}
	run, stop := context.WithCancel(ctx)
	defer stop()
	tools, err := r.start(run, p)
	if err != nil {
		stop()
	}
	if werr := watch(tools, stop); err == nil {
		err = werr
	}
	if err != nil && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if err == nil {
		r.Log.Info("binlogs replayed", "files", len(p.Files), "from", p.Files[0], "pos", p.Pos)
	}
	return err
}

// clientArgs are the client's arguments: the option file first (the only
// place the client accepts --defaults-file), binary mode (binlog output
// holds NUL bytes and \r\n inside statements), no reconnect (a new session
// would lose the replay's temporary tables and session settings), and
// only the ERROR line on a failure, not the statement (a BINLOG statement
// is lines of base64; MariaDB's client only, hence loose).
func (r Replayer) clientArgs() []string {
	return []string{"--defaults-file=" + r.ClientDefaults, "--binary-mode", "--batch", "--skip-reconnect",
		"--loose-skip-print-query-on-error"}
}

// binlogArgs are the binlog tool's arguments for p: no option file at all,
// SET sql_log_bin=0 in its output, every file in order.
func binlogArgs(p ReplayPlan) []string {
	start := strconv.FormatUint(p.Pos, 10)
	if p.StartGTID != "" {
		start = p.StartGTID
	}
	args := []string{"--no-defaults", "--disable-log-bin", "--start-position=" + start}
	for _, name := range p.Files {
		args = append(args, filepath.Join(p.Dir, name))
	}
	return args
}

// tool is a started replay tool and its role in the replay.
type tool struct {
	role string
	p    *proc.Process
}

// start starts the client reading an OS pipe, then the binlog tool
// writing it, and keeps no end of the pipe: the binlog tool's exit is the
// client's EOF, and the client's exit the binlog tool's broken pipe. It
// returns the tools that started.
func (r Replayer) start(ctx context.Context, p ReplayPlan) ([]tool, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("replay pipe: %w", err)
	}
	defer pw.Close()
	// MySQL clients read ~/.mylogin.cnf even after --defaults-file: not here.
	spec := proc.Spec{Name: r.ClientBin, Args: r.clientArgs(), Stdin: pr, Log: r.Log, DieWithParent: true, Env: []string{"MYSQL_TEST_LOGIN_FILE=/dev/null"}}
	client, err := proc.Start(ctx, spec)
	pr.Close()
	if err != nil {
		return nil, toolError{"client", err}
	}
	tools := []tool{{"client", client}}
	spec = proc.Spec{Name: r.BinlogBin, Args: binlogArgs(p), Stdout: pw, Log: r.Log, DieWithParent: true}
	binlog, err := proc.Start(ctx, spec)
	if err != nil {
		return tools, toolError{"binlog tool", err}
	}
	return append(tools, tool{"binlog tool", binlog}), nil
}

// watch waits for every tool and returns the replay's failure: the first
// tool to fail, whereupon the others are stopped (a client must not apply
// a partial stream as if whole, a binlog tool nobody reads must not wait)
// and their forced exits are not the cause. A binlog tool killed by a
// broken pipe only says that the client stopped reading: the client's
// own exit says why.
func watch(tools []tool, stop context.CancelFunc) error {
	exits := make(chan toolError, len(tools))
	for _, t := range tools {
		go func() { exits <- toolError{t.role, reportedError(t)} }()
	}
	var first, brokenPipe error
	for range tools {
		switch e := <-exits; {
		case e.err == nil || first != nil:
		case e.brokenPipe():
			brokenPipe = e
		default:
			first = e
			stop()
		}
	}
	if first == nil {
		return brokenPipe
	}
	return first
}

// reportedError waits for t. mariadb-binlog exits 0 after a file that
// ends inside an event (a cut or damaged binlog), saying only "ERROR: …"
// on stderr: that is a failure too, or a partial transaction would pass
// for the delta.
func reportedError(t tool) error {
	err := t.p.Wait()
	if err == nil && t.role == "binlog tool" && strings.Contains(t.p.Tail(), "ERROR:") {
		return fmt.Errorf("%s exited 0 but reported: %s", t.role, t.p.Tail())
	}
	return err
}

// toolError is a replay tool that failed, described on one line: which
// tool in which role, how it ended, the tail of its stderr.
type toolError struct {
	role string
	err  error
}

func (e toolError) Error() string {
	var pe *proc.ExitError
	if !errors.As(e.err, &pe) {
		return fmt.Sprintf("%s: %v", e.role, e.err)
	}
	s := fmt.Sprintf("%s (%s) %s", pe.Name, e.role, ended(pe.Err))
	if pe.Tail != "" {
		s += ": " + pe.Tail
	}
	return s
}

func (e toolError) Unwrap() error { return e.err }

// brokenPipe says the tool was killed by SIGPIPE: it wrote to a pipe
// nobody reads any more.
func (e toolError) brokenPipe() bool {
	sig, ok := signalOf(e.err)
	return ok && sig == syscall.SIGPIPE
}

// ended says how a process ended: its exit status or its signal.
func ended(err error) string {
	if sig, ok := signalOf(err); ok {
		return "ended by signal: " + sig.String()
	}
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		return "exited with status " + strconv.Itoa(xe.ExitCode())
	}
	return "failed: " + err.Error()
}

func signalOf(err error) (syscall.Signal, bool) {
	var xe *exec.ExitError
	if !errors.As(err, &xe) {
		return 0, false
	}
	ws, ok := xe.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return ws.Signal(), true
}
