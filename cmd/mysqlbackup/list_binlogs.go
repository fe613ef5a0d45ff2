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
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
)

// listBinlogs prints the port's binlog archive: per file its segments,
// size, event times and GTID ranges, then the gaps.
func listBinlogs(ctx context.Context, app *App, asJSON bool) error {
	st, err := bucketOf(app.inst(), "list --binlogs")
	if err != nil {
		return err
	}
	series, err := binlogarchive.ListSeries(ctx, st, string(app.Cfg.Port))
	if err != nil {
		return err
	}
	indexes := []*binlogarchive.Index{}
	for _, s := range series {
		ix, err := binlogarchive.ReadIndex(ctx, st, s)
		if err != nil {
			return err
		}
		indexes = append(indexes, ix)
	}
	if asJSON {
		enc := json.NewEncoder(app.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"binlog_archives": indexes})
	}
	if len(indexes) == 0 {
		fmt.Fprintln(app.Stdout, "no archived binlogs")
	}
	for _, ix := range indexes {
		fmt.Fprintf(app.Stdout, "s3 %s (server_id %d)\n", ix.Series().Prefix(), ix.ServerID)
		renderBinlogs(app.Stdout, ix)
	}
	return nil
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
