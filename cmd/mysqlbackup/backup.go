package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mysqlbackup/mysqlbackup/backup"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/lock"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
)

// BackupCmd is `mysqlbackup backup`.
type BackupCmd struct {
	fleetFlags
	IfOlderThan time.Duration `name:"if-older-than" placeholder:"DURATION" help:"Do nothing (exit 0) when a complete backup of the port newer than this exists, e.g. 20h: cron may run it often."`
	FromScratch bool          `name:"from-scratch" help:"Take the backup from a scratch copy: restore the latest backup beside the instance, replicate it from the instance up to its position now, back it up as this port's backup, remove it, apply retention. The instance's datadir is never read by the engine."`
}

// Run implements backup (see package backup), unless --if-older-than
// finds a recent enough one.
func (c *BackupCmd) Run(ctx context.Context, app *App) error {
	fresh, err := backup.Recent(ctx, app.inst(), c.IfOlderThan)
	if err != nil {
		return err
	}
	if fresh != "" {
		fmt.Fprintf(app.Stdout, "backup skipped: %s (--if-older-than %s)\n", fresh, c.IfOlderThan)
		return nil
	}
	if !c.FromScratch {
		return runBackup(ctx, app, backup.Options{})
	}
	err = runBackupWith(ctx, app, backup.Options{}, backup.FromScratch, true)
	if err == nil && (app.Cfg.RetentionCount > 0 || app.Cfg.RetentionDays > 0) {
		if perr := (&PruneCmd{}).Run(ctx, app); perr != nil {
			return fmt.Errorf("the backup is stored; retention: %w", perr)
		}
	}
	return err
}

// runBackup runs a backup with o, records it in metrics_file and prints
// its result line.
func runBackup(ctx context.Context, app *App, o backup.Options) error {
	return runBackupWith(ctx, app, o, backup.Run, false)
}

// runBackupWith is runBackup with the run given (a normal backup, or one
// from a scratch copy, whose failures before the backup proper, in the
// restore or the catch-up of the copy, count as failed backups too).
func runBackupWith(ctx context.Context, app *App, o backup.Options, run func(context.Context, *instance.Instance, backup.Options) (*backup.Result, error), recordEarly bool) error {
	o.Tool, o.Term = "mysqlbackup "+version, app.Term
	start := time.Now()
	recorded := false
	o.OnEnd = func(res *backup.Result, err error) {
		recorded = true
		recordRun(app, "backup", &res.Phases, start, res.Size, err)
	}
	res, err := run(ctx, app.inst(), o)
	if err != nil && !recorded && recordEarly && !errors.Is(err, lock.ErrBusy) {
		recordRun(app, "backup", &progress.Phases{}, start, 0, err) // failed before the backup itself began
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(app.Stdout, "backup ok: %s\n", res.Summary)
	return nil
}
