package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/internal/atomicfile"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// BinlogFetchCmd is `mysqlbackup binlog-fetch`.
type BinlogFetchCmd struct {
	To       string `name:"to" required:"" placeholder:"DIR" help:"Directory to write the binlog files into (created; must hold none of their names)."`
	From     string `name:"from" placeholder:"FILE" help:"First binlog file to fetch (default: the oldest archived after the last gap)."`
	ServerID uint32 `name:"server-id" help:"The archived server's id, when the port's archive holds several (members of a group, a failover)."`
}

// Run writes the archived binlog files, decoded and checked, under their
// own names: the server's files byte for byte (the last one up to where
// the archive ends), ready for mariadb-binlog / mysqlbinlog.
func (c *BinlogFetchCmd) Run(ctx context.Context, app *App) error {
	st, err := storeOf(app.inst(), "binlog-fetch")
	if err != nil {
		return err
	}
	keys, err := app.inst().OpeningKeys()
	if err != nil {
		return err
	}
	ix, err := c.series(ctx, app, st)
	if err != nil {
		return err
	}
	files, err := fetchRange(ix, c.From)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.To, 0o750); err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	for _, f := range files {
		if _, err := os.Lstat(filepath.Join(c.To, f.Name)); err == nil {
			return fmt.Errorf("--to %s already holds %s: fetch into an empty directory", c.To, f.Name)
		}
	}
	var total uint64
	for _, f := range files {
		out, err := atomicfile.Create(filepath.Join(c.To, f.Name), 0o640)
		if err != nil {
			return fmt.Errorf("--to: %w", err)
		}
		err = binlogarchive.ReadFile(ctx, st, keys, ix.Series(), f, out)
		if err == nil {
			err = out.Commit()
		}
		if err != nil {
			out.Abort()
			return err
		}
		total += f.End
		app.Log.Info("binlog fetched", "file", f.Name, "bytes", f.End, "closed", f.Closed)
	}
	last := files[len(files)-1]
	fmt.Fprintf(app.Stdout, "binlog-fetch ok: s3 %s files=%d bytes=%d from %s to %s:%d into %s\n",
		ix.Series().Prefix(), len(files), total, files[0].Name, last.Name, last.End, c.To)
	return nil
}

// series is the archive to fetch from: the port's only one, or the one
// --server-id names.
func (c *BinlogFetchCmd) series(ctx context.Context, app *App, st s3.Store) (*binlogarchive.Index, error) {
	all, err := binlogarchive.ListSeries(ctx, st, string(app.Cfg.Port))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, s := range all {
		ids = append(ids, fmt.Sprint(s.ServerID))
		if c.ServerID != 0 && s.ServerID == c.ServerID {
			return binlogarchive.ReadIndex(ctx, st, s)
		}
	}
	switch {
	case len(all) == 0:
		return nil, fmt.Errorf("no binlog archive of port %s in %s", app.Cfg.Port, app.Cfg.StoreName())
	case c.ServerID != 0:
		return nil, fmt.Errorf("--server-id %d: port %s's binlog archive holds server ids %s", c.ServerID, app.Cfg.Port, strings.Join(ids, ", "))
	case len(all) > 1:
		return nil, usageError{fmt.Errorf("port %s's binlog archive holds several servers (%s): name one with --server-id", app.Cfg.Port, strings.Join(ids, ", "))}
	}
	return binlogarchive.ReadIndex(ctx, st, all[0])
}

// fetchRange is the archived files from from (or the first after the last
// gap) to the end; a range across a gap is refused, naming it.
func fetchRange(ix *binlogarchive.Index, from string) ([]binlogarchive.File, error) {
	if len(ix.Files) == 0 {
		return nil, errors.New("the binlog archive holds no file yet")
	}
	start := 0
	if from != "" {
		start = -1
		for i, f := range ix.Files {
			if f.Name == from {
				start = i
			}
		}
		if start < 0 {
			return nil, fmt.Errorf("--from %s: not in the archive, which holds %s to %s", from, ix.Files[0].Name, ix.Files[len(ix.Files)-1].Name)
		}
	}
	after, err := ix.LastGap(start)
	switch {
	case err != nil && from != "":
		return nil, fmt.Errorf("%w: fetch --from %s, or from a file before the gap", err, ix.Files[after].Name)
	case err != nil:
		start = after
	}
	return ix.Files[start:], nil
}
