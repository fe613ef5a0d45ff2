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
	st, err := storeOf(app.inst(), "remove")
	if err != nil {
		return err
	}
	bs, err := catalog.List(ctx, st, string(cfg.Port))
	if err != nil {
		return err
	}
	var found []catalog.Removal
	for _, b := range bs {
		if b.Date == cfg.DateStr {
			found = append(found, catalog.Removal{Backup: b})
		}
	}
	if len(found) == 0 {
		return fmt.Errorf("no backup of port %s for date_str %s", cfg.Port, cfg.DateStr)
	}
	return removeBackups(ctx, app, st, found, false)
}

// removeBackups removes each backup, going on past one that changed
// since it was listed (kept) or could not be removed; the errors are
// joined.
func removeBackups(ctx context.Context, app *App, st s3.Store, rs []catalog.Removal, dryRun bool) error {
	var errs []error
	for _, r := range rs {
		why := ""
		if r.Why != "" {
			why = " (" + r.Why + ")"
		}
		if dryRun {
			fmt.Fprintf(app.Stdout, "would remove %s%s\n", r.Describe(), why)
			continue
		}
		err := catalog.Remove(ctx, st, r.Backup)
		if errors.Is(err, catalog.ErrNowComplete) || errors.Is(err, catalog.ErrReplaced) {
			fmt.Fprintf(app.Stdout, "kept %s: %v\n", r.Key, err)
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", r.Key, err))
			continue
		}
		fmt.Fprintf(app.Stdout, "removed %s%s\n", r.Describe(), why)
	}
	return errors.Join(errs...)
}
