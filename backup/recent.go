package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/instance"
)

// Recent describes a complete backup of the instance younger than maxAge,
// or returns "" when a backup is due (vtbackup's "policy already
// satisfied"). A maxAge of 0 always makes a backup due, and so does a
// newest backup whose state cannot be read.
func Recent(ctx context.Context, in *instance.Instance, maxAge time.Duration) (string, error) {
	if maxAge <= 0 {
		return "", nil
	}
	cfg := in.Cfg
	var latest catalog.Backup
	if !cfg.HasStore() {
		fi, err := os.Stat(cfg.BackupTgzDes3)
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		latest = catalog.Backup{Key: cfg.BackupTgzDes3, Modified: fi.ModTime()}
	} else {
		st, err := in.Store()
		if err != nil {
			return "", err
		}
		var ok bool
		latest, ok, err = catalog.LatestOf(ctx, st, string(cfg.Port))
		if ue, unknown := errors.AsType[*catalog.UnknownError](err); unknown {
			// In doubt, back up: one backup too many costs little.
			in.Log.Warn("--if-older-than: the newest backup cannot be read; backing up", "err", ue)
			return "", nil
		}
		if err != nil || !ok {
			return "", err
		}
	}
	age := time.Since(latest.Modified)
	if age >= maxAge {
		return "", nil
	}
	return fmt.Sprintf("%s is %s old", latest.Key, age.Round(time.Second)), nil
}
