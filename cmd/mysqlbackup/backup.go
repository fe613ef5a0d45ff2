package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/binlogsync"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/internal/proc"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/xtrabackup"
)

// BackupCmd is `mysqlbackup backup`.
type BackupCmd struct {
	IfOlderThan time.Duration `name:"if-older-than" placeholder:"DURATION" help:"Do nothing (exit 0) when a complete backup of the port newer than this exists, e.g. 20h: cron may run it often."`

	// afterData, when set (tests only), runs after the data is backed up
	// and prepared and before the binary logs are listed.
	afterData func(context.Context) error
}

// backupRun is the state of one backup.
type backupRun struct {
	*App
	cmd      *BackupCmd
	db       *sql.DB
	password []byte
	engine   xtrabackup.Engine
	creds    string // client option file with the password, in runDir
	runDir   string
	binlogs  binlogsync.Snapshot
	snapshot xtrabackup.BinlogInfo
	dest     destination
	phases   progress.Phases
	sha1     string
	size     int64
	v2       *v2Backup // archive_format: v2
}

// Run implements backup: lock → (purge) → data → prepare → binlogs after
// the data → tar | gzip | des3 | sha1 → temporary object → publish.
func (c *BackupCmd) Run(app *App) (err error) {
	b := &backupRun{App: app, cmd: c}
	if fresh, err := c.recentBackup(app); err != nil || fresh != "" {
		if fresh != "" {
			fmt.Fprintf(app.Stdout, "backup skipped: %s (--if-older-than %s)\n", fresh, c.IfOlderThan)
		}
		return err
	}
	lk, lerr := app.inst().Lock()
	if lerr != nil {
		return lerr
	}
	defer lk.Release()
	defer b.cleanup()
	start := time.Now()
	defer func() { recordRun(app, "backup", &b.phases, start, b.size, err) }()
	type step struct {
		name string
		fn   func() error
	}
	steps := []step{
		{"check", b.check},
		{"purge", b.purge},
		{"data", b.backupData},
		{"prepare", b.prepare},
		{"binlogs", b.listBinlogs},
		{"archive", b.stream},
		{"publish", b.publish},
	}
	if app.Cfg.ArchiveFormat == conf.FormatV2 {
		steps = []step{
			{"check", b.check},
			{"purge", b.purge},
			{"data", b.streamData},
			{"binlogs", b.putBinlogs},
			{"my.cnf", b.putMyCnf},
			{"publish", b.commitV2},
		}
	}
	for _, s := range steps {
		if err := b.phases.Run(app.Log, s.name, s.fn); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	took := time.Since(start).Round(10 * time.Millisecond)
	if b.v2 != nil {
		m := &b.v2.manifest
		fmt.Fprintf(app.Stdout, "backup ok: s3 %s%s format=v2 size=%d plain=%d snapshot=%s:%d gtid=%q took=%s %s peak_rss=%q\n",
			b.v2.prefix, catalog.ManifestName, m.StoredBytes, m.PlainBytes, m.BinlogFile, m.BinlogPos, m.GTID, took, &b.phases, progress.PeakRSS())
		return nil
	}
	fmt.Fprintf(app.Stdout, "backup ok: %s size=%d sha1=%s took=%s %s peak_rss=%q\n",
		b.dest, b.size, b.sha1, took, &b.phases, progress.PeakRSS())
	return nil
}

// check fails fast on what would fail late: the des3 password, the
// destination, the server connection, leftovers of an earlier run.
func (b *backupRun) check() error {
	cfg := b.Cfg
	if _, err := os.Stat(cfg.MySQLMyCnf); err != nil {
		return fmt.Errorf("instance my.cnf: %w", err)
	}
	if err := b.removeStaging(); err != nil {
		return err
	}
	if err := b.checkDestination(); err != nil {
		return err
	}
	var err error
	if b.db, err = b.inst().Admin().Open(); err != nil {
		return err
	}
	version, err := mysqld.ServerVersion(b.Ctx, b.db)
	if err != nil {
		return fmt.Errorf("instance on %s: %w", cfg.MySQLSocket, err)
	}
	srv, err := mysqld.ParseVersion(version)
	if err != nil {
		return err
	}
	if b.engine, err = xtrabackup.Choose(srv, cfg.XtrabackupBin); err != nil {
		return err
	}
	// The credentials live in this run's private dir: a killed run's copy
	// is removed by the next run of the port, never left in backup_base.
	if b.runDir, err = b.inst().NewRunDir(); err != nil {
		return err
	}
	b.creds, _, err = mysqld.WriteClientDefaults(b.runDir, b.inst().Admin(), cfg.MySQLMyCnf)
	if err != nil {
		return err
	}
	if cfg.ArchiveFormat == conf.FormatV2 {
		// Last: from here on the run is visible in the store.
		if err := b.checkV2(); err != nil {
			return err
		}
		b.Log.Info("backing up", "server", version, "engine", b.engine.Bin, "to", "s3 "+b.v2.runDir(), "format", "v2")
		return nil
	}
	b.Log.Info("backing up", "server", version, "engine", b.engine.Bin, "to", b.dest.String())
	return nil
}

// checkDestination reads the des3 password and cleans what an earlier,
// killed legacy run left at the destination.
func (b *backupRun) checkDestination() error {
	if b.Cfg.ArchiveFormat == conf.FormatV2 {
		return nil
	}
	pw, err := archive.ReadPasswordFile(b.Cfg.Des3PasswordFile())
	if err != nil {
		return err
	}
	b.password = pw
	if b.dest, err = newDestination(b.inst()); err != nil {
		return err
	}
	if err := b.dest.Cleanup(b.Ctx); err != nil {
		return fmt.Errorf("clean leftovers at %s: %w", b.dest, err)
	}
	return nil
}

func (b *backupRun) purge() error {
	days := *b.Cfg.PurgeBinlogDays
	if days == 0 {
		b.Log.Info("binlog purge off (purge_binlog_days: 0)")
		return nil
	}
	return mysqld.PurgeBinlogsOlderThan(b.Ctx, b.db, days)
}

// toolSpec is how the backup tools run: logged, and killed with us if
// mysqlbackup itself is killed, so no copy goes on unattended.
func (b *backupRun) toolSpec() proc.Spec {
	return proc.Spec{Log: b.Log, DieWithParent: true}
}

func (b *backupRun) backupData() error {
	return b.engine.Backup(b.Ctx, xtrabackup.BackupOptions{
		DefaultsFile: b.creds,
		TargetDir:    b.Cfg.BackupDataDir, Parallel: b.Cfg.Parallel,
	}, b.toolSpec())
}

func (b *backupRun) prepare() error {
	if err := b.engine.Prepare(b.Ctx, b.Cfg.BackupDataDir, b.Cfg.PrepareMemory, b.toolSpec()); err != nil {
		return err
	}
	var err error
	if b.snapshot, err = xtrabackup.ReadBinlogInfo(b.Cfg.BackupDataDir); err != nil {
		return err
	}
	if b.cmd.afterData != nil {
		return b.cmd.afterData(b.Ctx)
	}
	return nil
}

// listBinlogs records every binary log and its end, after the data, so
// the binlogs hold every transaction of the data and those since.
func (b *backupRun) listBinlogs() error {
	s, err := binlogsync.Take(b.Ctx, b.db)
	if err != nil {
		return err
	}
	b.binlogs = s
	b.Log.Info("binary logs to copy", "files", len(s.Files), "basename", s.Basename)
	return nil
}

// stream packs, compresses, encrypts and checksums the backup straight
// into the destination's temporary place.
func (b *backupRun) stream() error {
	var c progress.Counter
	stop := progress.Report(b.App.Ctx, b.App.Log, b.App.Term, "archive", &c, 0)
	defer stop()
	h := sha1.New()
	expected, err := b.expectedSize()
	if err != nil {
		return err
	}
	err = pipeTo(func(w io.Writer) error {
		return b.writeArchive(io.MultiWriter(w, h, &c))
	}, func(r io.Reader) error {
		return b.dest.Upload(b.Ctx, r, expected)
	})
	if err != nil {
		return err
	}
	b.sha1, b.size = hex.EncodeToString(h.Sum(nil)), c.N()
	return nil
}

// expectedSize bounds the archive from above: what goes into the tar,
// which gzip and des3 grow by a fraction of a percent at most.
func (b *backupRun) expectedSize() (int64, error) {
	total, err := dirSize(b.Cfg.BackupDataDir)
	for _, f := range b.binlogs.Files {
		total += f.Size
	}
	return total + total/100 + 1<<20, err
}

// writeArchive writes the legacy layout: mysql-<port>-backup/ (the prepared
// backup and the instance's my.cnf, never auto.cnf) and mysql-<port>-binlog/
// (the raw binlogs up to their recorded ends, and the index).
func (b *backupRun) writeArchive(w io.Writer) error {
	cfg := b.Cfg
	digest, err := archive.ParseDigest(cfg.Des3Digest)
	if err != nil {
		return err
	}
	aw, err := archive.NewLegacyWriter(w, b.password, digest, archive.Owner{User: cfg.MySQLUser, Group: cfg.MySQLUserGroup})
	if err != nil {
		return err
	}
	if err := aw.AddTree(cfg.BackupDataDir, cfg.BackupDataTail); err != nil {
		return err
	}
	if err := aw.AddFile(cfg.MySQLMyCnf, path.Join(cfg.BackupDataTail, "my.cnf")); err != nil {
		return err
	}
	if err := b.addBinlogs(aw.TarWriter); err != nil {
		return err
	}
	return aw.Close()
}

func (b *backupRun) addBinlogs(aw *archive.TarWriter) error {
	dir, now := b.Cfg.BackupBinlogTail, time.Now()
	if err := aw.AddDirEntry(dir, 0o755, now); err != nil {
		return err
	}
	for _, f := range b.binlogs.Files {
		r, err := b.binlogs.Open(f)
		if err != nil {
			return err
		}
		err = aw.AddReader(path.Join(dir, f.Name), r, f.Size, 0o640, now)
		r.Close()
		if err != nil {
			return err
		}
	}
	index := b.binlogs.Index()
	return aw.AddReader(path.Join(dir, b.binlogs.IndexName()), bytes.NewReader(index), int64(len(index)), 0o640, now)
}

// publish makes the archive the backup. Besides the legacy sha1, the
// snapshot position goes in the metadata so `list` shows it without a
// download; the legacy tool ignores both keys.
func (b *backupRun) publish() error {
	meta := map[string]string{
		"sha1":                b.sha1,
		catalog.MetaBinlogPos: fmt.Sprintf("%s:%d", b.snapshot.File, b.snapshot.Pos),
	}
	if b.snapshot.GTID != "" {
		meta[catalog.MetaGTID] = b.snapshot.GTID
	}
	return b.dest.Commit(b.Ctx, meta, b.size)
}

// cleanup runs on every path: temporary upload, credentials, staging, db.
func (b *backupRun) cleanup() {
	if b.dest != nil {
		b.dest.Abort()
	}
	b.v2.abort(b.Log)
	if b.runDir != "" {
		os.RemoveAll(b.runDir)
	}
	if err := b.removeStaging(); err != nil {
		b.Log.Warn("staging dir not removed", "err", err)
	}
	if b.db != nil {
		b.db.Close()
	}
}

// removeStaging removes the engine's backup dir (the binlog dir of the
// legacy tool too, in case an old run left one).
func (b *backupRun) removeStaging() error {
	return errors.Join(os.RemoveAll(b.Cfg.BackupDataDir), os.RemoveAll(b.Cfg.BackupBinlogDir))
}

// recentBackup describes a complete backup newer than --if-older-than, or
// returns "" when a backup is due (vtbackup's "policy already satisfied").
func (c *BackupCmd) recentBackup(app *App) (string, error) {
	if c.IfOlderThan <= 0 {
		return "", nil
	}
	cfg := app.Cfg
	var latest catalog.Backup
	if cfg.S3Bucket == "" {
		fi, err := os.Stat(cfg.BackupTgzDes3)
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		latest = catalog.Backup{Key: cfg.BackupTgzDes3, Modified: fi.ModTime()}
	} else {
		st, err := app.inst().Store()
		if err != nil {
			return "", err
		}
		bs, err := catalog.List(app.Ctx, st, string(cfg.Port))
		if err != nil {
			return "", err
		}
		var ok bool
		if latest, ok = catalog.Latest(bs); !ok {
			return "", nil
		}
	}
	age := time.Since(latest.Modified)
	if age >= c.IfOlderThan {
		return "", nil
	}
	return fmt.Sprintf("%s is %s old", latest.Key, age.Round(time.Second)), nil
}
