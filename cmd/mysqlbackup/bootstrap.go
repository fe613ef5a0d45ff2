package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/restore"
)

// BootstrapCmd is `mysqlbackup bootstrap`, a new host's provisioning
// step in one command (the legacy `mysqlops --cmd restore`): restore the
// latest backup when the data dir is absent, then catch up from the
// group's sources.
type BootstrapCmd struct {
	fleetFlags
}

// defaultDate: bootstrap restores the newest complete backup unless
// --date-str names one.
func (BootstrapCmd) defaultDate() string { return conf.LatestDate }

// Run implements bootstrap. It is idempotent, as a hook that runs at every
// boot must be:
//   - data dir absent, empty, or an unfinished restore: restore, then
//     catchup_binlog;
//   - data dir present and the instance stopped (a bootstrap cut short
//     after its restore): catchup_binlog only;
//   - data dir present and the instance answering: nothing (exit 0).
//
// A port without any backup (a new group) exits with status 3 and says
// so, so that provisioning starts the instance empty.
func (c *BootstrapCmd) Run(ctx context.Context, app *App) error {
	cfg := app.Cfg
	err := checkWhen(ctx, cfg, "no-data-dir", app.Log)
	switch {
	case errors.Is(err, errWhenUnmet):
		alive, err := app.inst().Admin().Alive(ctx)
		if err != nil {
			return err
		}
		if alive {
			fmt.Fprintf(app.Stdout, "bootstrap: nothing to do: %s holds data and the instance answers\n", cfg.MySQLDataDir)
			return nil
		}
		app.Log.Info("data dir present and the instance stopped: catch-up only", "dir", cfg.MySQLDataDir)
	case err != nil:
		return err
	default:
		noBackup := func(err error) error {
			return &exitError{code: exitNoBackup, out: fmt.Sprintf("bootstrap: no backup of port %s yet (a new group): start the instance empty", cfg.SourcePort()), err: err}
		}
		if cfg.HasStore() && cfg.DateStr == conf.LatestDate {
			st, err := app.inst().Store()
			if err != nil {
				return err
			}
			if _, ok, err := catalog.LatestOf(ctx, st, string(cfg.SourcePort())); err == nil && !ok {
				return noBackup(fmt.Errorf("%w of port %s in %s", restore.ErrNoBackup, cfg.SourcePort(), cfg.StoreName()))
			}
		}
		err := runRestore(ctx, app, restore.Options{})
		if errors.Is(err, restore.ErrNoBackup) {
			return noBackup(err)
		}
		if err != nil {
			return err
		}
	}
	return CatchupBinlogCmd{}.Run(ctx, app)
}
