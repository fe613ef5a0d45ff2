package backup

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/xtrabackup"
)

// legacyFormat is mysqlbackup.py's archive: the prepared backup, my.cnf and
// the binlogs in one tar | gzip | des3 stream, its SHA-1 recorded beside it.
type legacyFormat struct {
	password []byte
	dest     destination
	sha1     string
}

// begin: nothing is visible of a legacy run before its publish.
func (l *legacyFormat) begin(context.Context, *run) error { return nil }

// prepare reads the des3 password and clears what an earlier, killed run
// left at the destination.
func (l *legacyFormat) prepare(ctx context.Context, r *run) error {
	pw, err := archive.ReadPasswordFile(r.cfg.Des3PasswordFile())
	if err != nil {
		return err
	}
	l.password = pw
	if l.dest, err = newDestination(r.in); err != nil {
		return err
	}
	if err := l.dest.Cleanup(ctx); err != nil {
		return fmt.Errorf("clean leftovers at %s: %w", l.dest, err)
	}
	return nil
}

func (l *legacyFormat) where() string { return l.dest.String() }

// tasks: data → prepare → binlogs after the data → tar | gzip | des3 |
// sha1 into a temporary object → publish.
func (l *legacyFormat) tasks(r *run) []progress.Task {
	return []progress.Task{
		{Name: "data", Fn: func(ctx context.Context) error {
			return r.engine.Backup(ctx, r.backupOptions(), r.toolSpec())
		}},
		{Name: "prepare", Fn: r.prepare},
		{Name: "binlogs", Fn: r.listBinlogs},
		{Name: "archive", Fn: func(ctx context.Context) error { return l.stream(ctx, r) }},
		{Name: "publish", Fn: func(ctx context.Context) error { return l.publish(ctx, r) }},
	}
}

func (l *legacyFormat) abort() {
	if l.dest != nil {
		l.dest.Abort()
	}
}

func (l *legacyFormat) summary(r *run) string {
	return fmt.Sprintf("%s size=%d sha1=%s", l.dest, r.size, l.sha1)
}

// prepare makes the copied data consistent and reads its position.
func (r *run) prepare(ctx context.Context) error {
	if err := r.engine.Prepare(ctx, r.cfg.BackupDataDir, r.cfg.PrepareMemory, r.toolSpec()); err != nil {
		return err
	}
	var err error
	if r.snapshot, err = xtrabackup.ReadBinlogInfo(r.cfg.BackupDataDir); err != nil {
		return err
	}
	return r.afterData(ctx)
}

// stream packs, compresses, encrypts and checksums the backup straight
// into the destination's temporary place.
func (l *legacyFormat) stream(ctx context.Context, r *run) error {
	var c progress.Counter
	stop := r.progress.Start(ctx, "archive", &c, 0)
	defer stop()
	h := sha1.New()
	expected, err := l.expectedSize(r)
	if err != nil {
		return err
	}
	err = pipeTo(func(w io.Writer) error {
		return l.writeArchive(r, io.MultiWriter(w, h, &c))
	}, func(rd io.Reader) error {
		return l.dest.Upload(ctx, rd, expected)
	})
	if err != nil {
		return err
	}
	l.sha1, r.size = hex.EncodeToString(h.Sum(nil)), c.N()
	return nil
}

// expectedSize bounds the archive from above: what goes into the tar,
// which gzip and des3 grow by a fraction of a percent at most.
func (l *legacyFormat) expectedSize(r *run) (int64, error) {
	total, err := dirSize(r.cfg.BackupDataDir)
	total += r.binlogBytes()
	return total + total/100 + 1<<20, err
}

// writeArchive writes the legacy layout: mysql-<port>-backup/ (the prepared
// backup and the instance's my.cnf, never auto.cnf) and mysql-<port>-binlog/
// (the raw binlogs up to their recorded ends, and the index).
func (l *legacyFormat) writeArchive(r *run, w io.Writer) error {
	cfg := r.cfg
	digest, err := archive.ParseDigest(cfg.Des3Digest)
	if err != nil {
		return err
	}
	aw, err := archive.NewLegacyWriter(w, l.password, digest, r.owner())
	if err != nil {
		return err
	}
	if err := aw.AddTree(cfg.BackupDataDir, cfg.BackupDataTail); err != nil {
		return err
	}
	if err := aw.AddFile(r.publishedMyCnf(), path.Join(cfg.BackupDataTail, "my.cnf")); err != nil {
		return err
	}
	if err := r.addBinlogs(aw.TarWriter); err != nil {
		return err
	}
	return aw.Close()
}

// publish makes the archive the backup. Besides the legacy sha1, the
// snapshot position goes in the metadata so `list` shows it without a
// download; the legacy tool ignores both keys.
func (l *legacyFormat) publish(ctx context.Context, r *run) error {
	meta := map[string]string{
		"sha1":                l.sha1,
		catalog.MetaBinlogPos: fmt.Sprintf("%s:%d", r.snapshot.File, r.snapshot.Pos),
	}
	if r.snapshot.GTID != "" {
		meta[catalog.MetaGTID] = r.snapshot.GTID
	}
	if r.endGTID != "" {
		meta[catalog.MetaEndGTID] = r.endGTID
	}
	if r.testValue != "" {
		meta[catalog.MetaTestValue] = r.testValue
	}
	return l.dest.Commit(ctx, meta, r.size)
}

// dirSize sums the sizes of the regular files below dir.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if fi, err := d.Info(); err == nil && d.Type().IsRegular() {
			total += fi.Size()
		}
		return nil
	})
	return total, err
}
