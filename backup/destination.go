package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/atomicfile"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// destination is where an archive goes. Upload writes it to a temporary
// place; only Commit, given the checksum and size of what was uploaded,
// makes it the backup, after checking it. Nothing half-done is ever
// visible as a backup.
type destination interface {
	// Cleanup removes what a killed earlier run left (temporary objects,
	// unfinished uploads, temporary files) and readies the destination.
	Cleanup(ctx context.Context) error
	// Upload stores r; expected, the archive's likely size, sizes its parts.
	Upload(ctx context.Context, r io.Reader, expected int64) error
	// Commit publishes with meta, whose "sha1" is the uploaded bytes' SHA-1.
	Commit(ctx context.Context, meta map[string]string, size int64) error
	// Abort removes the temporary copy; harmless after Commit.
	Abort()
	String() string
}

// newDestination is the store (S3 bucket or backup_store_dir) when one is
// configured, else the local archive path.
func newDestination(in *instance.Instance) (destination, error) {
	cfg := in.Cfg
	if !cfg.HasStore() {
		return &fileDestination{path: cfg.BackupTgzDes3}, nil
	}
	st, err := in.Store()
	if err != nil {
		return nil, err
	}
	return &s3Destination{st: st, key: cfg.S3Key, run: instance.RunName(), log: in.Log}, nil
}

type s3Destination struct {
	st  s3.Store
	key string
	// run names this run; its temporary object is catalog.PartialKey(key, run).
	run       string
	log       *slog.Logger
	crc       *s3.CRC32 // of the bytes uploaded, as the final object's copy holds them
	upCRC     *s3.CRC32 // the same, as the temporary object's upload parts hold them
	committed bool
	beat      *heartbeat // the run's, from Cleanup to Commit or Abort
}

// crcStore is a store that tells, with an object's size and metadata in
// one answer, the CRC-32 it computed over the object's bytes.
type crcStore interface {
	HeadCRC32(ctx context.Context, key string) (s3.Info, string, error)
}

func (d *s3Destination) String() string { return "s3 key " + d.key }

// tmp is this run's temporary object.
func (d *s3Destination) tmp() string { return catalog.PartialKey(d.key, d.run) }

// runMeta names the run in its temporary object: the host, machine and
// pid by which a prune, or the next run, judges it dead or alive.
func (d *s3Destination) runMeta() map[string]string {
	return map[string]string{catalog.MetaHost: instance.Hostname(), catalog.MetaMachine: instance.MachineID(), catalog.MetaPID: strconv.Itoa(os.Getpid())}
}

// Cleanup removes the temporary objects, and their unfinished uploads,
// of runs for this key that are known dead (instance.RunLiveness: killed
// runs of this host, a stale heartbeat). A live run's, such as another
// group member's backing up the same date now, is left alone: both
// publish, and the last to finish wins. Then it makes this run visible
// with an empty temporary object naming it (so a run killed mid-upload
// leaves a named leftover, and its upload can be aborted), and checks the
// store copies objects server-side, which publishing needs.
func (d *s3Destination) Cleanup(ctx context.Context) error {
	partials, err := catalog.Partials(ctx, d.st, d.key)
	if err != nil {
		return err
	}
	live, now := instance.RunLiveness(), time.Now()
	for _, b := range partials {
		dead, why := live.Dead(b, now)
		if !dead {
			d.log.Info("another run is uploading this archive: the last to publish wins", "key", b.Key, "host", b.Host, "why", why)
			continue
		}
		d.log.Info("removing a dead run's temporary object", "key", b.Key, "why", why)
		if err := catalog.Remove(ctx, d.st, b); err != nil {
			return err
		}
	}
	meta := d.runMeta()
	if err := d.st.Put(ctx, d.tmp(), bytes.NewReader(nil), meta); err != nil {
		return err
	}
	// The run beats until it ends: an upload, and the copy after it, may
	// take a day (a large archive, a throttle), and is judged by its last
	// beat, never by its start.
	started := catalog.Started{Run: d.run, Host: meta[catalog.MetaHost], Machine: meta[catalog.MetaMachine], PID: os.Getpid(), Started: time.Now().UTC()}
	if err := catalog.PutJSON(ctx, d.st, d.tmp()+catalog.BeatSuffix, started); err != nil {
		return err
	}
	d.beat = startHeartbeat(ctx, d.st, d.tmp()+catalog.BeatSuffix, started, d.log)
	return checkCopy(ctx, d.st, d.tmp())
}

// endRun stops the run's heartbeat and removes it and the copy probe.
func (d *s3Destination) endRun(ctx context.Context) error {
	d.beat.stop()
	return errors.Join(d.st.Delete(ctx, d.tmp()+catalog.BeatSuffix), d.st.Delete(ctx, d.tmp()+catalog.CopyCheckSuffix))
}

// checkCopy copies key server-side to a scratch key and removes it: a
// store without CopyObject fails here, before the data is streamed, not
// after.
func checkCopy(ctx context.Context, st s3.Store, key string) error {
	probe := key + catalog.CopyCheckSuffix
	err := st.Copy(ctx, key, probe, map[string]string{"check": "copy"})
	if err != nil {
		return fmt.Errorf("the object store cannot copy objects server-side (S3 CopyObject), which publishing an archive needs: %w", err)
	}
	return st.Delete(ctx, probe)
}

// Upload streams into the temporary object; to S3 with parts large
// enough for the expected size to fit its part limit (memory is about
// part size × (s3_concurrency + 1)). The object names this host and
// process: a prune or a later run here removes it at once when the
// process is gone, never while it lives; elsewhere, an hour after the
// run's last heartbeat.
func (d *s3Destination) Upload(ctx context.Context, r io.Reader, expected int64) error {
	st := d.st
	d.crc = s3.NewCRC32()
	w := io.Writer(d.crc)
	if b, ok := st.(*s3.Bucket); ok {
		sized := b.ForSize(expected)
		if sized.PartSize() != b.PartSize() {
			d.log.Info("larger S3 parts for a large archive", "part_size", progress.Bytes(sized.PartSize()), "expected", progress.Bytes(expected))
		}
		st = sized
		d.upCRC = s3.NewCRC32Parts(sized.PartSize())
		w = io.MultiWriter(d.crc, d.upCRC)
	}
	return st.Put(ctx, d.tmp(), io.TeeReader(r, w), d.runMeta())
}

// Commit checks the temporary object (its size, and the CRC-32 the store
// computed over the parts it received: a copy over 5 GiB, made part by
// part, carries none), copies it to the final key with its sha1 metadata
// and the run's name, checks it there, then deletes the temporary object.
// The copy is atomic: the final key always holds one whole archive.
//
// When another writer published after this run (a group member backing
// up the same date; or one that names no run, the legacy tool), the final
// key holds its archive: last writer wins, as with the legacy tool. This
// run then waits for that run's own check to end (its temporary object
// gone) and publishes its archive again if the other's failed its check
// and was removed, so that no date is left without an archive while a
// run says it succeeded. Size, metadata and the store's CRC-32 are read
// in one answer, so a check is of one object, never of this run's
// metadata and another's bytes.
func (d *s3Destination) Commit(ctx context.Context, meta map[string]string, size int64) error {
	sha1 := meta["sha1"]
	tmp, stored, err := d.head(ctx, d.tmp())
	if err != nil {
		return fmt.Errorf("verify upload: %w", err)
	}
	if err := d.verify(tmp, stored, d.upCRC, size, ""); err != nil {
		return fmt.Errorf("verify upload: %w", err)
	}
	meta = maps.Clone(meta)
	meta[catalog.MetaRun] = d.run
	for again := false; ; again = true {
		if err := d.st.Copy(ctx, d.tmp(), d.key, meta); err != nil {
			return err
		}
		info, stored, err := d.head(ctx, d.key)
		if err != nil {
			return fmt.Errorf("verify upload: %w", err)
		}
		other := info.Metadata[catalog.MetaRun]
		if other == d.run {
			if err := d.verify(info, stored, d.crc, size, sha1); err != nil {
				return d.unpublish(ctx, fmt.Errorf("verify upload: %w", err))
			}
			break
		}
		d.log.Info("another writer published this archive after this run: the last to publish wins", "key", d.key, "run", other)
		if again || !d.waitOther(ctx, other) {
			break
		}
		if _, err := d.st.Head(ctx, d.key); !errors.Is(err, s3.ErrNotExist) {
			break // the other's archive passed its check (or cannot be told: it stays)
		}
		d.log.Warn("the later writer's archive failed its check and was removed: publishing this run's again", "key", d.key, "run", other)
	}
	d.committed = true
	if err := errors.Join(d.endRun(ctx), d.st.Delete(ctx, d.tmp())); err != nil {
		d.log.Warn("temporary object not removed", "key", d.tmp(), "err", err)
	}
	return nil
}

// otherCheckWait bounds how long a run waits for the check of another
// run that published the same key after it (a HEAD, seconds).
var otherCheckWait = 5 * time.Minute

// waitOther waits until run's temporary object is gone: its check of the
// final key has ended. False when run names no run of this tool (the
// legacy tool checks nothing after its upload) or the wait timed out.
func (d *s3Destination) waitOther(ctx context.Context, run string) bool {
	if run == "" {
		return false
	}
	tmp := catalog.PartialKey(d.key, run)
	for deadline := time.Now().Add(otherCheckWait); time.Now().Before(deadline); {
		if _, err := d.st.Head(ctx, tmp); errors.Is(err, s3.ErrNotExist) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(2 * time.Second):
		}
	}
	d.log.Warn("the later writer's check did not end in time; its archive stays", "key", d.key, "run", run)
	return false
}

// unpublish removes the final object after its check failed, but only
// while it is still this run's: another's published meanwhile stays.
// (A store without conditional deletes leaves a moment between the two.)
func (d *s3Destination) unpublish(ctx context.Context, err error) error {
	ctx = context.WithoutCancel(ctx)
	if again, herr := d.st.Head(ctx, d.key); herr == nil && again.Metadata[catalog.MetaRun] == d.run {
		err = errors.Join(err, d.st.Delete(ctx, d.key))
	}
	return err
}

// head is key's size and metadata, with the CRC-32 the store computed
// over it ("" when it keeps none).
func (d *s3Destination) head(ctx context.Context, key string) (s3.Info, string, error) {
	if cs, ok := d.st.(crcStore); ok {
		return cs.HeadCRC32(ctx, key)
	}
	info, err := d.st.Head(ctx, key)
	return info, "", err
}

// verify checks an object against what was sent: its size and sha1
// metadata, and the CRC-32 the store computed over the bytes it holds
// (when it keeps one: S3 and MinIO do) against sent's. Only a restore or
// verify reads every byte back through the SHA-1.
func (d *s3Destination) verify(info s3.Info, stored string, sent *s3.CRC32, size int64, sha1 string) error {
	if info.Size != size || info.Metadata["sha1"] != sha1 {
		return fmt.Errorf("s3 has %d bytes sha1 %q at %s, sent %d bytes sha1 %q", info.Size, info.Metadata["sha1"], info.Key, size, sha1)
	}
	if sent == nil {
		return nil
	}
	match, known := sent.Matches(stored)
	switch {
	case !known:
		d.log.Debug("the store keeps no CRC-32 of the object: size and metadata checked", "key", info.Key)
	case !match:
		return fmt.Errorf("s3 computed CRC-32 %s over %s, which is not that of the %d bytes sent", stored, info.Key, size)
	default:
		d.log.Debug("the store's CRC-32 matches the bytes sent", "key", info.Key, "crc32", stored)
	}
	return nil
}

func (d *s3Destination) Abort() {
	if d.committed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := errors.Join(d.endRun(ctx), d.st.AbortUploads(ctx, d.tmp()), d.st.Delete(ctx, d.tmp()))
	if err != nil {
		d.log.Warn("temporary object not removed", "key", d.tmp(), "err", err)
	}
}

// fileDestination keeps the archive at backup_tgz_des3 with its checksum
// in backup_tgz_des3.sha1, in sha1sum's format.
type fileDestination struct {
	path string
	f    *atomicfile.File
}

func (d *fileDestination) String() string { return d.path }

func (d *fileDestination) Cleanup(context.Context) error {
	return errors.Join(atomicfile.RemoveLeftovers(d.path), atomicfile.RemoveLeftovers(d.path+".sha1"))
}

func (d *fileDestination) Upload(_ context.Context, r io.Reader, _ int64) error {
	f, err := atomicfile.Create(d.path, 0o600)
	if err != nil {
		return fmt.Errorf("archive file: %w", err)
	}
	d.f = f
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("write %s: %w", d.path, err)
	}
	return nil
}

// Commit writes the .sha1 first and the archive last: a crash between the
// two leaves a checksum that does not match, which restore refuses, never
// an unchecked archive.
func (d *fileDestination) Commit(_ context.Context, meta map[string]string, _ int64) error {
	line := fmt.Sprintf("%s  %s\n", meta["sha1"], filepath.Base(d.path))
	if err := atomicfile.WriteFile(d.path+".sha1", []byte(line), 0o644); err != nil {
		return err
	}
	return d.f.Commit()
}

func (d *fileDestination) Abort() {
	if d.f != nil {
		d.f.Abort()
	}
}
