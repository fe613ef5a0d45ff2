package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
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
//   - data dir present, instance stopped, and a restore's catch-up pending
//     (a bootstrap cut short after its restore): catchup_binlog only;
//   - otherwise (the instance answers, or a stopped instance that was not
//     restored: a reboot, where a catch-up would wait on peers that may be
//     down too): nothing (exit 0).
//
// A port without any backup (a new group) exits with status 3 and says
// so, so that provisioning starts the instance empty; only when the store
// was listed whole and holds nothing of the port, and the data dir holds
// no unfinished restore: an outage, or a first backup still running,
// is a failure, never a reason to start empty.
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
		if _, err := os.Stat(filepath.Join(cfg.MySQLDataDir, instance.CatchupMarker)); err != nil {
			fmt.Fprintf(app.Stdout, "bootstrap: nothing to do: %s holds data and no restore waits for its catch-up; start the instance\n", cfg.MySQLDataDir)
			return nil
		}
		app.Log.Info("data dir restored, its catch-up pending: catch-up only", "dir", cfg.MySQLDataDir)
	case err != nil:
		return err
	default:
		if err := c.restore(ctx, app); err != nil {
			return err
		}
	}
	return CatchupBinlogCmd{}.Run(ctx, app)
}

// restore restores the latest backup (or --date-str's), or says the port
// has none at all: exit 3 only when the store was listed and holds nothing
// of the port, and the data dir no unfinished restore.
func (c *BootstrapCmd) restore(ctx context.Context, app *App) error {
	cfg := app.Cfg
	empty := false
	if cfg.HasStore() {
		st, err := app.inst().Store()
		if err != nil {
			return err
		}
		bs, err := catalog.List(ctx, st, string(cfg.SourcePort()))
		if err != nil {
			return err
		}
		_, ok, err := catalog.Latest(bs)
		switch {
		case err != nil:
			return err
		case len(bs) == 0:
			empty = true
		case !ok:
			return fmt.Errorf("port %s has no complete backup in %s, only %d incomplete (a first backup running, or failed): not starting empty", cfg.SourcePort(), cfg.StoreName(), len(bs))
		}
	}
	if empty && restore.InProgress(cfg.MySQLDataDir) {
		return fmt.Errorf("%s holds an unfinished restore, and %s no backup of port %s to finish it from: not starting empty over it", cfg.MySQLDataDir, cfg.StoreName(), cfg.SourcePort())
	}
	if empty {
		return &exitError{code: exitNoBackup,
			out: fmt.Sprintf("bootstrap: no backup of port %s yet (a new group): start the instance empty", cfg.SourcePort()),
			err: fmt.Errorf("%w of port %s in %s", restore.ErrNoBackup, cfg.SourcePort(), cfg.StoreName())}
	}
	return runRestore(ctx, app, restore.Options{})
}
