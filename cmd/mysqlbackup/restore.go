package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/restore"
)

// RestoreCmd is `mysqlbackup restore`.
type RestoreCmd struct {
	Until           *string `name:"until" placeholder:"T" help:"Point-in-time restore from the binlog archive: an RFC 3339 time (2026-11-30T12:00:00Z), \"2026-11-30 12:00:00 Europe/Paris\", gtid:<GTID list>, pos:<file>:<pos>, or latest."`
	DryRun          bool    `name:"dry-run" help:"With --until: print the plan (backup, archived binlogs, continuity proof, stop point, disk) and touch nothing."`
	JSON            bool    `name:"json" help:"With --dry-run: the plan as JSON."`
	ArchiveServerID uint32  `name:"archive-server-id" placeholder:"ID" help:"With --until: the archive series to replay (default: the server that took the backup, or the port's only one)."`
	FromPort        uint16  `name:"from-port" placeholder:"PORT" help:"Restore the backups (and binlog archive) of PORT into this config's port and data dir (--port, --data-base): a copy beside the instance, its own my.cnf relocated. v2 backups only."`
}

// Run implements restore (see package restore).
func (c *RestoreCmd) Run(ctx context.Context, app *App) error {
	if c.FromPort != 0 {
		from := conf.Number(strconv.Itoa(int(c.FromPort)))
		if from == app.Cfg.Port {
			return usageError{fmt.Errorf("--from-port %s is the config's port: give the copy another one with --port", from)}
		}
		app.Cfg.FromPort = from
	}
	if c.Until == nil {
		if c.DryRun || c.ArchiveServerID != 0 {
			return usageError{errors.New("--dry-run and --archive-server-id go with --until")}
		}
		return runRestore(ctx, app, restore.Options{})
	}
	t, err := binlogarchive.ParseTarget(*c.Until)
	if err != nil {
		return usageError{err}
	}
	if app.Cfg.S3Bucket == "" {
		return &conf.Error{File: app.Cfg.Path, Key: "s3_bucket", Msg: "--until restores from the binlog archive in the object store; none is configured"}
	}
	u := &restore.Until{Target: t, ServerID: c.ArchiveServerID}
	if !c.DryRun {
		return runRestore(ctx, app, restore.Options{Until: u})
	}
	plan, err := restore.PlanOnly(ctx, app.inst(), u)
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(app.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(plan)
	}
	renderPlan(app.Stdout, plan)
	return nil
}

// renderPlan prints a point-in-time restore's plan.
func renderPlan(w io.Writer, p *restore.PlanReport) {
	a := p.Archive
	fmt.Fprintf(w, "plan: restore --until %s\n", a.Target)
	fmt.Fprintf(w, "backup:   %s (%s, %s stored) snapshot %s gtid %s\n", p.Backup, p.Format, progress.Bytes(p.BackupBytes), p.Snapshot, p.SnapshotGTID)
	fmt.Fprintf(w, "archive:  s3 %s, %d file(s), %s to replay, %d transaction(s)\n", a.Prefix, len(a.Files), progress.Bytes(int64(a.Bytes)), a.Transactions)
	for _, f := range a.Files {
		fmt.Fprintf(w, "  %s [%d, %d) in %d segment(s)\n", f.Name, f.From, f.To, f.Segments)
	}
	fmt.Fprintln(w, "proof:    every file whole and in sequence from the snapshot, no gap; per domain:")
	for _, d := range a.Domains {
		fmt.Fprintf(w, "  %s\n", d)
	}
	last := "no transaction after the snapshot"
	if !a.LastTime.IsZero() {
		last = "last transaction at " + a.LastTime.Format(time.RFC3339)
	}
	fmt.Fprintf(w, "stop:     before %s, gtid %s (%s)\n", a.Stop, a.StopGTID, last)
	fmt.Fprintf(w, "disk:     about %s needed under backup_base, %s free\n", progress.Bytes(p.NeedBytes), progress.Bytes(p.FreeBytes))
}

// runRestore runs a restore with o, records it in metrics_file and prints
// its result line.
func runRestore(ctx context.Context, app *App, o restore.Options) error {
	o.Term = app.Term
	start := time.Now()
	o.OnEnd = func(res *restore.Result, err error) { recordRun(app, "restore", &res.Phases, start, res.Size, err) }
	res, err := restore.Run(ctx, app.inst(), o)
	if err != nil {
		return err
	}
	fmt.Fprintf(app.Stdout, "restore ok: %s\n", res.Summary)
	return nil
}
