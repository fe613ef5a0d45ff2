package restore

import (
	"context"
	"errors"
	"fmt"
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

// source is a backup to restore or verify, in its format.
type source interface {
	// String names the backup for messages: its key or path.
	String() string
	// size is the backup's stored size.
	size() int64
	// fetch are the steps that download the backup, checked, into the
	// unpacked dirs under backup_base, ready for the copy-back.
	fetch(r *run) []progress.Task
	// verify reads the whole backup, writing nothing, checks that it holds
	// what a restore needs, and describes it.
	verify(ctx context.Context) (string, error)
	// signed says whether a pinned key's signature vouches for it.
	signed() bool
	// recorded is what the backup recorded for restore-test.
	recorded() Recorded
}

// find is the backup of date (default: date_str, "latest": the newest complete one) and
// the keys that read it. The format is chosen here: a v2 backup of the
// date when there is one (when both formats exist for the date, the newer
// wins), else the legacy archive.
func find(ctx context.Context, in *instance.Instance, rep progress.Reporter, date string) (source, error) {
	cfg := in.Cfg
	var err error
	if date == "" {
		if date, err = resolveDate(ctx, in); err != nil {
			return nil, err
		}
	}
	v2, err := findV2(ctx, in, date)
	if err != nil {
		return nil, err
	}
	if v2 != nil {
		if v2.keys, err = in.OpeningKeys(); err != nil {
			return nil, err
		}
		v2.cfg, v2.progress = cfg, rep
		m := &v2.manifest
		in.Log.Info("found a v2 backup", "manifest", v2.String(), "run", m.Run, "host", m.Host, "snapshot", fmt.Sprintf("%s:%d", m.BinlogFile, m.BinlogPos))
		return v2, nil
	}
	if len(cfg.BackupVerifyKeys) > 0 {
		return nil, fmt.Errorf("no signed v2 backup for date_str %s, and backup_verify_keys refuses an unsigned legacy archive (remove backup_verify_keys to restore one)", date)
	}
	password, err := archive.ReadPasswordFile(cfg.Des3PasswordFile())
	if err != nil {
		return nil, err
	}
	src, err := findLegacy(ctx, in, date)
	if err != nil {
		return nil, err
	}
	src.password, src.cfg, src.progress = password, cfg, rep
	return src, nil
}

// resolveDate is date_str, or for "latest" the date of the newest
// complete backup of the port.
func resolveDate(ctx context.Context, in *instance.Instance) (string, error) {
	cfg := in.Cfg
	if cfg.DateStr != conf.LatestDate || !cfg.HasStore() {
		return cfg.DateStr, nil
	}
	st, err := in.Store()
	if err != nil {
		return "", err
	}
	b, err := latest(ctx, st, cfg)
	if err != nil {
		return "", err
	}
	in.Log.Info("latest complete backup", "date_str", b.Date, "modified", b.Modified)
	return b.Date, nil
}

// ErrNoBackup is returned (wrapped) when the port has no complete backup
// at all: a new group, whose first member starts empty.
var ErrNoBackup = errors.New("no complete backup")

// latest is the newest complete backup of the port. One newer that cannot
// be read is an error, not a reason to take an older one.
func latest(ctx context.Context, st s3.Store, cfg *conf.Config) (catalog.Backup, error) {
	b, ok, err := catalog.LatestOf(ctx, st, cfg.SourcePort())
	if _, unknown := errors.AsType[*catalog.UnknownError](err); unknown {
		return b, fmt.Errorf("--date-str latest: the newest backup of port %s is unreadable, not falling back to an older one: %w", cfg.SourcePort(), err)
	}
	if err != nil {
		return b, err
	}
	if !ok {
		return b, fmt.Errorf("--date-str latest: %w of port %s in %s", ErrNoBackup, cfg.SourcePort(), cfg.StoreName())
	}
	return b, nil
}

// missingBackupError says which dates do exist for this port.
func missingBackupError(ctx context.Context, st s3.Store, cfg *conf.Config, date, key string) error {
	dates, err := backupDates(ctx, st, cfg)
	if err != nil {
		return fmt.Errorf("no backup at s3 key %s (listing the others failed: %v)", key, err)
	}
	if len(dates) == 0 {
		return fmt.Errorf("no backup at s3 key %s: %w of port %s in %s", key, ErrNoBackup, cfg.SourcePort(), cfg.StoreName())
	}
	return fmt.Errorf("no backup for date_str %s at s3 key %s; dates with a backup of port %s: %s", date, key, cfg.SourcePort(), strings.Join(dates, " "))
}

// backupDates lists the date_str of every complete backup of the port,
// either format, oldest first.
func backupDates(ctx context.Context, st s3.Store, cfg *conf.Config) ([]string, error) {
	bs, err := catalog.List(ctx, st, cfg.SourcePort())
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
