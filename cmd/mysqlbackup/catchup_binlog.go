package main

import (
	"context"
	"fmt"

	"github.com/mysqlbackup/mysqlbackup/catchup"
)

// CatchupBinlogCmd is `mysqlbackup catchup_binlog`.
type CatchupBinlogCmd struct{}

// Run implements catchup_binlog (see package catchup).
func (CatchupBinlogCmd) Run(ctx context.Context, app *App) error {
	res, err := catchup.Run(ctx, app.inst())
	if err != nil {
		return err
	}
	if res.Summary != "" {
		fmt.Fprintf(app.Stdout, "catchup ok: %s\n", res.Summary)
	}
	return nil
}
