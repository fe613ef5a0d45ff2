package main

import (
	"context"
	"fmt"

	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/restore"
)

// VerifyCmd is `mysqlbackup verify`.
type VerifyCmd struct {
	fleetFlags
	Binlogs bool `name:"binlogs" help:"Verify the port's binlog archive instead of a backup: every segment, every event."`
}

// Run implements verify: the backup of --date-str (or latest) read to its
// end and checked, nothing written; with --binlogs the binlog archive.
func (c *VerifyCmd) Run(ctx context.Context, app *App) error {
	if c.Binlogs {
		return verifyBinlogs(ctx, app)
	}
	summary, err := restore.Verify(ctx, app.inst(), restore.Options{Term: app.Term})
	if err != nil {
		return err
	}
	fmt.Fprintf(app.Stdout, "verify ok: %s\n", summary)
	return nil
}

func verifyBinlogs(ctx context.Context, app *App) error {
	cfg := app.Cfg
	st, err := storeOf(app.inst(), "verify --binlogs")
	if err != nil {
		return err
	}
	keys, err := app.inst().OpeningKeys()
	if err != nil {
		return err
	}
	port := string(cfg.Port)
	series, err := binlogarchive.ListSeries(ctx, st, port)
	if err != nil {
		return err
	}
	if len(series) == 0 {
		return fmt.Errorf("no binlog archive of port %s in %s", port, cfg.StoreName())
	}
	for _, s := range series {
		ix, err := binlogarchive.ReadIndex(ctx, st, s)
		if err != nil {
			return err
		}
		vs, err := binlogarchive.Verify(ctx, st, keys, ix)
		if err != nil {
			return err
		}
		fmt.Fprintf(app.Stdout, "verify ok: s3 %s files=%d segments=%d bytes=%d events=%d gaps=%d\n",
			s.Prefix(), vs.Files, vs.Segments, vs.Bytes, vs.Events, vs.Gaps)
	}
	return nil
}
