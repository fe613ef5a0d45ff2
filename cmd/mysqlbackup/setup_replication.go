package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/replication"
)

// SetupReplicationCmd is `mysqlbackup setup_replication`.
type SetupReplicationCmd struct{}

// Run implements setup_replication: on the running instance, or on a
// temporary mysqld when it is down (legacy §5.2), stop replication, remove
// every channel and its relay logs, create master-<id> per source and, if
// the instance was running, start each channel.
func (SetupReplicationCmd) Run(app *App) error {
	cfg := app.Cfg
	sources, err := replicationSources(cfg)
	if err != nil {
		return err
	}
	if err := refusePendingCatchup(cfg); err != nil {
		return err
	}
	alive, err := adminConn(cfg).Alive(app.Ctx)
	if err != nil {
		return err
	}
	if alive {
		return setupOn(app, adminConn(cfg), sources, true)
	}
	app.Log.Info("instance is down; using a temporary mysqld", "datadir", cfg.MySQLDataDir)
	lk, err := lockPort(cfg)
	if err != nil {
		return err
	}
	defer lk.Release()
	runDir, err := newTempRunDir(app)
	if err != nil {
		return err
	}
	defer os.RemoveAll(runDir)
	srv, err := startTempMysqld(app, cfg.MySQLDataDir, runDir, true)
	if err != nil {
		return err
	}
	return errors.Join(setupOn(app, srv.Conn, sources, false), srv.Stop())
}

// refusePendingCatchup refuses to set up replication on a restored datadir
// that was not caught up: channels created now, under the instance's own
// server-id, would filter out what it wrote itself after the backup.
func refusePendingCatchup(cfg *conf.Config) error {
	p, err := readCatchupMarker(cfg.MySQLDataDir)
	if err != nil || p == nil {
		return err
	}
	return fmt.Errorf("the datadir was restored from %s at %s and not caught up yet (%s): run catchup_binlog first, or remove that file to set up replication anyway, losing what this instance wrote after the backup that only its peers hold",
		p.From, p.RestoredAt.Format(time.RFC3339), filepath.Join(cfg.MySQLDataDir, catchupMarker))
}

// onSession runs fn on one session of the server at c (session state
// sticks), with the server's version.
func onSession(ctx context.Context, c mysqld.Conn, fn func(*sql.Conn, mysqld.Version) error) error {
	db, err := c.Open()
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	v, err := sessionVersion(ctx, conn)
	if err != nil {
		return err
	}
	return fn(conn, v)
}

// setupOn creates the channels over one session of the server at c.
func setupOn(app *App, c mysqld.Conn, sources []replication.Source, start bool) error {
	return onSession(app.Ctx, c, func(conn *sql.Conn, v mysqld.Version) error {
		return setupChannels(app, conn, v, sources, setupStart{start: start})
	})
}

// setupStart says which channels setupChannels starts: all when start,
// except those in noStart.
type setupStart struct {
	start   bool
	noStart []string
}

func setupChannels(app *App, conn *sql.Conn, v mysqld.Version, sources []replication.Source, st setupStart) error {
	if app.Cfg.Replication.GroupReplication == 1 {
		return groupReplicationSetup(app, conn, v, st.start)
	}
	fromBinlog, err := binlogHoldsReplicated(app.Ctx, conn, v)
	if err != nil {
		return err
	}
	opts := replication.SetupOptions{Start: st.start, NoStart: st.noStart, SlavePosFromBinlog: fromBinlog}
	if err := replication.Setup(app.Ctx, conn, v, sources, opts); err != nil {
		return fmt.Errorf("setup replication: %w", err)
	}
	for _, s := range sources {
		started := st.start && !slices.Contains(st.noStart, s.Channel())
		app.Log.Info("channel set up", "channel", s.Channel(), "source", fmt.Sprintf("%s:%d", s.Host, s.Port), "started", started)
	}
	return nil
}

// binlogHoldsReplicated says whether a MariaDB replica's own binlog holds
// what it replicated (log_slave_updates), so that gtid_slave_pos can be
// set from gtid_binlog_pos: a restored datadir carries the gtid_slave_pos
// of backup time, older than its binlog.
func binlogHoldsReplicated(ctx context.Context, conn *sql.Conn, v mysqld.Version) (bool, error) {
	if v.Flavor != mysqld.MariaDB {
		return false, nil
	}
	var on bool
	if err := conn.QueryRowContext(ctx, "SELECT @@GLOBAL.log_slave_updates").Scan(&on); err != nil {
		return false, fmt.Errorf("log_slave_updates: %w", err)
	}
	return on, nil
}

func groupReplicationSetup(app *App, conn *sql.Conn, v mysqld.Version, start bool) error {
	if v.Flavor != mysqld.MySQL {
		return errors.New("replication.group_replication: 1 applies to MySQL Group Replication only")
	}
	stmts := replication.GroupReplicationReset(v)
	if start {
		stmts = append(stmts, "START GROUP_REPLICATION")
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(app.Ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// sessionVersion reads the server's version over conn.
func sessionVersion(ctx context.Context, conn *sql.Conn) (mysqld.Version, error) {
	var text string
	if err := conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&text); err != nil {
		return mysqld.Version{}, fmt.Errorf("server version: %w", err)
	}
	return mysqld.ParseVersion(text)
}

// replicationSources are the configured sources, credentials merged.
func replicationSources(cfg *conf.Config) ([]replication.Source, error) {
	srcs := cfg.SourcesResolved()
	if len(srcs) == 0 {
		return nil, &conf.Error{File: cfg.Path, Key: "replication.source", Msg: "no source configured"}
	}
	out := make([]replication.Source, len(srcs))
	for i, s := range srcs {
		out[i] = replication.Source{ID: string(s.ID), Host: s.Host, Port: s.Port.Int(), User: s.User, Password: s.Password.Reveal()}
	}
	return out, nil
}
