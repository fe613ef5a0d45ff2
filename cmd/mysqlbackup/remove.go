package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// RemoveCmd is `mysqlbackup remove`.
type RemoveCmd struct{}

// Run implements remove: the backup of --date-str, complete or not.
func (RemoveCmd) Run(ctx context.Context, app *App) error {
	cfg := app.Cfg
	if app.CLI == nil || app.CLI.DateStr == nil || cfg.DateStr == conf.LatestDate {
		return usageError{errors.New("remove needs --date-str with the date of the backup to remove")}
	}
	st, err := bucketOf(app.inst(), "remove")
	if err != nil {
		return err
	}
	bs, err := catalog.List(ctx, st, string(cfg.Port))
	if err != nil {
		return err
	}
	var found []catalog.Backup
	for _, b := range bs {
		if b.Date == cfg.DateStr {
			found = append(found, b)
		}
	}
	if len(found) == 0 {
		return fmt.Errorf("no backup of port %s for date_str %s", cfg.Port, cfg.DateStr)
	}
	return removeBackups(ctx, app, st, found, false)
}

func removeBackups(ctx context.Context, app *App, st *s3.Bucket, bs []catalog.Backup, dryRun bool) error {
	for _, b := range bs {
		if dryRun {
			fmt.Fprintf(app.Stdout, "would remove %s\n", b.Describe())
			continue
		}
		err := catalog.Remove(ctx, st, b)
		if errors.Is(err, catalog.ErrNowComplete) {
			fmt.Fprintf(app.Stdout, "kept %s: %v\n", b.Key, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("remove %s: %w", b.Key, err)
		}
		fmt.Fprintf(app.Stdout, "removed %s\n", b.Describe())
	}
	return nil
}
