package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"

	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// listBinlogs prints the port's binlog archive: per file its segments,
// size, event times and GTID ranges, then the gaps.
func listBinlogs(ctx context.Context, app *App, asJSON bool) error {
	st, err := storeOf(app.inst(), "list --binlogs")
	if err != nil {
		return err
	}
	series, err := binlogarchive.ListSeries(ctx, st, string(app.Cfg.Port))
	if err != nil {
		return err
	}
	bases, err := pitrBases(ctx, st, string(app.Cfg.Port))
	if err != nil {
		return err
	}
	type archived struct {
		*binlogarchive.Index
		Recoverable *binlogarchive.Window `json:"recoverable"`
	}
	out := []archived{}
	for _, s := range series {
		ix, err := binlogarchive.ReadIndex(ctx, st, s)
		if err != nil {
			return err
		}
		a := archived{Index: ix}
		if w, ok := ix.Window(bases); ok {
			a.Recoverable = &w
		}
		out = append(out, a)
	}
	if asJSON {
		enc := json.NewEncoder(app.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"binlog_archives": out})
	}
	if len(out) == 0 {
		fmt.Fprintln(app.Stdout, "no archived binlogs")
	}
	for _, a := range out {
		fmt.Fprintf(app.Stdout, "s3 %s (server_id %d)\n", a.Series().Prefix(), a.ServerID)
		if w := a.Recoverable; w != nil {
			fmt.Fprintf(app.Stdout, "recoverable (restore --until) from %s (backup %s) to %s (%s)\n",
				w.From.Local().Format("2006-01-02 15:04:05"), w.Backup, w.To.Local().Format("2006-01-02 15:04:05"), w.LastFile)
		} else {
			fmt.Fprintln(app.Stdout, "recoverable: nothing (no complete backup's snapshot is in this archive after its last gap)")
		}
		renderBinlogs(app.Stdout, a.Index)
	}
	return nil
}

// pitrBases are the port's complete backups a point-in-time restore can
// start from.
func pitrBases(ctx context.Context, st s3.Store, port string) ([]binlogarchive.Base, error) {
	bs, err := catalog.List(ctx, st, port)
	if err != nil {
		return nil, err
	}
	var out []binlogarchive.Base
	for _, b := range bs {
		file, _, ok := strings.Cut(b.Position, ":")
		if !b.Complete || !ok {
			continue
		}
		out = append(out, binlogarchive.Base{Date: b.Date, File: file, Finished: b.Finished()})
	}
	return out, nil
}

func renderBinlogs(w io.Writer, ix *binlogarchive.Index) {
	if len(ix.Files) == 0 {
		fmt.Fprintln(w, "no archived binlogs")
		return
	}
	t := newTable(w)
	t.AppendHeader(table.Row{"File", "State", "Segments", "Size", "First event", "Last event", "GTIDs"})
	for _, f := range ix.Files {
		state := "open"
		switch {
		case f.Partial:
			state = "PARTIAL"
		case f.Closed:
			state = "closed"
		}
		var first, last string
		if !f.FirstEvent.IsZero() {
			first = f.FirstEvent.Local().Format("2006-01-02 15:04:05")
		}
		if !f.LastEvent.IsZero() {
			last = f.LastEvent.Local().Format("2006-01-02 15:04:05")
		}
		var ranges []string
		for _, r := range f.GTIDs {
			ranges = append(ranges, r)
		}
		sort.Strings(ranges)
		t.AppendRow(table.Row{f.Name, state, f.Segments, progress.Bytes(int64(f.End)), first, last, strings.Join(ranges, " ")})
	}
	t.Render()
	if p := ix.Pruned; p != nil {
		fmt.Fprintf(w, "pruned %s: the files before %s, which the oldest kept backup (%s, gtid %s) does not need\n",
			p.At.Local().Format("2006-01-02 15:04:05"), p.Before, p.Backup, p.GTID)
	}
	for _, g := range ix.Gaps {
		fmt.Fprintf(w, "GAP after %s up to %s (found %s): %s\n", g.After, g.Resume, g.Found.Local().Format("2006-01-02 15:04:05"), g.Why)
	}
}
