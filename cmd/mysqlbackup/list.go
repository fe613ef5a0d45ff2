package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"

	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/restore"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// ListCmd is `mysqlbackup list`.
type ListCmd struct {
	JSON     bool `name:"json" help:"Print one JSON object."`
	AllPorts bool `name:"all-ports" help:"Every port in the bucket, not only --port / the config's."`
	Binlogs  bool `name:"binlogs" help:"The port's binlog archive instead: per binlog file its range, and every gap."`
}

// storeOf is the configured store (bucket or directory), or an error for
// setups with the single local archive.
func storeOf(in *instance.Instance, cmd string) (s3.Store, error) {
	cfg := in.Cfg
	if !cfg.HasStore() {
		return nil, &conf.Error{File: cfg.Path, Key: "s3_bucket", Msg: cmd + " works on a backup store; none is configured (s3_bucket or backup_store_dir)"}
	}
	return in.Store()
}

// Run implements list: every backup of the port, oldest first.
func (c *ListCmd) Run(ctx context.Context, app *App) error {
	if c.Binlogs {
		return listBinlogs(ctx, app, c.JSON)
	}
	var bs []catalog.Backup
	if !app.Cfg.HasStore() {
		b, err := restore.LocalBackup(app.Cfg)
		if err != nil {
			return err
		}
		if b != nil {
			bs = append(bs, *b)
		}
	} else {
		st, err := storeOf(app.inst(), "list")
		if err != nil {
			return err
		}
		port := string(app.Cfg.Port)
		if c.AllPorts {
			port = ""
		}
		if bs, err = catalog.List(ctx, st, port); err != nil {
			return err
		}
	}
	if c.JSON {
		enc := json.NewEncoder(app.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"backups": nonNil(bs)})
	}
	renderBackups(app.Stdout, bs, instance.RunLiveness(), time.Now())
	return nil
}

func nonNil(bs []catalog.Backup) []catalog.Backup {
	if bs == nil {
		return []catalog.Backup{}
	}
	return bs
}

func renderBackups(w io.Writer, bs []catalog.Backup, l catalog.Liveness, now time.Time) {
	if len(bs) == 0 {
		fmt.Fprintln(w, "no backups")
		return
	}
	t := newTable(w)
	t.AppendHeader(table.Row{"Date", "Port", "Format", "Size", "Modified", "State", "Checksum", "Binlog position", "GTID"})
	for _, b := range bs {
		t.AppendRow(table.Row{b.Date, b.Port, b.Format, progress.Bytes(b.Size), b.Modified.Local().Format("2006-01-02 15:04:05"), state(b, l, now), b.Checksum, b.Position, b.GTID})
	}
	t.SetColumnConfigs([]table.ColumnConfig{wrap(6, 40), wrap(7, 46), wrap(9, 40)})
	t.Render()
}

// state is complete, UNKNOWN (why), or INCOMPLETE (dead: why) or
// (whether it may still be running), with what could not be read.
func state(b catalog.Backup, l catalog.Liveness, now time.Time) string {
	s := b.State()
	if !b.Complete && b.Unknown == "" {
		dead, why := l.Dead(b, now)
		if dead {
			why = "dead: " + why
		}
		s += " (" + why + ")"
	}
	if b.Problem != "" {
		s += "; " + b.Problem
	}
	return s
}
