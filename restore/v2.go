package restore

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/proc"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/s3"
	"github.com/mysqlbackup/mysqlbackup/xtrabackup"
)

// v2Source is a complete v2 backup: its manifest, and the keys that open
// its objects.
type v2Source struct {
	st       s3.Store
	prefix   string
	manifest catalog.Manifest
	keys     archive.V2Keys
	cfg      *conf.Config
	progress progress.Reporter
}

func (v *v2Source) String() string { return "s3 " + v.prefix + catalog.ManifestName }
func (v *v2Source) size() int64    { return v.manifest.StoredBytes }

func (v *v2Source) recorded() Recorded {
	m := &v.manifest
	return Recorded{EndGTID: m.BinlogEndGTID, Tables: m.Tables, TableCount: m.TableCount, TestValue: m.TestValue}
}

// signed: find refuses a manifest no pinned key signed when keys are set.
func (v *v2Source) signed() bool { return len(v.cfg.BackupVerifyKeys) > 0 }

// findV2 returns the v2 backup of date, or nil when there is none (or no
// object store). When both formats exist for the date, the newer wins.
func findV2(ctx context.Context, in *instance.Instance, date string) (*v2Source, error) {
	cfg := in.Cfg
	if !cfg.HasStore() {
		return nil, nil
	}
	st, err := in.Store()
	if err != nil {
		return nil, err
	}
	keys, err := verifyKeys(cfg)
	if err != nil {
		return nil, err
	}
	v := &v2Source{st: st, prefix: catalog.V2Prefix(date, cfg.SourcePort())}
	v.manifest, err = catalog.ReadManifest(ctx, v.st, v.prefix, keys)
	if errors.Is(err, s3.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// A newer legacy archive of the date wins, unless manifests must be
	// signed: an unsigned archive never displaces a signed backup.
	if len(keys) > 0 {
		return v, nil
	}
	if legacy, err := v.st.Head(ctx, cfg.S3KeyFor(date)); err == nil && legacy.Modified.After(v.manifest.Finished) {
		return nil, nil
	}
	return v, nil
}

// verifyKeys are the pinned public keys a manifest must be signed with
// (none: manifests are not checked for a signature).
func verifyKeys(cfg *conf.Config) ([]catalog.VerifyKey, error) {
	var keys []catalog.VerifyKey
	for i, s := range cfg.BackupVerifyKeys {
		k, err := catalog.ParseVerifyKey(s)
		if err != nil {
			return nil, &conf.Error{File: cfg.Path, Key: fmt.Sprintf("backup_verify_keys[%d]", i), Msg: err.Error()}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// fetch: the three objects downloaded side by side into the unpacked dirs
// under backup_base (the data through the engine's stream extractor, the
// binlogs through a checked untar, my.cnf beside the data), each checked
// against the manifest; then the prepare, in the unpacked dir. The datadir
// is not touched.
func (v *v2Source) fetch(r *run) []progress.Task {
	return []progress.Task{
		{Name: "download", Fn: func(ctx context.Context) error { return v.download(ctx, r) }},
		{Name: "prepare", Fn: func(ctx context.Context) error { return v.prepare(ctx, r) }},
	}
}

func (v *v2Source) download(ctx context.Context, r *run) error {
	cfg := v.cfg
	srv, err := mysqld.ParseVersion(v.manifest.ServerVersion)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if r.engine, err = xtrabackup.Choose(srv, cfg.XtrabackupBin); err != nil {
		return err
	}
	data := func(ctx context.Context, rep progress.Reporter) error {
		return v.read(ctx, rep, catalog.RoleData, func(in io.Reader) error {
			return r.engine.Extract(ctx, cfg.BackupDataDir, in, proc.Spec{Log: rep.Log, DieWithParent: true})
		})
	}
	binlogs := func(ctx context.Context, rep progress.Reporter) error {
		return v.read(ctx, rep, catalog.RoleBinlogs, func(in io.Reader) error {
			_, err := archive.ExtractTarAs(in, cfg.BackupBase, []string{cfg.BackupBinlogTail, "mysql-" + cfg.SourcePort() + "-binlog"}, cfg.BackupBinlogTail)
			return err
		})
	}
	myCnf := func(ctx context.Context, rep progress.Reporter) error {
		return v.read(ctx, rep, catalog.RoleMyCnf, func(in io.Reader) error {
			f, err := os.OpenFile(cfg.BackupMyCnf, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, in)
			return errors.Join(err, f.Close())
		})
	}
	// The binlogs, often a third of a backup, do not wait for the data.
	// Only the data draws a live progress line; the others log. A backup
	// whose binlogs are in the archive has them from the "archive" step.
	if v.manifest.BinlogArchive != nil {
		return runAll(ctx, v.progress, data, myCnf)
	}
	return runAll(ctx, v.progress, data, binlogs, myCnf)
}

// runAll runs fns concurrently with a context that ends at the first
// failure, and returns that first failure. Only the first fn keeps the
// terminal for its progress.
func runAll(ctx context.Context, rep progress.Reporter, fns ...func(context.Context, progress.Reporter) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for i, fn := range fns {
		sub := rep
		if i > 0 {
			sub = rep.Quiet()
		}
		wg.Go(func() {
			if err := fn(ctx, sub); err != nil {
				once.Do(func() { first = err })
				cancel()
			}
		})
	}
	wg.Wait()
	return first
}

// prepare makes the streamed backup consistent, in the unpacked dir, and
// checks it is the snapshot the manifest describes.
func (v *v2Source) prepare(ctx context.Context, r *run) error {
	cfg, m := v.cfg, &v.manifest
	if err := reduceEngineOptions(r.in, cfg.BackupDataDir); err != nil {
		return err
	}
	if err := r.engine.Prepare(ctx, cfg.BackupDataDir, cfg.PrepareMemory, r.toolSpec()); err != nil {
		return err
	}
	info, err := xtrabackup.ReadBinlogInfo(cfg.BackupDataDir)
	if err != nil {
		return err
	}
	if info.File != m.BinlogFile || info.Pos != m.BinlogPos {
		return fmt.Errorf("the backup's snapshot is %s:%d, its manifest says %s:%d", info.File, info.Pos, m.BinlogFile, m.BinlogPos)
	}
	return nil
}

// verify checks a v2 backup: every object's size and SHA-256 against the
// manifest, age and zstd to the end, the xbstream chunk by chunk (CRC-32
// of each), the binlog tar entry by entry, and the files a restore needs.
func (v *v2Source) verify(ctx context.Context) (string, error) {
	cfg := v.cfg
	seen := map[string]bool{}
	var xb archive.XbstreamStats
	err := v.read(ctx, v.progress, catalog.RoleData, func(in io.Reader) error {
		var err error
		xb, err = archive.ReadXbstream(in, func(name string, _ int64, _ []byte) error {
			seen[path.Join(cfg.BackupDataTail, name)] = true
			return nil
		})
		return err
	})
	if err != nil {
		return "", err
	}
	binlogs := v.verifyTar
	if v.manifest.BinlogArchive != nil {
		binlogs = v.verifyArchived
	}
	binlogText, err := binlogs(ctx, seen)
	if err != nil {
		return "", err
	}
	var cnf int64
	err = v.read(ctx, v.progress, catalog.RoleMyCnf, func(in io.Reader) error {
		var err error
		cnf, err = io.Copy(io.Discard, in)
		return err
	})
	if err != nil {
		return "", err
	}
	if cnf > 0 {
		seen[path.Join(cfg.BackupDataTail, "my.cnf")] = true
	}
	if missing := missingEntries(cfg, seen); len(missing) > 0 {
		return "", fmt.Errorf("%s: the backup lacks %s", v, strings.Join(missing, ", "))
	}
	m := &v.manifest
	return fmt.Sprintf("%s format=v2 size=%d objects=%d xbstream_files=%d xbstream_bytes=%d %s snapshot=%s:%d gtid=%q",
		v, m.StoredBytes, len(m.Objects), xb.Files, xb.Bytes, binlogText, m.BinlogFile, m.BinlogPos, m.GTID), nil
}

// verifyTar reads the binlogs object entry by entry.
func (v *v2Source) verifyTar(ctx context.Context, seen map[string]bool) (string, error) {
	var stats archive.ExtractStats
	err := v.read(ctx, v.progress, catalog.RoleBinlogs, func(in io.Reader) error {
		var err error
		stats, err = archive.ReadTar(in, []string{v.cfg.BackupBinlogTail}, func(name string, h *tar.Header, body io.Reader) error {
			seen[name] = true
			_, err := io.Copy(io.Discard, body)
			return err
		})
		return err
	})
	return fmt.Sprintf("binlog_files=%d", stats.Files), err
}

// verifyArchived proves the stretch of the binlog archive the backup
// relies on as a restore would plan it: every event from the snapshot to
// the recorded end, read and checked, the GTIDs followed.
func (v *v2Source) verifyArchived(ctx context.Context, seen map[string]bool) (string, error) {
	a, m := v.manifest.BinlogArchive, &v.manifest
	t, err := binlogarchive.ParseTarget("pos:" + a.To)
	if err != nil {
		return "", fmt.Errorf("%s: binlog_archive.to %q: %w", v, a.To, err)
	}
	ix, err := binlogarchive.ReadIndex(ctx, v.st, binlogarchive.Series{Port: v.cfg.SourcePort(), ServerID: a.ServerID})
	if err != nil {
		return "", err
	}
	if s := (binlogarchive.Series{Port: v.cfg.SourcePort(), ServerID: a.ServerID}).Prefix(); s != a.Series {
		return "", fmt.Errorf("%s names its binlogs in s3 %s, not %s", v, a.Series, s)
	}
	from := binlogarchive.Snapshot{File: m.BinlogFile, Pos: m.BinlogPos, GTID: m.GTID, Created: a.FromCreated, AsWritten: true}
	plan, err := binlogarchive.PlanUntil(ctx, v.st, v.keys, ix, from, t, nil)
	if err != nil {
		return "", fmt.Errorf("%s: its binlogs, in the binlog archive: %w", v, err)
	}
	if a.StopGTID != "" && plan.StopGTID != a.StopGTID {
		return "", fmt.Errorf("%s: the binlog archive's stretch to %s ends at GTID %s, the backup recorded %s", v, a.To, plan.StopGTID, a.StopGTID)
	}
	seen[archivedIndex] = true
	return fmt.Sprintf("binlogs=archive:%s binlog_files=%d transactions=%d", plan.Prefix, len(plan.Files), plan.Transactions), nil
}

// read streams the object of role through its SHA-256 and age and zstd,
// and hands the plaintext to use, which must read it to its end. The
// object's size and SHA-256 are then compared with the manifest; on a
// failure the rest is hashed too, so corruption is named as such.
func (v *v2Source) read(ctx context.Context, rep progress.Reporter, role string, use func(io.Reader) error) error {
	o, ok := v.manifest.Object(role)
	if !ok {
		return fmt.Errorf("the manifest lists no %s object", role)
	}
	rc, err := catalog.OpenPieces(ctx, v.st, o, downloadAttempts)
	if err != nil {
		return err
	}
	defer rc.Close()
	var stored, plain progress.Counter
	stop := rep.Start(ctx, role, &stored, o.Size)
	defer stop()
	in := io.TeeReader(rc, &stored)
	// Each piece's SHA-256 is checked as it ends; the whole stream's is
	// another pass only when there are several pieces.
	var h hash.Hash
	if len(o.Pieces) > 1 {
		h = sha256.New()
		in = io.TeeReader(in, h)
	}
	mismatch := func() error {
		if h == nil {
			return nil
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != o.SHA256 {
			return fmt.Errorf("%w: sha256 of %s is %s, the manifest says %s", catalog.ErrChecksumMismatch, o.Key, got, o.SHA256)
		}
		return nil
	}
	fail := func(cause error) error {
		_, err := io.Copy(io.Discard, in)
		if err == nil {
			err = mismatch()
		}
		if errors.Is(err, catalog.ErrChecksumMismatch) {
			return fmt.Errorf("%w: the stored object is corrupt (%v)", err, cause)
		}
		return fmt.Errorf("%s: %w", o.Key, cause)
	}
	pr, err := archive.OpenV2(in, v.keys)
	if err != nil {
		if errors.Is(err, archive.ErrWrongKey) {
			return fmt.Errorf("%s: %w (encrypted with %s)", o.Key, err, v.manifest.Encryption)
		}
		return fail(err)
	}
	defer pr.Close()
	counted := io.TeeReader(pr, &plain)
	if err := use(counted); err != nil {
		return fail(err)
	}
	if n, err := io.Copy(io.Discard, counted); err != nil {
		return fail(err)
	} else if n > 0 {
		return fail(fmt.Errorf("%d bytes after the end of the %s", n, role))
	}
	if _, err := io.Copy(io.Discard, in); err != nil {
		return err
	}
	if err := mismatch(); err != nil {
		return err
	}
	if plain.N() != o.PlainSize {
		return fmt.Errorf("%s: %d bytes decoded, the manifest says %d", o.Key, plain.N(), o.PlainSize)
	}
	return nil
}
