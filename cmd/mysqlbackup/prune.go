package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// PruneCmd is `mysqlbackup prune`.
type PruneCmd struct {
	fleetFlags
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
	st, err := storeOf(app.inst(), "prune")
	if err != nil {
		return err
	}
	bs, err := catalog.List(ctx, st, string(cfg.Port))
	if err != nil {
		return err
	}
	policy := catalog.Policy{Count: cfg.RetentionCount, Age: time.Duration(cfg.RetentionDays) * 24 * time.Hour, Runs: instance.RunLiveness()}
	plan := catalog.Prune(bs, policy, time.Now())
	if len(plan.Remove) == 0 && len(plan.Unknown) == 0 {
		fmt.Fprintln(app.Stdout, "nothing to prune")
	}
	err = removeBackups(ctx, app, st, plan.Remove, c.DryRun)
	if err == nil {
		err = pruneBinlogs(ctx, app, st, bs, plan, c.DryRun)
	}
	if len(plan.Unknown) > 0 {
		err = errors.Join(err, fmt.Errorf("prune kept %d backup(s) it %w", len(plan.Unknown), &catalog.UnknownError{Backups: plan.Unknown}))
	}
	return err
}

// pruneBinlogs removes from each binlog archive of the port the files
// the oldest backup prune keeps does not need; with a backup of unknown
// state, or none complete, it removes nothing.
func pruneBinlogs(ctx context.Context, app *App, st s3.Store, bs []catalog.Backup, plan catalog.Plan, dryRun bool) error {
	series, err := binlogarchive.ListSeries(ctx, st, string(app.Cfg.Port))
	if err != nil || len(series) == 0 {
		return err
	}
	need, why := oldestKept(bs, plan)
	if why != "" {
		fmt.Fprintf(app.Stdout, "binlog archive kept whole: %s\n", why)
		return nil
	}
	verb := "removed"
	if dryRun {
		verb = "would remove"
	}
	for _, s := range series {
		res, err := binlogarchive.Prune(ctx, st, s, need, dryRun)
		if err != nil {
			return fmt.Errorf("prune binlog archive %s: %w", s.Prefix(), err)
		}
		if len(res.Files) == 0 {
			fmt.Fprintf(app.Stdout, "binlog archive s3 %s: nothing to prune (%s)\n", s.Prefix(), res.Why)
			continue
		}
		fmt.Fprintf(app.Stdout, "binlog archive s3 %s: %s %d file(s) %s to %s, the oldest kept backup %s needs from %s on\n",
			s.Prefix(), verb, len(res.Files), res.Files[0], res.Files[len(res.Files)-1], need.Backup, res.Kept)
	}
	return nil
}

// oldestKept is what the oldest complete backup prune keeps needs of the
// binlog archive, or why nothing can be removed.
func oldestKept(bs []catalog.Backup, plan catalog.Plan) (binlogarchive.Need, string) {
	if len(plan.Unknown) > 0 {
		return binlogarchive.Need{}, "a backup of unknown state may need any of it"
	}
	removed := map[string]bool{}
	for _, r := range plan.Remove {
		removed[r.Key] = true
	}
	for _, b := range bs {
		if !b.Complete || removed[b.Key] {
			continue
		}
		at := b.Modified
		if b.Manifest != nil && !b.Manifest.Started.IsZero() {
			at = b.Manifest.Started
		}
		file, _, _ := strings.Cut(b.Position, ":")
		return binlogarchive.Need{Backup: b.Date, Time: at, GTID: b.GTID, File: file}, ""
	}
	return binlogarchive.Need{}, "no complete backup is kept"
}
