package main

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
)

// PruneCmd is `mysqlbackup prune`.
type PruneCmd struct {
	DryRun bool `name:"dry-run" help:"Print what would be removed, remove nothing."`
}

// deadRunAge: a temporary object older than this belongs to a dead run
// (a live one exists for the seconds of its server-side copy).
const deadRunAge = time.Hour

// Run implements prune: remove what retention_count / retention_days do
// not keep, never the newest complete backup, and dead runs' leftovers.
func (c *PruneCmd) Run(ctx context.Context, app *App) error {
	cfg := app.Cfg
	if cfg.RetentionCount == 0 && cfg.RetentionDays == 0 {
		return &conf.Error{File: cfg.Path, Key: "retention_count", Msg: "prune needs retention_count and/or retention_days"}
	}
	st, err := bucketOf(app.inst(), "prune")
	if err != nil {
		return err
	}
	bs, err := catalog.List(ctx, st, string(cfg.Port))
	if err != nil {
		return err
	}
	policy := catalog.Policy{Count: cfg.RetentionCount, Age: time.Duration(cfg.RetentionDays) * 24 * time.Hour, PartialAge: deadRunAge}
	// An unfinished v2 run started on this host by a process that is gone
	// is dead now, not only after deadRunAge. (A run that completes in
	// between is kept: Remove checks the manifest again.)
	host := instance.Hostname()
	policy.Dead = func(b catalog.Backup) bool {
		return b.Format == catalog.FormatV2 && host != "" && b.Host == host && b.PID > 0 && !processAlive(b.PID)
	}
	gone := catalog.Prune(bs, policy, time.Now())
	if len(gone) == 0 {
		fmt.Fprintln(app.Stdout, "nothing to prune")
		return nil
	}
	return removeBackups(ctx, app, st, gone, c.DryRun)
}

// processAlive says whether a process with this pid exists here (one
// that exists but is not ours counts as alive: the safe answer).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
