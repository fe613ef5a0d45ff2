package main

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// downloadAttempts bounds the resumptions of a broken download in a row.
const downloadAttempts = 5

// source is an archive to restore and the checksum it must have.
type source struct {
	name string // s3 key or file path, for messages
	size int64
	open func(context.Context) (io.ReadCloser, error)
	algo string // "sha1", "md5" or "" when nothing records one
	sum  string
}

// hasher returns a hash for the recorded checksum, or nil without one.
func (s source) hasher() hash.Hash {
	switch s.algo {
	case "sha1":
		return sha1.New()
	case "md5":
		return md5.New()
	}
	return nil
}

// findSource locates the backup of date_str: the S3 object (with its sha1,
// or md5 metadata) or the local archive (with the .sha1 beside it).
func findSource(ctx context.Context, in *instance.Instance) (source, error) {
	cfg := in.Cfg
	if cfg.S3Bucket == "" {
		return localSource(cfg.BackupTgzDes3)
	}
	st, err := in.Store()
	if err != nil {
		return source{}, err
	}
	info, err := st.Head(ctx, cfg.S3Key)
	if errors.Is(err, s3.ErrNotExist) {
		return source{}, missingBackupError(ctx, st, cfg)
	}
	if err != nil {
		return source{}, err
	}
	src := source{name: "s3 key " + cfg.S3Key, size: info.Size}
	src.open = func(ctx context.Context) (io.ReadCloser, error) {
		return s3.OpenResuming(ctx, st, cfg.S3Key, info.Size, downloadAttempts)
	}
	if v := info.Metadata["sha1"]; v != "" {
		src.algo, src.sum = "sha1", strings.ToLower(v)
	} else if v := info.Metadata["md5"]; v != "" {
		src.algo, src.sum = "md5", strings.ToLower(v)
	}
	return src, nil
}

func localSource(path string) (source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return source{}, fmt.Errorf("no local backup archive: %w (and no s3_bucket to download from)", err)
	}
	src := source{name: path, size: fi.Size(), open: func(context.Context) (io.ReadCloser, error) { return os.Open(path) }}
	if data, err := os.ReadFile(path + ".sha1"); err == nil {
		fields := strings.Fields(string(data))
		if len(fields) == 0 || len(fields[0]) != 40 {
			return source{}, fmt.Errorf("%s.sha1: not a sha1sum line", path)
		}
		src.algo, src.sum = "sha1", strings.ToLower(fields[0])
	}
	return src, nil
}

// missingBackupError says which dates do exist for this port.
func missingBackupError(ctx context.Context, st s3.Store, cfg *conf.Config) error {
	dates, err := backupDates(ctx, st, cfg)
	if err != nil {
		return fmt.Errorf("no backup at s3 key %s (listing the others failed: %v)", cfg.S3Key, err)
	}
	if len(dates) == 0 {
		return fmt.Errorf("no backup at s3 key %s, and none for port %s in bucket %s", cfg.S3Key, cfg.Port, cfg.S3Bucket)
	}
	return fmt.Errorf("no backup for date_str %s at s3 key %s; dates with a backup of port %s: %s", cfg.DateStr, cfg.S3Key, cfg.Port, strings.Join(dates, " "))
}

// backupDates lists the date_str of every complete backup of the port,
// either format, oldest first.
func backupDates(ctx context.Context, st s3.Store, cfg *conf.Config) ([]string, error) {
	bs, err := catalog.List(ctx, st, string(cfg.Port))
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var dates []string
	for _, b := range bs {
		if b.Complete && !seen[b.Date] {
			seen[b.Date] = true
			dates = append(dates, b.Date)
		}
	}
	sort.Strings(dates)
	return dates, nil
}

// readSource streams the archive of src through its checksum, finds the
// des3 digest (des3_digest first), and hands the plaintext-to-be stream to
// use, which must read it to the end; then the checksum is compared. Only
// after that is what use did worth anything.
func readSource(app *App, src source, password []byte, phase string,
	use func(io.Reader, archive.Digest) (archive.ExtractStats, error)) (archive.ExtractStats, error) {
	rc, err := src.open(app.Ctx)
	if err != nil {
		return archive.ExtractStats{}, err
	}
	defer rc.Close()
	var c progress.Counter
	stop := progress.Report(app.Ctx, app.Log, app.Term, phase, &c, src.size)
	defer stop()
	var in io.Reader = io.TeeReader(rc, &c)
	h := src.hasher()
	if h != nil {
		in = io.TeeReader(in, h)
	}
	br := bufio.NewReaderSize(in, 1<<20)
	preferred, err := archive.ParseDigest(app.Cfg.Des3Digest)
	if err != nil {
		return archive.ExtractStats{}, err
	}
	digest, err := archive.DetectDigest(br, password, preferred)
	if err != nil {
		return archive.ExtractStats{}, fmt.Errorf("%s: %w", src.name, err)
	}
	st, err := use(br, digest)
	if err != nil {
		return st, corruptOrBroken(src, h, br, err)
	}
	if h != nil {
		if got := hex.EncodeToString(h.Sum(nil)); got != src.sum {
			return st, fmt.Errorf("checksum mismatch: %s of %s is %s, recorded %s", src.algo, src.name, got, src.sum)
		}
	}
	app.Log.Info("archive read to its end and verified", "files", st.Files, "bytes", progress.Bytes(st.Bytes), "digest", digest, "checksum", src.algo)
	return st, nil
}

// resolveDate turns date_str "latest" into the date of the newest
// complete backup of the port.
func resolveDate(app *App) error {
	cfg := app.Cfg
	if cfg.DateStr != conf.LatestDate || cfg.S3Bucket == "" {
		return nil
	}
	st, err := app.inst().Store()
	if err != nil {
		return err
	}
	bs, err := catalog.List(app.Ctx, st, string(cfg.Port))
	if err != nil {
		return err
	}
	b, ok := catalog.Latest(bs)
	if !ok {
		return fmt.Errorf("--date-str latest: no complete backup of port %s in bucket %s", cfg.Port, cfg.S3Bucket)
	}
	app.Log.Info("latest complete backup", "date_str", b.Date, "modified", b.Modified)
	cfg.UseDate(b.Date)
	return nil
}

// corruptOrBroken explains an archive that failed to read. With a recorded
// checksum the rest of the stream is hashed too: a mismatch means the
// stored object is corrupt, which says more than where the damage surfaced.
func corruptOrBroken(src source, h hash.Hash, rest io.Reader, cause error) error {
	if h != nil {
		if _, err := io.Copy(io.Discard, rest); err == nil {
			if got := hex.EncodeToString(h.Sum(nil)); got != src.sum {
				return fmt.Errorf("checksum mismatch: %s of %s is %s, recorded %s: the stored archive is corrupt (%v)", src.algo, src.name, got, src.sum, cause)
			}
		}
	}
	return fmt.Errorf("%s: %w", src.name, cause)
}
