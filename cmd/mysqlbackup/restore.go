package main

import (
	"context"
	"fmt"
	"time"

	"github.com/mysqlbackup/mysqlbackup/restore"
)

// RestoreCmd is `mysqlbackup restore`.
type RestoreCmd struct{}

// Run implements restore (see package restore).
func (RestoreCmd) Run(ctx context.Context, app *App) error {
	return runRestore(ctx, app, restore.Options{})
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
