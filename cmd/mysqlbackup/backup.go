package main

import (
	"context"
	"fmt"
	"time"

	"github.com/mysqlbackup/mysqlbackup/backup"
)

// BackupCmd is `mysqlbackup backup`.
type BackupCmd struct {
	IfOlderThan time.Duration `name:"if-older-than" placeholder:"DURATION" help:"Do nothing (exit 0) when a complete backup of the port newer than this exists, e.g. 20h: cron may run it often."`
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
	return runBackup(ctx, app, backup.Options{})
}

// runBackup runs a backup with o, records it in metrics_file and prints
// its result line.
func runBackup(ctx context.Context, app *App, o backup.Options) error {
	o.Tool, o.Term = "mysqlbackup "+version, app.Term
	start := time.Now()
	o.OnEnd = func(res *backup.Result, err error) { recordRun(app, "backup", &res.Phases, start, res.Size, err) }
	res, err := backup.Run(ctx, app.inst(), o)
	if err != nil {
		return err
	}
	fmt.Fprintf(app.Stdout, "backup ok: %s\n", res.Summary)
	return nil
}
