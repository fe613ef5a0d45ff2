// Package restore rebuilds a stopped, wiped instance from a backup, and
// verifies backups without restoring them.
//
// A restore never touches the datadir until the new one is complete: it
// downloads and checks the backup under backup_base, copies it back into
// a staging datadir, makes that datadir this host's own (its my.cnf, its
// binlogs where log-bin puts them), replays the binlog delta on a
// temporary server, renames the stage into place and proves that the
// normal start of the datadir works. Markers make every unfinished state
// visible (InProgress) and redoable.
//
// Where the backup comes from is one source: the legacy archive (local or
// S3) or a v2 backup (manifest and objects), chosen once by find.
package restore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/binlogsync"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/proc"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/replication"
	"github.com/mysqlbackup/mysqlbackup/xtrabackup"
)

// Options are what a restore or a verify is run with besides the
// instance's config.
type Options struct {
	// Term, when set, draws live progress lines (a terminal).
	Term io.Writer
	// BeforeReplay, when set (tests), runs once the temporary server
	// answers and before the delta replay.
	BeforeReplay func(context.Context) error
	// OnEnd, when set, is told the outcome of a restore that started,
	// before its cleanup and while it still holds the port's lock.
	OnEnd func(*Result, error)
	// Until, when set, makes it a point-in-time restore (see Until).
	Until *Until
	// Copy makes it a copy beside the instance (restore-test's scratch):
	// the datadir starts from a my.cnf relocated to the config's place
	// (this host's own, else the backup's), without the backup's
	// replication channels, and waits for no catch-up.
	Copy bool
	// CopyOptions ("option=value") are added to the copy's my.cnf
	// [mysqld] group: a scratch beside the serving instance must not take
	// its memory (innodb_buffer_pool_size).
	CopyOptions []string
}

// Result is the outcome of a restore, failed or not.
type Result struct {
	Phases progress.Phases // the steps that ran, timed
	Size   int64           // the backup's stored size, once it is found
	// Summary is the one line that describes a successful restore.
	Summary string
	// Recorded is what the backup recorded for restore-test's checks.
	Recorded Recorded
}

// Recorded is what a backup recorded about itself for restore-test: the
// GTID position at its binlogs' end, the tables it listed (Tables nil
// when it recorded none; TableCount when too many to list) and the
// sql_test_insert value.
type Recorded struct {
	EndGTID    string
	Tables     []string
	TableCount int
	TestValue  string
}

// run is the state of one restore.
type run struct {
	in        *instance.Instance
	cfg       *conf.Config
	opts      Options
	progress  progress.Reporter
	src       source
	stage     *stage // where the new datadir is built
	runDir    string // the temporary mysqld's socket, pid and log
	creds     string
	engine    xtrabackup.Engine
	snapshot  xtrabackup.BinlogInfo
	index     []string // binlog names, from indexPath
	indexPath string
	place     binlogPlace // where the binlogs go
	published bool        // the datadir is in place (undone if the proof fails)
	replayed  int
	binlogEnd string // file:size of the last binlog put back
	done      bool
	plan      *PlanReport     // a point-in-time restore's
	base      *catalog.Backup // the backup it starts from
	// archived: the backup's binlogs are in the binlog archive, not in
	// it; the delta is taken from there (a point-in-time plan whose
	// target is the backup's binlog end), and the restore is otherwise a
	// normal one.
	archived bool
	earlier  []string // its archived binlogs before the snapshot's file
}

// Run restores the backup of date_str ("latest": the newest complete
// one): refuse → download and check → copy back into a staging datadir →
// identity → delta replay on a temporary mysqld → binlogs back → chown →
// into place → start proof. A failed restore leaves no datadir behind but
// an unfinished one, marked as such. The result is nil when the run did
// not start: another run holds the port's lock.
func Run(ctx context.Context, in *instance.Instance, o Options) (res *Result, err error) {
	lk, err := in.Lock()
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	r := &run{in: in, cfg: in.Cfg, opts: o, progress: progress.Reporter{Log: in.Log, Term: o.Term}}
	defer r.cleanup()
	if r.runDir, err = in.NewRunDir(); err != nil {
		return nil, err
	}
	res = &Result{}
	if o.OnEnd != nil {
		defer func() { o.OnEnd(res, err) }()
	}
	start := time.Now()
	if err := res.Phases.Sequence(ctx, in.Log, progress.Task{Name: "check", Fn: r.check}); err != nil {
		return res, err
	}
	res.Size, res.Recorded = r.src.size(), r.src.recorded()
	var tasks []progress.Task
	if r.opts.Until != nil {
		tasks = append(tasks, progress.Task{Name: "archive", Fn: r.planArchive})
	}
	tasks = append(tasks, r.src.fetch(r)...)
	if r.opts.Until != nil {
		tasks = append(tasks, progress.Task{Name: "until", Fn: r.useArchive})
	}
	tasks = append(tasks,
		progress.Task{Name: "copy-back", Fn: r.copyBack}, progress.Task{Name: "identity", Fn: r.identity},
		progress.Task{Name: "replay", Fn: r.replay}, progress.Task{Name: "binlogs", Fn: r.binlogsBack},
		progress.Task{Name: "finish", Fn: r.finish}, progress.Task{Name: "verify-start", Fn: r.verifyStart})
	if err := res.Phases.Sequence(ctx, in.Log, tasks...); err != nil {
		return res, err
	}
	pending := ""
	if r.needsCatchup() {
		pending = " catchup=pending"
	}
	if r.archived {
		pending += fmt.Sprintf(" binlogs=archive:%s transactions=%d", r.plan.Archive.Prefix, r.plan.Archive.Transactions)
	} else if r.plan != nil {
		a := r.plan.Archive
		pending = fmt.Sprintf(" until=%s stop=%s stop_gtid=%q transactions=%d", a.Target, a.Stop, a.StopGTID, a.Transactions)
	}
	res.Summary = fmt.Sprintf("datadir=%s from %s snapshot=%s:%d gtid=%q binlog_end=%s replayed=%d%s took=%s %s",
		r.cfg.MySQLDataDir, r.src, r.snapshot.File, r.snapshot.Pos, r.snapshot.GTID, r.binlogEnd, r.replayed, pending,
		time.Since(start).Round(10*time.Millisecond), &res.Phases)
	return res, nil
}

// check refuses, before anything is downloaded, what would lose data: a
// running instance, a non-empty datadir, a missing backup.
func (r *run) check(ctx context.Context) error {
	cfg := r.cfg
	if err := refuseLive(ctx, r.in); err != nil {
		return err
	}
	var err error
	if r.stage, err = newStage(cfg.MySQLDataDir); err != nil {
		return err
	}
	if err := r.stage.check(); err != nil {
		return err
	}
	date := ""
	if r.opts.Until != nil {
		b, err := chooseUntil(ctx, r.in, r.opts.Until.Target)
		if err != nil {
			return err
		}
		r.base, date = &b, b.Date
		r.in.Log.Info("point-in-time restore: the newest backup before the target", "until", r.opts.Until.Target, "backup", b.Date, "snapshot", b.Position)
	}
	if r.src, err = find(ctx, r.in, r.progress, date); err != nil {
		return err
	}
	if err := r.deltaFromArchive(); err != nil {
		return err
	}
	if v, ok := r.src.(*v2Source); ok {
		srv, err := mysqld.ParseVersion(v.manifest.ServerVersion)
		if err != nil {
			return fmt.Errorf("%s: %w", v, err)
		}
		if err := r.refuseVersions(ctx, srv); err != nil {
			return err
		}
	}
	// Once the backup to restore is known, what an earlier killed or
	// failed restore left goes: its unfinished datadir (marked until it is
	// gone) and its work.
	if InProgress(cfg.MySQLDataDir) {
		if err := untouchedSince(cfg); err != nil {
			return err
		}
		r.in.Log.Info("clearing the unfinished restore in the data dir", "dir", cfg.MySQLDataDir)
	}
	if err := errors.Join(r.stage.clearUnfinished(), r.removeWork()); err != nil {
		return err
	}
	return makeStaging(cfg)
}

// refuseVersions refuses a backup of srv that the installed server and
// engine cannot restore (see the package function of that name).
func (r *run) refuseVersions(ctx context.Context, srv mysqld.Version) error {
	var inst Installed
	inst.Server, inst.ServerVersion = installedServer(ctx, r.in)
	if e, err := xtrabackup.Choose(srv, r.cfg.XtrabackupBin); err == nil {
		inst.Engine, inst.EngineVersion = e.Bin, engineVersion(ctx, e.Bin)
	}
	return refuseVersions(srv, inst)
}

// makeStaging creates the dirs the backup is unpacked into, for root
// only: they hold the data unencrypted (the tools then add to them).
func makeStaging(cfg *conf.Config) error {
	for _, d := range []string{cfg.BackupDataDir, cfg.BackupBinlogDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return fmt.Errorf("staging dir: %w", err)
		}
	}
	return nil
}

func (r *run) toolSpec() proc.Spec { return proc.Spec{Log: r.in.Log, DieWithParent: true} }

// copyBack puts the prepared backup into the staging datadir with the
// engine, using the my.cnf taken with the backup, as the legacy tool did.
func (r *run) copyBack(ctx context.Context) error {
	cfg := r.cfg
	srv, err := xtrabackup.ReadServer(cfg.BackupDataDir)
	if err != nil {
		return err
	}
	if err := r.refuseVersions(ctx, srv); err != nil {
		return err
	}
	if r.engine, err = xtrabackup.Choose(srv, cfg.XtrabackupBin); err != nil {
		return err
	}
	if r.snapshot, err = xtrabackup.ReadBinlogInfo(cfg.BackupDataDir); err != nil {
		return err
	}
	if _, err := os.Stat(cfg.BackupMyCnf); err != nil {
		return fmt.Errorf("the backup holds no my.cnf: %w", err)
	}
	copyBackFile := r.in.CopyBackOptionFile
	if r.copy() {
		copyBackFile = r.in.RelocatedCopyBackFile
	}
	defaults, err := copyBackFile(cfg.BackupMyCnf, r.runDir)
	if err != nil {
		return err
	}
	if err := reduceEngineOptions(r.in, cfg.BackupDataDir); err != nil {
		return err
	}
	if err := refuseRemoteTablespaces(cfg.BackupDataDir, cfg.MySQLDataDir); err != nil {
		return err
	}
	if err := r.engine.CopyBack(ctx, defaults, cfg.BackupDataDir, r.stage.dir, r.moveBack(), r.toolSpec()); err != nil {
		return err
	}
	return r.in.ChownToMySQL(r.stage.dir)
}

// moveBack says whether the unpacked backup may be moved rather than
// copied: restore_move asks for it, and clean_after_restore would delete
// the unpacked copy anyway (a rerun downloads again in both cases).
func (r *run) moveBack() bool { return r.cfg.RestoreMove || r.cfg.CleanAfterRestore }

// replay applies the binlog delta (transactions in the backup's binlogs
// after the snapshot position) on a temporary mysqld, always stopped.
func (r *run) replay(ctx context.Context) (err error) {
	plan, err := binlogsync.PlanReplay(r.cfg.BackupBinlogDir, r.index, r.snapshot.File, r.snapshot.Pos)
	if r.plan != nil && r.plan.Archive.StartGTID != "" {
		// Another server's binlogs (a failover): by GTIDs, from the first.
		plan, err = binlogsync.ReplayPlan{Dir: r.cfg.BackupBinlogDir, Files: r.index, Pos: 4, StartGTID: r.plan.Archive.StartGTID}, nil
	}
	if err != nil {
		return err
	}
	// The legacy workaround for "Connection lost" on long replays; one
	// statement of the delta may be large (a BINLOG of many rows). The
	// replay's commits need not reach the disk one by one: a crash of the
	// temporary server fails the restore, which starts again from the
	// backup, and its clean shutdown writes everything (pitr-bench.sh: one
	// fsync per transaction held the replay to ~500 transactions/s).
	srv, err := r.in.StartTemp(ctx, r.stage.dir, r.runDir, false,
		"--net_read_timeout=36000", "--wait_timeout=36000", "--interactive_timeout=36000",
		"--max-allowed-packet=1G", "--innodb-flush-log-at-trx-commit=0", "--sync-binlog=0")
	if err != nil {
		return err
	}
	defer func() {
		// When the replay failed, its error is the restore's one line (a
		// server that dies mid-replay makes the client fail); how the
		// server ended goes to the log.
		if stopErr := srv.Stop(); err == nil {
			err = stopErr
		} else if stopErr != nil {
			r.in.Log.Warn("temporary mysqld", "err", stopErr)
		}
	}()
	if r.opts.BeforeReplay != nil {
		if err := r.opts.BeforeReplay(ctx); err != nil {
			return err
		}
	}
	rp, err := r.replayer(srv)
	if err != nil {
		return err
	}
	if err := rp.Replay(ctx, plan); err != nil {
		return err
	}
	r.replayed = len(plan.Files)
	if r.pitr() || r.opts.Copy {
		return forgetReplication(ctx, srv)
	}
	return nil
}

// forgetReplication removes the replication channels a point-in-time
// copy brought from the backup (MySQL keeps them in tables the backup
// holds; MariaDB's files are not copied): started with the datadir, they
// would fetch what came after the target.
func forgetReplication(ctx context.Context, srv *mysqld.TempServer) error {
	return srv.OnSession(ctx, func(conn *sql.Conn, v mysqld.Version) error {
		if err := replication.Setup(ctx, conn, v, nil, replication.SetupOptions{}); err != nil {
			return fmt.Errorf("remove the backup's replication channels: %w", err)
		}
		return nil
	})
}

func (r *run) replayer(srv *mysqld.TempServer) (binlogsync.Replayer, error) {
	cfg := r.cfg
	binlogBin, err := mysqld.Binlog.Find(cfg.MySQLBase)
	if err != nil {
		return binlogsync.Replayer{}, err
	}
	clientBin, err := mysqld.Client.Find(cfg.MySQLBase)
	if err != nil {
		return binlogsync.Replayer{}, err
	}
	r.creds, _, err = mysqld.WriteSocketDefaults(r.runDir, srv.Conn)
	return binlogsync.Replayer{BinlogBin: binlogBin, ClientBin: clientBin, ClientDefaults: r.creds, Log: r.in.Log}, err
}

// identity makes the staged datadir this host's own before any server
// runs on it: {conf_base}/my.cnf replaces the backup's (often a peer's,
// as members of a group share a port), and the binlogs are placed where
// that my.cnf's normal start reads them.
func (r *run) identity(ctx context.Context) (err error) {
	cfg := r.cfg
	elsewhere, err := r.in.OwnMyCnfElsewhere()
	switch {
	case err != nil:
		return err
	case r.opts.Copy || (elsewhere && (r.pitr() || cfg.FromPort != "")):
		// A copy beside the instance (--port, --data-base): the own
		// my.cnf (else the backup's), rewritten for the copy's place.
		if r.in.OwnMyCnf() == "" {
			if err := r.refuseCodeLoading(r.in.MyCnfFor(r.stage.dir)); err != nil {
				return err
			}
		}
		if err := r.in.InstallRelocatedMyCnf(r.stage.dir); err != nil {
			return err
		}
		if err := appendOptions(r.in.MyCnfFor(r.stage.dir), r.opts.CopyOptions); err != nil {
			return err
		}
	default:
		if _, err := r.in.InstallOwnMyCnf(r.stage.dir, instance.FromBackupSuffix); err != nil {
			return err
		}
	}
	switch {
	case !instance.Inside(cfg.MySQLDataDir, cfg.MySQLMyCnf):
		// The normal start reads the operator's file; the backup's copy
		// must not be started from by mistake.
		staged := filepath.Join(r.stage.dir, "my.cnf")
		if err := os.Rename(staged, staged+instance.FromBackupSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	case r.in.OwnMyCnf() == "":
		staged := r.in.MyCnfFor(r.stage.dir)
		if err := r.refuseCodeLoading(staged); err != nil {
			return err
		}
		// The copy beside it marks the file as the backup's: no server of
		// ours takes code-loading options from it (instance.FromBackup).
		if err := copyFile(staged, staged+instance.FromBackupSuffix); err != nil {
			return fmt.Errorf("mark the backup's my.cnf: %w", err)
		}
		r.in.Log.Warn("no own my.cnf in conf_base: the datadir keeps the backup's my.cnf, with the server-id of the host that took it; temporary servers use only its safe options", "conf_base", cfg.ConfBase)
	}
	if r.indexPath, r.index, err = binlogsync.OpenIndex(cfg.BackupBinlogDir); err != nil {
		return err
	}
	if len(r.index) == 0 {
		return fmt.Errorf("the backup's binlog index %s lists no binlog", filepath.Base(r.indexPath))
	}
	r.place, err = planBinlogs(ctx, r.in, r.stage.dir, r.runDir, strings.TrimSuffix(filepath.Base(r.indexPath), ".index"))
	return err
}

// appendOptions adds options to the [mysqld] group of the option file at
// path, as a last group of that name (its values win).
func appendOptions(path string, options []string) error {
	if len(options) == 0 {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "\n# added by mysqlbackup for a copy beside the instance\n[mysqld]\n%s\n", strings.Join(options, "\n"))
	return errors.Join(err, f.Close())
}

// refuseCodeLoading refuses to leave a backup's my.cnf that loads code
// (plugins, init files) as the datadir's, which the normal start reads, on
// a host without an own my.cnf: only a backup whose manifest a pinned key
// signed is trusted with that.
func (r *run) refuseCodeLoading(myCnf string) error {
	if r.src.signed() {
		return nil
	}
	data, err := os.ReadFile(myCnf)
	if err != nil {
		return fmt.Errorf("the backup's my.cnf: %w", err)
	}
	return loadsCode(r.cfg, data)
}

// binlogsBack moves or copies the backup's binlogs where the normal start
// reads them, with their index in that server's form, so that data and
// binlog agree.
func (r *run) binlogsBack(context.Context) error {
	if err := r.place.putBinlogs(r.cfg.BackupBinlogDir, r.index, r.moveBack()); err != nil {
		return err
	}
	last := r.index[len(r.index)-1]
	fi, err := os.Stat(filepath.Join(r.place.dir, last))
	if err != nil {
		return err
	}
	r.binlogEnd = fmt.Sprintf("%s:%d", last, fi.Size())
	return nil
}

// finish hands the new datadir over: the pending catch-up marker, chown,
// the unverified marker, then into place.
func (r *run) finish(context.Context) error {
	if r.needsCatchup() {
		p := instance.PendingCatchup{RestoredAt: time.Now().UTC(), From: r.src.String(), BinlogBasename: r.place.basename, SnapshotGTID: r.snapshot.GTID, BinlogEnd: r.binlogEnd}
		if err := instance.WriteCatchupMarker(r.stage.dir, p); err != nil {
			return err
		}
	}
	if err := r.in.ChownToMySQL(r.stage.dir); err != nil {
		return err
	}
	rec := unverifiedRecord{Basename: r.place.basename, Binlogs: map[string]int64{}}
	if r.place.external {
		rec.BinlogDir = r.place.dir
	}
	for _, name := range r.index {
		fi, err := os.Stat(filepath.Join(r.place.dir, name))
		if err != nil {
			return err
		}
		rec.Binlogs[name] = fi.Size()
	}
	if err := r.stage.markUnverified(rec); err != nil {
		return err
	}
	if err := r.stage.publish(); err != nil {
		return err // the datadir, if any, keeps its unverified marker
	}
	r.published = true   // from here on a failure moves it aside again
	if r.stage.inPlace { // the datadir itself was not part of the stage
		return r.in.ChownToMySQL(r.cfg.MySQLDataDir)
	}
	return nil
}

// verifyStart proves the datadir starts as its normal start would start
// it, and reads the restored binlogs; only then does the datadir lose its
// unverified marker (the binlog dir's marker goes first, so that a kill in
// between leaves an unfinished restore, never a stale binlog marker).
func (r *run) verifyStart(ctx context.Context) error {
	cfg := r.cfg
	want := instance.StartProof{BinlogBasename: r.place.basename, GTID: r.snapshot.GTID}
	if err := r.in.ProveStart(ctx, r.runDir, want); err != nil {
		return err
	}
	if err := r.place.finish(r.in); err != nil {
		return err
	}
	if err := r.stage.verified(); err != nil {
		return err
	}
	r.done = true
	if cfg.CleanAfterRestore {
		return errors.Join(os.RemoveAll(cfg.BackupDataDir), os.RemoveAll(cfg.BackupBinlogDir))
	}
	return nil
}

// unpublish turns a published datadir of a failed restore back into a
// staging dir, which the cleanup removes. An in-place one keeps its
// unverified marker: it counts as absent and the next restore clears it.
func (r *run) unpublish() error {
	if !r.published || r.stage.inPlace {
		return nil
	}
	r.published = false
	return os.Rename(r.cfg.MySQLDataDir, r.stage.dir)
}

// needsCatchup says whether the restored datadir waits for a catch-up: a
// point-in-time restore is complete at its target (a catch-up would move
// past it).
func (r *run) needsCatchup() bool { return !r.pitr() && !r.opts.Copy && r.in.NeedsCatchup() }

// copy says whether the datadir is a copy beside the instance (restore-
// test's scratch, --from-port, a point-in-time restore pointed elsewhere
// with --port/--data-base): nothing may go where the instance's own my.cnf
// puts its files.
func (r *run) copy() bool {
	if r.opts.Copy || r.cfg.FromPort != "" {
		return true
	}
	elsewhere, err := r.in.OwnMyCnfElsewhere()
	return err == nil && elsewhere
}

// pitr says whether this is a point-in-time restore (--until), not a
// normal one whose delta comes from the archive.
func (r *run) pitr() bool { return r.opts.Until != nil && !r.archived }

// removeWork removes the work of a restore: the stage, the external
// binlog dir while it holds our marker, the unpacked backup.
func (r *run) removeWork() error {
	var stageErr error
	if r.stage != nil {
		stageErr = r.stage.discard()
	}
	var binlogErr error
	if r.place.external && fileExists(filepath.Join(r.place.dir, BinlogDirMarker)) {
		binlogErr = clearBinlogDir(r.place.dir)
	}
	return errors.Join(stageErr, binlogErr, os.RemoveAll(r.cfg.BackupDataDir), os.RemoveAll(r.cfg.BackupBinlogDir), os.RemoveAll(r.archiveWorkDir()))
}

// cleanup runs on every path. A failed restore leaves no datadir: the
// staging one is removed with the extracted archive.
func (r *run) cleanup() {
	if r.creds != "" {
		os.Remove(r.creds)
	}
	if r.runDir != "" {
		os.RemoveAll(r.runDir)
	}
	if !r.done {
		if err := r.unpublish(); err != nil {
			r.in.Log.Warn("the failed restore's datadir could not be moved aside; it keeps its unverified marker", "err", err)
		}
		if err := r.removeWork(); err != nil {
			r.in.Log.Warn("restore leftovers not removed", "err", err)
		}
	}
}
