package main

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/conf"
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
func findSource(ctx context.Context, cfg *conf.Config) (source, error) {
	if cfg.S3Bucket == "" {
		return localSource(cfg.BackupTgzDes3)
	}
	sc, err := storeConfig(cfg)
	if err != nil {
		return source{}, err
	}
	st := s3.New(sc)
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

// backupDates lists the date_str of every complete legacy backup of the
// port, oldest first, following pagination.
func backupDates(ctx context.Context, st s3.Store, cfg *conf.Config) ([]string, error) {
	objs, err := st.List(ctx, "")
	if err != nil {
		return nil, err
	}
	re := regexp.MustCompile(`^([^/]+)/` + regexp.QuoteMeta(string(cfg.Port)+"/"+cfg.BackupTgzDes3Tail) + `$`)
	var dates []string
	for _, o := range objs {
		if m := re.FindStringSubmatch(o.Key); m != nil {
			dates = append(dates, m[1])
		}
	}
	sort.Strings(dates)
	return dates, nil
}
