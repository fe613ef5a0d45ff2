// Package backup takes a backup of a running instance: the data through
// the engine (xtrabackup or mariabackup), the binary logs written up to
// the end of the data, and the instance's my.cnf, to S3 or a local archive.
//
// The archive format is chosen once per run, as a value: the legacy
// format (one tar | gzip | des3 archive, byte-compatible with
// mysqlbackup.py) or v2 (streamed, zstd and age, one object per part and a
// manifest). Each supplies its own steps and its own abort; the steps they
// share (the checks, the binlog purge, the binlog listing) are here.
package backup

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/binlogsync"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/proc"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/replication"
	"github.com/mysqlbackup/mysqlbackup/xtrabackup"
)

// Options are what a backup is run with besides the instance's config.
type Options struct {
	// Tool names the program and its version in a v2 manifest.
	Tool string
	// Term, when set, draws live progress lines (a terminal).
	Term io.Writer
	// AfterData, when set (tests), runs once the data is backed up and
	// before the binary logs are listed.
	AfterData func(context.Context) error
	// OnEnd, when set, is told the outcome of a run that started, before
	// its cleanup and while it still holds the port's lock (metrics).
	OnEnd func(*Result, error)
	// Scratch, set by FromScratch, is the serving instance a backup of a
	// scratch copy is published for.
	Scratch *ScratchOf
}

// Result is the outcome of a run, failed or not.
type Result struct {
	Phases progress.Phases // the steps that ran, timed
	Size   int64           // bytes stored (0 unless the run succeeded)
	// Summary is the one line that describes a successful backup.
	Summary string
}

// format is an archive format's part of a backup.
type format interface {
	// prepare readies the destination, early in the check step, before
	// the server is asked anything: keys, leftovers of a killed run.
	prepare(ctx context.Context, r *run) error
	// begin makes the run visible in the store, last in the check step.
	begin(ctx context.Context, r *run) error
	// where names the destination for the log.
	where() string
	// tasks are the format's steps after the shared ones.
	tasks(r *run) []progress.Task
	// abort removes what a failed run stored; harmless after success.
	abort()
	// summary describes the stored backup, after the last step.
	summary(r *run) string
}

// newFormat is where the archive format is chosen.
func newFormat(cfg *conf.Config) format {
	if cfg.ArchiveFormat == conf.FormatV2 {
		return &v2Format{}
	}
	return &legacyFormat{}
}

// run is the state of one backup that both formats share.
type run struct {
	in       *instance.Instance
	cfg      *conf.Config
	opts     Options
	progress progress.Reporter
	db       *sql.DB
	engine   xtrabackup.Engine
	creds    string // client option file with the password, in runDir
	runDir   string
	binlogs  binlogsync.Snapshot
	snapshot xtrabackup.BinlogInfo
	size     int64
	// What restore-test checks a restore of this backup against: the
	// GTID position at the binlogs' end (the snapshot's and the delta),
	// the tables that existed on both sides of the binlog listing, and the
	// value sql_test_insert wrote before it.
	endGTID   string
	tables    []string
	testValue string
}

// Run backs up the instance: lock → check → purge → the format's steps.
// A failed run leaves nothing visible as a backup. The result is nil when
// the run did not start: another run holds the port's lock.
func Run(ctx context.Context, in *instance.Instance, o Options) (res *Result, err error) {
	lk, err := in.Lock()
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	res = &Result{}
	r := &run{in: in, cfg: in.Cfg, opts: o, progress: progress.Reporter{Log: in.Log, Term: o.Term}}
	f := newFormat(in.Cfg)
	defer r.cleanup(f)
	if o.OnEnd != nil {
		defer func() { o.OnEnd(res, err) }()
	}
	start := time.Now()
	tasks := append([]progress.Task{
		{Name: "check", Fn: func(ctx context.Context) error { return r.check(ctx, f) }},
		{Name: "purge", Fn: r.purge},
	}, f.tasks(r)...)
	if err := res.Phases.Sequence(ctx, in.Log, tasks...); err != nil {
		return res, err
	}
	res.Size = r.size
	res.Summary = fmt.Sprintf("%s took=%s %s peak_rss=%q", f.summary(r), time.Since(start).Round(10*time.Millisecond), &res.Phases, progress.PeakRSS())
	return res, nil
}

// check fails fast on what would fail late: the destination and its keys,
// leftovers of an earlier run, the server connection, the engine.
func (r *run) check(ctx context.Context, f format) error {
	cfg := r.cfg
	if _, err := os.Stat(r.publishedMyCnf()); err != nil {
		return fmt.Errorf("instance my.cnf: %w", err)
	}
	if err := r.removeStaging(); err != nil {
		return err
	}
	// The engine's dir holds the data unencrypted: root only.
	if err := os.Mkdir(cfg.BackupDataDir, 0o700); err != nil {
		return fmt.Errorf("staging dir: %w", err)
	}
	if err := f.prepare(ctx, r); err != nil {
		return err
	}
	var err error
	if r.db, err = r.in.Admin().Open(); err != nil {
		return err
	}
	version, err := mysqld.ServerVersion(ctx, r.db)
	if err != nil {
		return fmt.Errorf("instance on %s: %w", cfg.MySQLSocket, err)
	}
	srv, err := mysqld.ParseVersion(version)
	if err != nil {
		return err
	}
	if r.engine, err = xtrabackup.Choose(srv, cfg.XtrabackupBin); err != nil {
		return err
	}
	// The credentials live in this run's private dir: a killed run's copy
	// is removed by the next run of the port, never left in backup_base.
	if r.runDir, err = r.in.NewRunDir(); err != nil {
		return err
	}
	if r.creds, _, err = mysqld.WriteClientDefaults(r.runDir, r.in.Admin(), cfg.MySQLMyCnf); err != nil {
		return err
	}
	if err := f.begin(ctx, r); err != nil {
		return err
	}
	r.in.Log.Info("backing up", "server", version, "engine", r.engine.Bin, "to", f.where(), "format", cfg.ArchiveFormat)
	return nil
}

// publishedMyCnf is the my.cnf the backup stores: the instance's (the
// serving instance's for a backup of a scratch copy).
func (r *run) publishedMyCnf() string {
	if r.opts.Scratch != nil {
		return r.opts.Scratch.MyCnf
	}
	return r.cfg.MySQLMyCnf
}

// toolSpec is how the backup tools run: logged, and killed with us if
// mysqlbackup itself is killed, so no copy goes on unattended.
func (r *run) toolSpec() proc.Spec {
	return proc.Spec{Log: r.in.Log, DieWithParent: true}
}

// backupOptions are the engine's options for this run.
func (r *run) backupOptions() xtrabackup.BackupOptions {
	return xtrabackup.BackupOptions{DefaultsFile: r.creds, TargetDir: r.cfg.BackupDataDir, Parallel: r.cfg.Parallel, Throttle: r.cfg.XtrabackupThrottle}
}

// afterData runs the AfterData option, if any.
func (r *run) afterData(ctx context.Context) error {
	if r.opts.AfterData != nil {
		return r.opts.AfterData(ctx)
	}
	return nil
}

// listBinlogs records every binary log and its end, after the data, so
// the binlogs hold every transaction of the data and those since; they
// must hold the snapshot's position and run without a gap from it.
func (r *run) listBinlogs(ctx context.Context) error {
	if err := r.testInsert(ctx); err != nil {
		return err
	}
	before, err := userTables(ctx, r.db)
	if err != nil {
		return err
	}
	s, err := binlogsync.Take(ctx, r.db)
	if err != nil {
		return err
	}
	if err := s.Covers(r.snapshot.File, r.snapshot.Pos); err != nil {
		return err
	}
	after, err := userTables(ctx, r.db)
	if err != nil {
		return err
	}
	for _, t := range before {
		if slices.Contains(after, t) {
			r.tables = append(r.tables, t)
		}
	}
	r.binlogs = s
	r.in.Log.Info("binary logs to copy", "files", len(s.Files), "basename", s.Basename)
	if err := r.followDelta(); err != nil {
		// What restore-test would compare with; the backup stands without.
		r.in.Log.Warn("the GTID position at the binlogs' end is not recorded (restore-test will skip its check)", "err", err)
	}
	return nil
}

// testInsert runs sql_test_insert with a fresh value (the legacy tool's
// time.time(), a number a DOUBLE or VARCHAR column takes) just before the
// binlogs are listed, when sql_test_get_2 is set too: restore-test reads
// it back from the restored copy. Never on a replica or a read-only
// server, where the write would be a transaction its source never had.
func (r *run) testInsert(ctx context.Context) error {
	cfg := r.cfg
	if cfg.SQLTestInsert == "" || cfg.SQLTestGet2 == "" || r.opts.Scratch != nil {
		return nil // a scratch copy is no server to write to: its writes would be in the instance's backup
	}
	var readOnly int
	if err := r.db.QueryRowContext(ctx, "SELECT @@read_only").Scan(&readOnly); err != nil {
		return fmt.Errorf("sql_test_insert: %w", err)
	}
	replica, err := hasChannels(ctx, r.db)
	if err != nil {
		return fmt.Errorf("sql_test_insert: %w", err)
	}
	if readOnly != 0 || replica {
		r.in.Log.Info("sql_test_insert not run: the server is a replica or read-only (restore-test skips its check)")
		return nil
	}
	v := strconv.FormatFloat(float64(time.Now().UnixMicro())/1e6, 'f', 6, 64)
	if _, err := r.db.ExecContext(ctx, strings.ReplaceAll(cfg.SQLTestInsert, "{v}", v)); err != nil {
		return fmt.Errorf("sql_test_insert: %w", err)
	}
	r.testValue = v
	return nil
}

// hasChannels says whether the server replicates from a source.
func hasChannels(ctx context.Context, db *sql.DB) (bool, error) {
	v, err := mysqld.ServerVersion(ctx, db)
	if err != nil {
		return false, err
	}
	srv, err := mysqld.ParseVersion(v)
	if err != nil {
		return false, err
	}
	st, err := replication.ReadStatus(ctx, db, srv)
	return len(st) > 0, err
}

// followDelta reads the server's binlogs from the snapshot to their
// recorded end and records the GTID position there (MariaDB's GTID
// lists; a MySQL GTID set is left unrecorded).
func (r *run) followDelta() error {
	if r.snapshot.GTID != "" && strings.Contains(r.snapshot.GTID, ":") {
		return nil
	}
	var files []binlogarchive.LocalFile
	for _, f := range r.binlogs.Files {
		if len(files) > 0 || f.Name == r.snapshot.File {
			files = append(files, binlogarchive.LocalFile{Name: f.Name, End: uint64(f.Size)})
		}
	}
	gtid, txs, err := binlogarchive.FollowLocal(r.binlogs.Dir, files, binlogarchive.Snapshot{File: r.snapshot.File, Pos: r.snapshot.Pos, GTID: r.snapshot.GTID})
	if err != nil {
		return fmt.Errorf("the binlog delta: %w", err)
	}
	r.endGTID = gtid
	r.in.Log.Info("binlog delta", "transactions", txs, "end_gtid", gtid)
	return nil
}

// userTables lists schema.table of every base table outside the system
// schemas.
func userTables(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED', 'SEQUENCE') AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY 1")
	if err != nil {
		return nil, fmt.Errorf("table list: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// binlogBytes is the size of the binlogs to copy.
func (r *run) binlogBytes() int64 {
	var total int64
	for _, f := range r.binlogs.Files {
		total += f.Size
	}
	return total
}

// addBinlogs writes mysql-<port>-binlog/: the raw binlogs up to their
// recorded ends, and the index; the same entries in both formats.
func (r *run) addBinlogs(tw *archive.TarWriter) error {
	dir, now := r.cfg.BackupBinlogTail, time.Now()
	if err := tw.AddDirEntry(dir, 0o755, now); err != nil {
		return err
	}
	for _, f := range r.binlogs.Files {
		rc, err := r.binlogs.Open(f)
		if err != nil {
			return err
		}
		err = tw.AddReader(path.Join(dir, f.Name), rc, f.Size, 0o640, now)
		rc.Close()
		if err != nil {
			return err
		}
	}
	index := r.binlogs.Index()
	return tw.AddReader(path.Join(dir, r.binlogs.IndexName()), bytes.NewReader(index), int64(len(index)), 0o640, now)
}

// owner is who the archive's entries belong to.
func (r *run) owner() archive.Owner {
	return archive.Owner{User: r.cfg.MySQLUser, Group: r.cfg.MySQLUserGroup}
}

// cleanup runs on every path: what a failed run stored, the credentials,
// the staging dir, the connection.
func (r *run) cleanup(f format) {
	f.abort()
	if r.runDir != "" {
		os.RemoveAll(r.runDir)
	}
	if err := r.removeStaging(); err != nil {
		r.in.Log.Warn("staging dir not removed", "err", err)
	}
	if r.db != nil {
		r.db.Close()
	}
}

// removeStaging removes the engine's backup dir (the binlog dir of the
// legacy tool too, in case an old run left one).
func (r *run) removeStaging() error {
	return errors.Join(os.RemoveAll(r.cfg.BackupDataDir), os.RemoveAll(r.cfg.BackupBinlogDir))
}
