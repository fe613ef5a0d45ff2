package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/replication"
	"github.com/mysqlbackup/mysqlbackup/restore"
)

// SetupReplicationCmd is `mysqlbackup setup_replication`.
type SetupReplicationCmd struct{}

// Run implements setup_replication: on the running instance, or on a
// temporary mysqld when it is down (legacy §5.2), stop replication, remove
// every channel and its relay logs, create master-<id> per source and, if
// the instance was running, start each channel.
func (SetupReplicationCmd) Run(ctx context.Context, app *App) error {
	cfg := app.Cfg
	sources, err := app.inst().Sources()
	if err != nil {
		return err
	}
	if err := refusePendingCatchup(cfg); err != nil {
		return err
	}
	alive, err := app.inst().Admin().Alive(ctx)
	if err != nil {
		return err
	}
	if alive {
		return setupOn(ctx, app, app.inst().Admin(), sources, true)
	}
	app.Log.Info("instance is down; using a temporary mysqld", "datadir", cfg.MySQLDataDir)
	lk, err := app.inst().Lock()
	if err != nil {
		return err
	}
	defer lk.Release()
	runDir, err := app.inst().NewRunDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(runDir)
	srv, err := app.inst().StartTemp(ctx, cfg.MySQLDataDir, runDir, true)
	if err != nil {
		return err
	}
	return errors.Join(setupOn(ctx, app, srv.Conn, sources, false), srv.Stop())
}

// refusePendingCatchup refuses to set up replication on a restored datadir
// that was not caught up: channels created now, under the instance's own
// server-id, would filter out what it wrote itself after the backup.
func refusePendingCatchup(cfg *conf.Config) error {
	if err := restore.RefuseUnfinished(cfg.MySQLDataDir); err != nil {
		return err
	}
	p, err := instance.ReadCatchupMarker(cfg.MySQLDataDir)
	if err != nil || p == nil {
		return err
	}
	return fmt.Errorf("the datadir was restored from %s at %s and not caught up yet (%s): run catchup_binlog first, or remove that file to set up replication anyway, losing what this instance wrote after the backup that only its peers hold",
		p.From, p.RestoredAt.Format(time.RFC3339), filepath.Join(cfg.MySQLDataDir, instance.CatchupMarker))
}

// setupOn creates the channels over one session of the server at c.
func setupOn(ctx context.Context, app *App, c mysqld.Conn, sources []replication.Source, start bool) error {
	return c.OnSession(ctx, func(conn *sql.Conn, v mysqld.Version) error {
		return app.inst().SetupChannels(ctx, conn, v, sources, start, nil)
	})
}
