package main

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/replication"
)

// CatchupBinlogCmd is `mysqlbackup catchup_binlog`.
type CatchupBinlogCmd struct{}

// probeTimeout bounds the connection to one source.
const probeTimeout = 10 * time.Second

// catchupRun is the state of one catch-up.
type catchupRun struct {
	*App
	sources []replication.SourceState
	srv     *mysqld.TempServer
	phases  phases
}

// Run implements catchup_binlog: refuse a live instance → read every
// source's server id and goal once → temporary mysqld with tmp_server_id →
// channels → wait for the goals → stop, leaving a stopped datadir whose
// next normal start uses the server-id of my.cnf.
func (CatchupBinlogCmd) Run(app *App) (err error) {
	cfg := app.Cfg
	if cfg.Replication != nil && cfg.Replication.GroupReplication == 1 {
		app.Log.Info("configured as group replication; its distributed recovery catches up (legacy behaviour)")
		return nil
	}
	lk, err := lockPort(cfg)
	if err != nil {
		return err
	}
	defer lk.Release()
	c := &catchupRun{App: app}
	defer func() {
		if c.srv != nil {
			err = errors.Join(err, c.srv.Stop())
		}
	}()
	start := time.Now()
	for _, s := range []struct {
		name string
		fn   func() error
	}{{"check", c.check}, {"sources", c.probe}, {"start", c.start}, {"channels", c.channels}, {"wait", c.wait}, {"stop", c.stop}} {
		if err := c.phases.run(app.Log, s.name, s.fn); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	names := make([]string, len(c.sources))
	for i, s := range c.sources {
		names[i] = s.Channel()
	}
	fmt.Fprintf(app.Stdout, "catchup ok: datadir=%s channels=%s tmp_server_id=%s took=%s %s\n",
		cfg.MySQLDataDir, strings.Join(names, ","), cfg.TmpServerID, time.Since(start).Round(10*time.Millisecond), &c.phases)
	return nil
}

func (c *catchupRun) check() error {
	cfg := c.Cfg
	alive, err := adminConn(cfg).Alive(c.Ctx)
	if err != nil {
		return err
	}
	if alive {
		return fmt.Errorf("the instance answers on %s: catchup_binlog works on a stopped instance", cfg.MySQLSocket)
	}
	if _, err := os.Stat(filepath.Join(cfg.MySQLDataDir, "my.cnf")); err != nil {
		return fmt.Errorf("no restored datadir to catch up: %w", err)
	}
	return nil
}

// probe reads every source's server id and goal once: the goals do not
// move while the catch-up runs. An unreachable source fails the run or,
// with catchup_unreachable: skip, is left out.
func (c *catchupRun) probe() error {
	cfg := c.Cfg
	sources, err := replicationSources(cfg)
	if err != nil {
		return err
	}
	tmpID, _ := cfg.TmpServerID.Uint()
	for _, src := range sources {
		st, err := replication.Probe(c.Ctx, src, probeTimeout)
		if errors.Is(err, replication.ErrUnreachable) && cfg.CatchupUnreachable == "skip" {
			c.Log.Warn("source unreachable, skipped (catchup_unreachable: skip)", "channel", src.Channel(), "err", err)
			continue
		}
		if err != nil {
			return err
		}
		if st.ServerID == tmpID {
			return fmt.Errorf("tmp_server_id %d is the server_id of source %s (%s:%d): set another tmp_server_id", tmpID, src.Channel(), src.Host, src.Port)
		}
		c.Log.Info("catch-up goal", "channel", src.Channel(), "server_id", st.ServerID, "goal", st.Goal)
		c.sources = append(c.sources, st)
	}
	if len(c.sources) == 0 {
		return errors.New("no source reachable to catch up from")
	}
	return nil
}

// start runs the temporary mysqld under tmp_server_id: events this
// instance wrote after the backup come back from its peers carrying its
// own server id, which replication would otherwise drop. The binary log
// stays on so what is fetched lands there too (log_slave_updates).
func (c *catchupRun) start() error {
	cfg := c.Cfg
	// A MySQL datadir without auto.cnf gets a fresh server_uuid, so that
	// GTIDs of the old uuid count as foreign; a backup never holds one.
	if err := os.Remove(filepath.Join(cfg.MySQLDataDir, "auto.cnf")); err == nil {
		c.Log.Info("removed auto.cnf: the instance gets a new server_uuid")
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	srv, err := startTempMysqld(c.App, cfg.MySQLDataDir, true, "--server-id="+string(cfg.TmpServerID))
	c.srv = srv
	return err
}

func (c *catchupRun) channels() error {
	srcs := make([]replication.Source, len(c.sources))
	for i, s := range c.sources {
		srcs[i] = s.Source
	}
	return setupOn(c.App, c.srv.Conn, srcs, true)
}

// wait waits for every channel to reach its goal, within catchup_timeout,
// reporting per channel every few seconds.
func (c *catchupRun) wait() error {
	goals := make([]replication.Goal, len(c.sources))
	for i, s := range c.sources {
		goals[i] = replication.Goal{Channel: s.Channel(), Pos: s.Goal}
	}
	opts := replication.WaitOptions{
		Deadline: time.Now().Add(c.Cfg.CatchupDeadline()), ReportEvery: 5 * time.Second, Report: c.report,
	}
	return onSession(c.Ctx, c.srv.Conn, func(conn *sql.Conn, v mysqld.Version) error {
		return replication.Wait(c.Ctx, conn, v, goals, opts)
	})
}

func (c *catchupRun) report(ps []replication.Progress) {
	for _, p := range ps {
		behind := "NULL"
		if p.SecondsBehind != nil {
			behind = strconv.FormatInt(*p.SecondsBehind, 10)
		}
		c.Log.Info("catching up", "channel", p.Channel, "state", p.State, "seconds_behind", behind, "to_apply", p.Behind)
	}
}

// stop stops replication, then the temporary mysqld.
func (c *catchupRun) stop() error {
	srv := c.srv
	c.srv = nil
	return errors.Join(stopReplication(c.App, srv), srv.Stop())
}

func stopReplication(app *App, srv *mysqld.TempServer) error {
	return onSession(app.Ctx, srv.Conn, func(conn *sql.Conn, v mysqld.Version) error {
		_, err := conn.ExecContext(app.Ctx, replication.StopAll(v))
		return err
	})
}
