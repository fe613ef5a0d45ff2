package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
)

// PruneCmd is `mysqlbackup prune`.
type PruneCmd struct {
	DryRun bool `name:"dry-run" help:"Print what would be removed, remove nothing."`
}

// Run implements prune: remove what retention_count / retention_days do
// not keep, never the newest complete backup, and dead runs' leftovers.
// A backup it cannot classify (its manifest unreadable) is kept and not
// counted; prune removes what it safely can, then fails naming it.
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
	policy := catalog.Policy{Count: cfg.RetentionCount, Age: time.Duration(cfg.RetentionDays) * 24 * time.Hour, Runs: liveness()}
	plan := catalog.Prune(bs, policy, time.Now())
	if len(plan.Remove) == 0 && len(plan.Unknown) == 0 {
		fmt.Fprintln(app.Stdout, "nothing to prune")
		return nil
	}
	err = removeBackups(ctx, app, st, plan.Remove, c.DryRun)
	if len(plan.Unknown) > 0 {
		err = errors.Join(err, fmt.Errorf("prune kept %d backup(s) it %w", len(plan.Unknown), &catalog.UnknownError{Backups: plan.Unknown}))
	}
	return err
}

// liveness judges runs from this host: a run recorded with this host's
// name and a pid that no process has is dead at once.
func liveness() catalog.Liveness {
	return catalog.Liveness{Host: instance.Hostname(), Machine: instance.MachineID(), Alive: instance.ProcessAlive,
		HeartbeatAge: catalog.HeartbeatDeadAge, PartialAge: catalog.PartialDeadAge}
}
