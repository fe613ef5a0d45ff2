package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/restore"
)

// RestoreCmd is `mysqlbackup restore`.
type RestoreCmd struct {
	Until           *string `name:"until" placeholder:"T" help:"Point-in-time restore from the binlog archive: an RFC 3339 time (2026-11-30T12:00:00Z), \"2026-11-30 12:00:00 Europe/Paris\", gtid:<GTID list>, pos:<file>:<pos>, or latest."`
	DryRun          bool    `name:"dry-run" help:"Print the plan and every refusal the restore would give, and touch nothing: the backup, its objects, versions, disk, my.cnf changes (with --until: the archived binlogs, continuity proof and stop point). Exit 0 only when the restore would proceed."`
	JSON            bool    `name:"json" help:"With --dry-run: the plan as JSON."`
	ArchiveServerID uint32  `name:"archive-server-id" placeholder:"ID" help:"With --until: the archive series to replay (default: the server that took the backup, or the port's only one)."`
	FromPort        uint16  `name:"from-port" placeholder:"PORT" help:"Restore the backups (and binlog archive) of PORT into this config's port and data dir (--port, --data-base): a copy beside the instance, its own my.cnf relocated."`
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
		switch {
		case c.ArchiveServerID != 0:
			return usageError{errors.New("--archive-server-id goes with --until")}
		case c.JSON && !c.DryRun:
			return usageError{errors.New("--json goes with --dry-run")}
		case c.DryRun:
			return c.dryRun(ctx, app)
		}
		return runRestore(ctx, app, restore.Options{})
	}
	t, err := binlogarchive.ParseTarget(*c.Until)
	if err != nil {
		return usageError{err}
	}
	if !app.Cfg.HasStore() {
		return &conf.Error{File: app.Cfg.Path, Key: "s3_bucket", Msg: "--until restores from the binlog archive in the object store; none is configured (s3_bucket or backup_store_dir)"}
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

// dryRun is `restore --dry-run`: the plan, and exit 1 naming the first
// refusal when the restore would not proceed.
func (c *RestoreCmd) dryRun(ctx context.Context, app *App) error {
	rep, err := restore.DryRun(ctx, app.inst())
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(app.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		renderDryRun(app.Stdout, app.Cfg, rep)
	}
	if n := len(rep.Refusals); n > 0 {
		return fmt.Errorf("the restore would be refused (%d refusal(s)): %s", n, rep.Refusals[0])
	}
	return nil
}

// renderDryRun prints the plan of a restore.
func renderDryRun(w io.Writer, cfg *conf.Config, p *restore.DryRunReport) {
	fmt.Fprintf(w, "plan: restore --date-str %s into %s\n", cfg.DateStr, cfg.MySQLDataDir)
	if p.Backup != "" {
		signed := "not signed"
		if p.Signed {
			signed = "signed by a pinned key"
		}
		fmt.Fprintf(w, "backup:    %s (%s, %s, %s stored)\n", p.Backup, p.Format, signed, progress.Bytes(p.StoredBytes))
	}
	if p.Snapshot != "" {
		fmt.Fprintf(w, "snapshot:  %s gtid %s, taken on %s\n", p.Snapshot, p.GTID, orUnknown(p.Host))
	}
	for _, o := range p.Objects {
		fmt.Fprintf(w, "  %-8s %s stored, %s plain: s3 %s\n", o.Role, progress.Bytes(o.Size), progress.Bytes(o.PlainSize), o.Key)
	}
	switch {
	case p.Archive != nil:
		a := p.Archive
		fmt.Fprintf(w, "binlogs:   in the binlog archive s3 %s: %d file(s), %s, %d transaction(s) to replay, to %s (gtid %s), proven\n",
			a.Prefix, len(a.Files), progress.Bytes(int64(a.Bytes)), a.Transactions, a.Stop, a.StopGTID)
	case p.Binlogs != "":
		fmt.Fprintf(w, "binlogs:   %s\n", p.Binlogs)
	}
	fmt.Fprintf(w, "versions:  backup of %s (engine %s); installed %s %s, engine %s %s\n", orUnknown(p.ServerVersion), orUnknown(p.EngineVersion),
		orUnknown(p.Installed.Server), p.Installed.ServerVersion, orUnknown(p.Installed.Engine), p.Installed.EngineVersion)
	for _, d := range p.Disk {
		about := "about "
		if d.Estimate {
			about = "an estimated "
		}
		fmt.Fprintf(w, "disk:      %s: %s%s needed, %s free\n", strings.Join(d.Paths, " and "), about, progress.Bytes(d.Need), progress.Bytes(d.Free))
	}
	if m := p.MyCnf; m != nil {
		switch {
		case m.Against == "":
			fmt.Fprintln(w, "my.cnf:    the backup's is kept (no own my.cnf in conf_base)")
		case len(m.Changes) == 0:
			fmt.Fprintf(w, "my.cnf:    %s replaces the backup's; no option differs\n", m.Against)
		default:
			fmt.Fprintf(w, "my.cnf:    %s replaces the backup's; %d option(s) differ:\n", m.Against, len(m.Changes))
			for _, c := range m.Changes {
				fmt.Fprintf(w, "  %s\n", c)
			}
		}
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "note:      %s\n", n)
	}
	if len(p.Refusals) == 0 {
		fmt.Fprintln(w, "verdict:   the restore would proceed")
		return
	}
	fmt.Fprintln(w, "verdict:   the restore would be REFUSED:")
	for _, r := range p.Refusals {
		fmt.Fprintf(w, "  %s\n", r)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
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
