package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/binlogsync"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/proc"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/xtrabackup"
)

// RestoreCmd is `mysqlbackup restore`.
type RestoreCmd struct {
	// beforeReplay, when set (tests only), runs once the temporary mysqld
	// answers and before the delta replay.
	beforeReplay func(context.Context) error
}

// restoreRun is the state of one restore.
type restoreRun struct {
	*App
	cmd       *RestoreCmd
	password  []byte
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
	phases    progress.Phases
	done      bool
	v2        *v2Source // a v2 backup, else the legacy archive src
	keys      archive.V2Keys
}

// Run implements restore: refuse → download | verify | decrypt | gunzip |
// untar → copy back into a staging datadir → temporary mysqld → delta
// replay → binlogs back → chown → rename into place.
func (c *RestoreCmd) Run(app *App) (err error) {
	cfg := app.Cfg
	r := &restoreRun{App: app, cmd: c}
	lk, lerr := app.inst().Lock()
	if lerr != nil {
		return lerr
	}
	defer lk.Release()
	defer r.cleanup()
	if r.runDir, err = app.inst().NewRunDir(); err != nil {
		return err
	}
	start := time.Now()
	defer func() { recordRun(app, "restore", &r.phases, start, r.src.size, err) }()
	type step struct {
		name string
		fn   func() error
	}
	if err := r.phases.Run(app.Log, "check", r.check); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	steps := []step{{"download", r.download}}
	if r.v2 != nil {
		steps = []step{{"download", r.downloadV2}, {"prepare", r.prepareV2}}
	}
	steps = append(steps, step{"copy-back", r.copyBack}, step{"identity", r.identity}, step{"replay", r.replay},
		step{"binlogs", r.binlogsBack}, step{"finish", r.finish}, step{"verify-start", r.verifyStart})
	for _, s := range steps {
		if err := r.phases.Run(app.Log, s.name, s.fn); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	pending := ""
	if app.inst().NeedsCatchup() {
		pending = " catchup=pending"
	}
	fmt.Fprintf(app.Stdout, "restore ok: datadir=%s from %s snapshot=%s:%d gtid=%q binlog_end=%s replayed=%d%s took=%s %s\n",
		cfg.MySQLDataDir, r.src.name, r.snapshot.File, r.snapshot.Pos, r.snapshot.GTID, r.binlogEnd, r.replayed, pending,
		time.Since(start).Round(10*time.Millisecond), &r.phases)
	return nil
}

// check refuses, before anything is downloaded, what would lose data: a
// running instance, a non-empty datadir, a missing backup.
func (r *restoreRun) check() error {
	cfg := r.Cfg
	alive, err := r.inst().Admin().Alive(r.Ctx)
	if err != nil {
		return err
	}
	if alive {
		return fmt.Errorf("the instance answers on %s: stop it before restoring", cfg.MySQLSocket)
	}
	if r.stage, err = newStage(cfg.MySQLDataDir); err != nil {
		return err
	}
	if err := r.stage.check(); err != nil {
		return err
	}
	if err := resolveDate(r.App); err != nil {
		return err
	}
	if r.v2, err = findV2(r.Ctx, r.inst()); err != nil {
		return err
	}
	if r.v2 != nil {
		r.src = source{name: r.v2.String(), size: r.v2.manifest.StoredBytes}
		if r.keys, err = openingKeys(cfg); err != nil {
			return err
		}
		r.Log.Info("restoring a v2 backup", "manifest", r.v2.String(), "run", r.v2.manifest.Run, "host", r.v2.manifest.Host, "snapshot", fmt.Sprintf("%s:%d", r.v2.manifest.BinlogFile, r.v2.manifest.BinlogPos))
		return r.clearEarlier()
	}
	if r.password, err = archive.ReadPasswordFile(cfg.Des3PasswordFile()); err != nil {
		return err
	}
	if r.src, err = findSource(r.Ctx, r.inst()); err != nil {
		return err
	}
	if r.src.algo == "" {
		r.Log.Warn("no checksum recorded for the archive; relying on gzip's CRC", "archive", r.src.name)
	}
	return r.clearEarlier()
}

// clearEarlier removes, once the backup to restore is known, what an
// earlier killed or failed restore left: its unfinished datadir (marked
// until it is gone) and its work.
func (r *restoreRun) clearEarlier() error {
	if restoreInProgress(r.Cfg.MySQLDataDir) {
		r.Log.Info("clearing the unfinished restore in the data dir", "dir", r.Cfg.MySQLDataDir)
	}
	return errors.Join(r.stage.clearUnfinished(), r.removeWork())
}

// download streams the archive through the checksum into the staging dirs
// under backup_base. The datadir is not touched.
func (r *restoreRun) download() error {
	tops := []string{r.Cfg.BackupDataTail, r.Cfg.BackupBinlogTail}
	_, err := readSource(r.App, r.src, r.password, "download", func(in io.Reader, d archive.Digest) (archive.ExtractStats, error) {
		return archive.ExtractLegacy(in, r.password, d, r.Cfg.BackupBase, tops)
	})
	return err
}

func (r *restoreRun) toolSpec() proc.Spec { return proc.Spec{Log: r.Log, DieWithParent: true} }

// copyBack puts the prepared backup into the staging datadir with the
// engine, using the my.cnf taken with the backup, as the legacy tool did.
func (r *restoreRun) copyBack() error {
	cfg := r.Cfg
	srv, err := xtrabackup.ReadServer(cfg.BackupDataDir)
	if err != nil {
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
	if err := r.engine.CopyBack(r.Ctx, cfg.BackupMyCnf, cfg.BackupDataDir, r.stage.dir, r.moveBack(), r.toolSpec()); err != nil {
		return err
	}
	return r.inst().ChownToMySQL(r.stage.dir)
}

// moveBack says whether the unpacked backup may be moved rather than
// copied: restore_move asks for it, and clean_after_restore would delete
// the unpacked copy anyway (a rerun downloads again in both cases).
func (r *restoreRun) moveBack() bool { return r.Cfg.RestoreMove || r.Cfg.CleanAfterRestore }

// replay applies the binlog delta (transactions in the backup's binlogs
// after the snapshot position) on a temporary mysqld, always stopped.
func (r *restoreRun) replay() (err error) {
	cfg := r.Cfg
	plan, err := binlogsync.PlanReplay(cfg.BackupBinlogDir, r.index, r.snapshot.File, r.snapshot.Pos)
	if err != nil {
		return err
	}
	srv, err := r.startTemp()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, srv.Stop()) }()
	if r.cmd.beforeReplay != nil {
		if err := r.cmd.beforeReplay(r.Ctx); err != nil {
			return err
		}
	}
	rp, err := r.replayer(srv)
	if err != nil {
		return err
	}
	if err := rp.Replay(r.Ctx, plan); err != nil {
		return err
	}
	r.replayed = len(plan.Files)
	return nil
}

func (r *restoreRun) startTemp() (*mysqld.TempServer, error) {
	// The legacy workaround for "Connection lost" on long replays.
	return r.inst().StartTemp(r.Ctx, r.stage.dir, r.runDir, false,
		"--net_read_timeout=36000", "--wait_timeout=36000", "--interactive_timeout=36000")
}

func (r *restoreRun) replayer(srv *mysqld.TempServer) (binlogsync.Replayer, error) {
	cfg := r.Cfg
	binlogBin, err := mysqld.FindBin(cfg.MySQLBase, "mariadb-binlog", "mysqlbinlog")
	if err != nil {
		return binlogsync.Replayer{}, err
	}
	clientBin, err := mysqld.FindBin(cfg.MySQLBase, "mariadb", "mysql")
	if err != nil {
		return binlogsync.Replayer{}, err
	}
	r.creds, _, err = mysqld.WriteClientDefaults(r.runDir, srv.Conn, "")
	return binlogsync.Replayer{BinlogBin: binlogBin, ClientBin: clientBin, ClientDefaults: r.creds, Log: r.Log}, err
}

// identity makes the staged datadir this host's own before any server
// runs on it: {conf_base}/my.cnf replaces the backup's (often a peer's,
// as members of a group share a port), and the binlogs are placed where
// that my.cnf's normal start reads them.
func (r *restoreRun) identity() (err error) {
	cfg := r.Cfg
	if _, err := r.inst().InstallOwnMyCnf(r.stage.dir, instance.FromBackupSuffix); err != nil {
		return err
	}
	switch {
	case !instance.Inside(cfg.MySQLDataDir, cfg.MySQLMyCnf):
		// The normal start reads the operator's file; the backup's copy
		// must not be started from by mistake.
		staged := filepath.Join(r.stage.dir, "my.cnf")
		if err := os.Rename(staged, staged+instance.FromBackupSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	case r.inst().OwnMyCnf() == "":
		r.Log.Warn("no own my.cnf in conf_base: the datadir keeps the backup's my.cnf, with the server-id of the host that took it", "conf_base", cfg.ConfBase)
	}
	if r.indexPath, err = binlogsync.FindIndex(cfg.BackupBinlogDir); err != nil {
		return err
	}
	if r.index, err = binlogsync.ReadIndex(r.indexPath); err != nil {
		return err
	}
	if len(r.index) == 0 {
		return fmt.Errorf("the backup's binlog index %s lists no binlog", filepath.Base(r.indexPath))
	}
	r.place, err = planBinlogs(r, strings.TrimSuffix(filepath.Base(r.indexPath), ".index"))
	return err
}

// binlogsBack moves or copies the backup's binlogs where the normal start
// reads them, with their index in that server's form, so that data and
// binlog agree.
func (r *restoreRun) binlogsBack() error {
	if err := r.place.putBinlogs(r.Cfg.BackupBinlogDir, r.index, r.moveBack()); err != nil {
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
func (r *restoreRun) finish() error {
	cfg := r.Cfg
	if r.inst().NeedsCatchup() {
		p := instance.PendingCatchup{RestoredAt: time.Now().UTC(), From: r.src.name, BinlogBasename: r.place.basename, SnapshotGTID: r.snapshot.GTID, BinlogEnd: r.binlogEnd}
		if err := instance.WriteCatchupMarker(r.stage.dir, p); err != nil {
			return err
		}
	}
	if err := r.inst().ChownToMySQL(r.stage.dir); err != nil {
		return err
	}
	external := ""
	if r.place.external {
		external = r.place.dir
	}
	if err := r.stage.markUnverified(external); err != nil {
		return err
	}
	if err := r.stage.publish(); err != nil {
		return err // the datadir, if any, keeps its unverified marker
	}
	r.published = true   // from here on a failure moves it aside again
	if r.stage.inPlace { // the datadir itself was not part of the stage
		return r.inst().ChownToMySQL(cfg.MySQLDataDir)
	}
	return nil
}

// verifyStart proves the datadir starts as its normal start would start
// it, and reads the restored binlogs; only then does the datadir lose its
// unverified marker (the binlog dir's marker goes first, so that a kill in
// between leaves an unfinished restore, never a stale binlog marker).
func (r *restoreRun) verifyStart() error {
	cfg := r.Cfg
	want := instance.StartProof{BinlogBasename: r.place.basename, GTID: r.snapshot.GTID}
	if err := r.inst().ProveStart(r.Ctx, r.runDir, want); err != nil {
		return err
	}
	if err := r.place.finish(r.inst()); err != nil {
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
func (r *restoreRun) unpublish() error {
	if !r.published || r.stage.inPlace {
		return nil
	}
	r.published = false
	return os.Rename(r.Cfg.MySQLDataDir, r.stage.dir)
}

// removeWork removes the work of a restore: the stage, the external
// binlog dir while it holds our marker, the unpacked backup.
func (r *restoreRun) removeWork() error {
	var stageErr error
	if r.stage != nil {
		stageErr = r.stage.discard()
	}
	var binlogErr error
	if r.place.external && fileExists(filepath.Join(r.place.dir, binlogMarker)) {
		binlogErr = clearBinlogDir(r.place.dir)
	}
	return errors.Join(stageErr, binlogErr, os.RemoveAll(r.Cfg.BackupDataDir), os.RemoveAll(r.Cfg.BackupBinlogDir))
}

// cleanup runs on every path. A failed restore leaves no datadir: the
// staging one is removed with the extracted archive.
func (r *restoreRun) cleanup() {
	if r.creds != "" {
		os.Remove(r.creds)
	}
	if r.runDir != "" {
		os.RemoveAll(r.runDir)
	}
	if !r.done {
		if err := r.unpublish(); err != nil {
			r.Log.Warn("the failed restore's datadir could not be moved aside; it keeps its unverified marker", "err", err)
		}
		if err := r.removeWork(); err != nil {
			r.Log.Warn("restore leftovers not removed", "err", err)
		}
	}
}
