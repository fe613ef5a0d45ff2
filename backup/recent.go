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
// satisfied"). A maxAge of 0 always makes a backup due.
func Recent(ctx context.Context, in *instance.Instance, maxAge time.Duration) (string, error) {
	if maxAge <= 0 {
		return "", nil
	}
	cfg := in.Cfg
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
		st, err := in.Store()
		if err != nil {
			return "", err
		}
		var ok bool
		if latest, ok, err = catalog.LatestOf(ctx, st, string(cfg.Port)); err != nil || !ok {
			return "", err
		}
	}
	age := time.Since(latest.Modified)
	if age >= maxAge {
		return "", nil
	}
	return fmt.Sprintf("%s is %s old", latest.Key, age.Round(time.Second)), nil
}
