// Package catchup fetches, into a restored datadir, what its replication
// sources wrote after the backup, including what this instance itself
// wrote (it comes back from its peers under its own server id): a
// temporary server under tmp_server_id, one channel per source, until
// every channel reached the goal read from its source at the start; then
// the relay logs are dropped and the datadir's normal start is proven.
package catchup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/replication"
	"github.com/mysqlbackup/mysqlbackup/restore"
)

// probeTimeout bounds the connection to one source.
const probeTimeout = 10 * time.Second

// Result is the outcome of a catch-up, failed or not.
type Result struct {
	Phases progress.Phases
	// Summary is the one line that describes a successful catch-up; empty
	// when group replication's own recovery does the catch-up.
	Summary string
}

// catchupRun is the state of one catch-up.
type catchupRun struct {
	in      *instance.Instance
	cfg     *conf.Config
	sources []replication.SourceState // reachable: caught up from
	skipped []replication.Source      // unreachable with catchup_unreachable: skip
	pending *instance.PendingCatchup  // what the restore recorded, if it left its marker
	runDir  string
	srv     *mysqld.TempServer
}

// Run catches the instance's datadir up: refuse a live instance → read
// every source's server id and goal once → temporary mysqld with
// tmp_server_id → channels → wait for the goals → stop, leaving a stopped
// datadir whose next normal start uses the server-id of my.cnf.
func Run(ctx context.Context, in *instance.Instance) (res *Result, err error) {
	cfg := in.Cfg
	res = &Result{}
	if cfg.Replication != nil && cfg.Replication.GroupReplication == 1 {
		in.Log.Info("configured as group replication; its distributed recovery catches up (legacy behaviour)")
		return res, nil
	}
	lk, err := in.Lock()
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	c := &catchupRun{in: in, cfg: cfg}
	if c.runDir, err = in.NewRunDir(); err != nil {
		return nil, err
	}
	defer os.RemoveAll(c.runDir)
	defer func() {
		if c.srv != nil {
			err = errors.Join(err, c.srv.Stop())
		}
	}()
	start := time.Now()
	err = res.Phases.Sequence(ctx, in.Log,
		progress.Task{Name: "check", Fn: c.check}, progress.Task{Name: "sources", Fn: c.probe},
		progress.Task{Name: "start", Fn: c.start}, progress.Task{Name: "channels", Fn: c.channels},
		progress.Task{Name: "wait", Fn: c.wait}, progress.Task{Name: "stop", Fn: c.stop},
		progress.Task{Name: "verify-start", Fn: c.verifyStart})
	if err != nil {
		return res, err
	}
	names := make([]string, len(c.sources))
	for i, s := range c.sources {
		names[i] = s.Channel()
	}
	notCaughtUp := ""
	for i, s := range c.skipped {
		if i == 0 {
			notCaughtUp = " not_caught_up="
		} else {
			notCaughtUp += ","
		}
		notCaughtUp += s.Channel()
	}
	res.Summary = fmt.Sprintf("datadir=%s channels=%s%s tmp_server_id=%s took=%s %s",
		cfg.MySQLDataDir, strings.Join(names, ","), notCaughtUp, cfg.TmpServerID, time.Since(start).Round(10*time.Millisecond), &res.Phases)
	return res, nil
}

func (c *catchupRun) check(ctx context.Context) error {
	cfg := c.cfg
	alive, err := c.in.Admin().Alive(ctx)
	if err != nil {
		return err
	}
	if alive {
		return fmt.Errorf("the instance answers on %s: catchup_binlog works on a stopped instance", cfg.MySQLSocket)
	}
	entries, err := os.ReadDir(cfg.MySQLDataDir)
	switch {
	case err != nil:
		return fmt.Errorf("no restored datadir to catch up: %w", err)
	case len(entries) == 0:
		return fmt.Errorf("data dir %s is empty: nothing restored to catch up", cfg.MySQLDataDir)
	}
	if err := restore.RefuseUnfinished(cfg.MySQLDataDir); err != nil {
		return err
	}
	if c.pending, err = instance.ReadCatchupMarker(cfg.MySQLDataDir); err != nil {
		return err
	}
	series := ""
	if c.pending != nil {
		series = c.pending.BinlogBasename
	}
	// The datadir may hold a peer's my.cnf (a restore without an own one
	// then, or one edited since): the catch-up and the next start run as
	// this host, once that my.cnf is proven to start this datadir and its
	// binlog series. Nothing is changed before.
	myCnf := c.in.OwnMyCnf()
	if myCnf == "" || !instance.Inside(cfg.MySQLDataDir, cfg.MySQLMyCnf) {
		myCnf = cfg.MySQLMyCnf
	}
	if _, err := os.Stat(myCnf); err != nil {
		return fmt.Errorf("no restored datadir to catch up: %w", err)
	}
	if err := c.in.CheckMyCnf(ctx, myCnf, series, c.runDir); err != nil {
		return err
	}
	_, err = c.in.InstallOwnMyCnf(cfg.MySQLDataDir, instance.ReplacedSuffix())
	return err
}

// probe reads every source's server id and goal once: the goals do not
// move while the catch-up runs. An unreachable source fails the run or,
// with catchup_unreachable: skip, is left out.
func (c *catchupRun) probe(ctx context.Context) error {
	cfg := c.cfg
	sources, err := c.in.Sources()
	if err != nil {
		return err
	}
	tmpID, _ := cfg.TmpServerID.Uint()
	for _, src := range sources {
		st, err := replication.Probe(ctx, src, probeTimeout)
		if errors.Is(err, replication.ErrUnreachable) && cfg.CatchupUnreachable == "skip" {
			c.in.Log.Warn("source unreachable, skipped (catchup_unreachable: skip): its channel is created, not caught up", "channel", src.Channel(), "err", err)
			c.skipped = append(c.skipped, src)
			continue
		}
		if err != nil {
			return err
		}
		if st.ServerID == tmpID {
			return fmt.Errorf("tmp_server_id %d is the server_id of source %s (%s:%d): set another tmp_server_id", tmpID, src.Channel(), src.Host, src.Port)
		}
		c.in.Log.Info("catch-up goal", "channel", src.Channel(), "server_id", st.ServerID, "goal", st.Goal)
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
func (c *catchupRun) start(ctx context.Context) error {
	cfg := c.cfg
	// A MySQL datadir without auto.cnf gets a fresh server_uuid, so that
	// GTIDs of the old uuid count as foreign; a backup never holds one.
	if err := os.Remove(filepath.Join(cfg.MySQLDataDir, "auto.cnf")); err == nil {
		c.in.Log.Info("removed auto.cnf: the instance gets a new server_uuid")
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	srv, err := c.in.StartTemp(ctx, cfg.MySQLDataDir, c.runDir, true, "--server-id="+string(cfg.TmpServerID))
	c.srv = srv
	if err != nil {
		return err
	}
	return srv.OnSession(ctx, func(conn *sql.Conn, v mysqld.Version) error { return c.checkBinlog(ctx, conn, v) })
}

// checkBinlog refuses to go on when the server does not write the binlog
// series the restore put back: gtid_slave_pos is about to be set from
// gtid_binlog_pos, and an empty one would make every channel fetch from
// the start (or the series the next start reads would miss what we fetch).
func (c *catchupRun) checkBinlog(ctx context.Context, conn *sql.Conn, v mysqld.Version) error {
	if v.Flavor != mysqld.MariaDB {
		return nil
	}
	var base, binlogPos, slavePos sql.NullString
	var slaveUpdates bool
	q := "SELECT @@GLOBAL.log_bin_basename, @@GLOBAL.gtid_binlog_pos, @@GLOBAL.gtid_slave_pos, @@GLOBAL.log_slave_updates"
	if err := conn.QueryRowContext(ctx, q).Scan(&base, &binlogPos, &slavePos, &slaveUpdates); err != nil {
		return fmt.Errorf("binlog: %w", err)
	}
	if p := c.pending; p != nil {
		if p.BinlogBasename != "" && !mysqld.SamePath(base.String, p.BinlogBasename) {
			return fmt.Errorf("the server writes the binlog series %s but the restore put it back as %s: refusing to set gtid_slave_pos from it", base.String, p.BinlogBasename)
		}
		if p.SnapshotGTID != "" && binlogPos.String == "" {
			return fmt.Errorf("gtid_binlog_pos is empty although the restored binlogs %s hold %s: refusing to set gtid_slave_pos from it", p.BinlogBasename, p.SnapshotGTID)
		}
		return nil
	}
	if slaveUpdates && binlogPos.String == "" && slavePos.String != "" {
		return fmt.Errorf("gtid_binlog_pos is empty but gtid_slave_pos is %s: the server did not find this datadir's binlogs (%s.*); refusing to set gtid_slave_pos from it", slavePos.String, base.String)
	}
	return nil
}

// channels creates a channel for every source, reachable or skipped, and
// starts those of the reachable ones.
func (c *catchupRun) channels(ctx context.Context) error {
	var srcs []replication.Source
	for _, s := range c.sources {
		srcs = append(srcs, s.Source)
	}
	var noStart []string
	for _, s := range c.skipped {
		srcs = append(srcs, s)
		noStart = append(noStart, s.Channel())
	}
	return c.srv.OnSession(ctx, func(conn *sql.Conn, v mysqld.Version) error {
		return c.in.SetupChannels(ctx, conn, v, srcs, true, noStart)
	})
}

// wait waits for every channel to reach its goal, within catchup_timeout,
// reporting per channel every few seconds.
func (c *catchupRun) wait(ctx context.Context) error {
	goals := make([]replication.Goal, len(c.sources))
	for i, s := range c.sources {
		goals[i] = replication.Goal{Channel: s.Channel(), Pos: s.Goal}
	}
	opts := replication.WaitOptions{
		Deadline: time.Now().Add(c.cfg.CatchupDeadline()), ReportEvery: 5 * time.Second, Report: c.report,
	}
	return c.srv.OnSession(ctx, func(conn *sql.Conn, v mysqld.Version) error {
		return replication.Wait(ctx, conn, v, goals, opts)
	})
}

func (c *catchupRun) report(ps []replication.Progress) {
	for _, p := range ps {
		behind := "NULL"
		if p.SecondsBehind != nil {
			behind = strconv.FormatInt(*p.SecondsBehind, 10)
		}
		c.in.Log.Info("catching up", "channel", p.Channel, "state", p.State, "seconds_behind", behind, "to_apply", p.Behind)
	}
}

// stop stops replication, drops every channel's relay logs (the next
// start fetches from gtid_slave_pos, so nothing fetched but not applied
// is applied twice, and no relay log of this server is left for the next
// one to find), then stops the temporary mysqld.
func (c *catchupRun) stop(ctx context.Context) error {
	srv := c.srv
	c.srv = nil
	return errors.Join(stopReplication(ctx, srv, c.channelNames()), srv.Stop())
}

// channelNames are the channels of every configured source.
func (c *catchupRun) channelNames() []string {
	var out []string
	for _, s := range c.sources {
		out = append(out, s.Channel())
	}
	for _, s := range c.skipped {
		out = append(out, s.Channel())
	}
	return out
}

func stopReplication(ctx context.Context, srv *mysqld.TempServer, channels []string) error {
	return srv.OnSession(ctx, func(conn *sql.Conn, v mysqld.Version) error {
		return replication.StopAndResetRelayLogs(ctx, conn, v, channels)
	})
}

// verifyStart proves the caught-up datadir starts as its normal start
// would, with every channel, then removes the restore's marker.
func (c *catchupRun) verifyStart(ctx context.Context) error {
	want := instance.StartProof{Channels: c.channelNames()}
	if c.pending != nil {
		want.BinlogBasename, want.GTID = c.pending.BinlogBasename, c.pending.SnapshotGTID
	}
	if err := c.in.ProveStart(ctx, c.runDir, want); err != nil {
		return err
	}
	if c.pending != nil {
		c.in.Log.Info("catch-up done: the datadir may start", "removed", filepath.Join(c.cfg.MySQLDataDir, instance.CatchupMarker))
	}
	return instance.RemoveCatchupMarker(c.cfg.MySQLDataDir)
}
