package backup

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/replication"
	"github.com/mysqlbackup/mysqlbackup/scratch"
)

// ScratchOf describes the serving instance a backup is taken for when
// it is taken from a scratch copy (backup --from-scratch): the backup is
// published as the instance's.
type ScratchOf struct {
	MyCnf      string // the serving instance's my.cnf, stored in the backup
	ServerID   uint32 // its server_id
	InstanceID string // its server_uuid or server_id:N
}

// scratchChannel is the replication channel the scratch copy follows the
// serving instance on.
const scratchChannel = "mysqlbackup-scratch"

// FromScratch is backup --from-scratch (Vitess's vtbackup): the latest
// backup of the port restored into a scratch beside the instance, started
// under the temporary server id, replicated from the serving instance up
// to the GTID position it had when this began (the goal does not move),
// then backed up as the serving instance's backup of date_str, with its
// my.cnf; the scratch is removed. The serving instance gives replication
// reads only: the engine never reads its datadir.
func FromScratch(ctx context.Context, in *instance.Instance, o Options) (*Result, error) {
	cfg := in.Cfg
	lk, err := in.Lock()
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	if cfg.Replication == nil || cfg.Replication.User == "" {
		return nil, &conf.Error{File: cfg.Path, Key: "replication.user", Msg: "backup --from-scratch replicates the scratch copy from the instance with the replication user; none is configured (s3_bucket or backup_store_dir)"}
	}
	if cfg.ArchiveFormat != conf.FormatV2 {
		return nil, &conf.Error{File: cfg.Path, Key: "archive_format", Msg: "backup --from-scratch publishes v2 backups only (a legacy archive cannot record that its positions are the copy's)"}
	}
	if cfg.BackupSigningKey != "" && len(cfg.BackupVerifyKeys) == 0 {
		return nil, &conf.Error{File: cfg.Path, Key: "backup_verify_keys", Msg: "backup --from-scratch would sign a backup made from one it restored without checking its signature: pin the keys that sign this port's backups"}
	}
	if err := refuseNoBackup(ctx, in); err != nil {
		return nil, err
	}
	serving, err := servingInfo(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := canReplicate(ctx, cfg); err != nil {
		return nil, err
	}
	in.Log.Info("backup from a scratch copy: the goal", "gtid", serving.goal)
	sc, err := scratch.Open(in, "backup-scratch", "")
	if err != nil {
		return nil, err
	}
	// Removed on every path: it holds a plaintext copy of the data (and,
	// after a failed catch-up, the channel's credentials) on the serving
	// host's disk.
	defer func() {
		if err := sc.Close(true); err != nil {
			in.Log.Warn("scratch not removed (the next run clears it)", "dir", sc.Dir, "err", err)
		}
	}()
	sc.In.Cfg.DateStr = conf.LatestDate // the copy starts from the latest; the new backup is date_str's
	began := time.Now()
	if _, err := sc.Restore(ctx, o.Term); err != nil {
		return nil, fmt.Errorf("restore of the latest backup into the scratch: %w", err)
	}
	// The copy binlogs what it replicates (the backup's binlogs must hold
	// it), and none of the instance's replica settings may drop or skip
	// what the instance wrote.
	srv, err := sc.Start(ctx, "--log-slave-updates=ON", "--slave-skip-errors=OFF", "--slave-exec-mode=STRICT")
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	restored := time.Since(began)
	if err := catchUpTo(ctx, srv, cfg, serving.goal); err != nil {
		return nil, err
	}
	caughtUp := time.Since(began) - restored
	bcfg := backupConfigOf(cfg, sc, srv.Conn.Socket)
	o.Scratch = &ScratchOf{MyCnf: cfg.MySQLMyCnf, ServerID: serving.id, InstanceID: serving.instanceID}
	res, err := Run(ctx, instance.New(bcfg, in.Log), o)
	if err != nil {
		return res, err
	}
	if err := srv.Stop(); err != nil {
		in.Log.Warn("the scratch server", "err", err)
	}
	res.Summary += fmt.Sprintf(" from_scratch=goal:%q scratch_restore=%s scratch_catchup=%s total=%s", serving.goal,
		restored.Round(10*time.Millisecond), caughtUp.Round(10*time.Millisecond), time.Since(began).Round(10*time.Millisecond))
	return res, nil
}

// refuseNoBackup refuses a port without a complete backup to start from.
func refuseNoBackup(ctx context.Context, in *instance.Instance) error {
	cfg := in.Cfg
	if !cfg.HasStore() {
		return &conf.Error{File: cfg.Path, Key: "s3_bucket", Msg: "backup --from-scratch starts from the latest backup in the object store; none is configured (s3_bucket or backup_store_dir)"}
	}
	st, err := in.Store()
	if err != nil {
		return err
	}
	if _, ok, err := catalog.LatestOf(ctx, st, string(cfg.Port)); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("backup --from-scratch starts from the latest backup of port %s, and %s holds none: take a first normal backup", cfg.Port, cfg.StoreName())
	}
	return nil
}

// serving is what the scratch needs of the serving instance.
type serving struct {
	goal       string // its GTID position when the run began
	id         uint32
	instanceID string
}

// servingInfo reads the goal and the identity of the serving instance.
func servingInfo(ctx context.Context, in *instance.Instance) (serving, error) {
	var s serving
	db, err := in.Admin().Open()
	if err != nil {
		return s, err
	}
	defer db.Close()
	version, err := mysqld.ServerVersion(ctx, db)
	if err != nil {
		return s, fmt.Errorf("instance on %s: %w", in.Cfg.MySQLSocket, err)
	}
	if v, err := mysqld.ParseVersion(version); err != nil || v.Flavor != mysqld.MariaDB {
		return s, fmt.Errorf("backup --from-scratch follows the instance by MariaDB GTID (START SLAVE UNTIL master_gtid_pos); %s is not supported", version)
	}
	var logSlaveUpdates int
	if err := db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos, @@server_id, @@log_slave_updates").Scan(&s.goal, &s.id, &logSlaveUpdates); err != nil {
		return s, fmt.Errorf("the instance's GTID position: %w", err)
	}
	if replica, err := hasChannels(ctx, db); err != nil {
		return s, err
	} else if replica && logSlaveUpdates == 0 {
		return s, fmt.Errorf("the instance replicates with log_slave_updates off: its binlog, which the scratch copy follows, lacks what it replicates; turn log_slave_updates on for backup --from-scratch")
	}
	s.instanceID = mysqld.InstanceID(ctx, db)
	return s, nil
}

// catchUpTo replicates the scratch server from the serving instance up
// to goal (START SLAVE UNTIL master_gtid_pos), then removes the channel.
// It waits at most catchup_timeout, and fails on a replication error.
func catchUpTo(ctx context.Context, srv *mysqld.TempServer, cfg *conf.Config, goal string) error {
	timeout, err := time.ParseDuration(cfg.CatchupTimeout)
	if err != nil {
		return &conf.Error{File: cfg.Path, Key: "catchup_timeout", Msg: err.Error()}
	}
	return srv.OnSession(ctx, func(conn *sql.Conn, v mysqld.Version) error {
		ch := replication.Quote(scratchChannel)
		// CHANGE MASTER carries the replication password: out of the
		// general and slow logs, quoted under a known sql_mode. The
		// instance's replication filters (its my.cnf) are cleared for
		// the copy's channel.
		if err := replication.QuietSession(ctx, conn); err != nil {
			return err
		}
		stmts := []string{replication.SessionSetup, replication.SlavePosFromBinlog,
			fmt.Sprintf("CHANGE MASTER %s TO MASTER_HOST=%s, MASTER_PORT=%d, MASTER_USER=%s, MASTER_PASSWORD=%s, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
				ch, replication.Quote(cfg.Host), cfg.Port.Int(), replication.Quote(cfg.Replication.User), replication.Quote(cfg.Replication.Password.Reveal())),
			"SET SESSION default_master_connection = " + ch}
		for _, f := range []string{"replicate_do_db", "replicate_ignore_db", "replicate_do_table", "replicate_ignore_table", "replicate_wild_do_table", "replicate_wild_ignore_table"} {
			stmts = append(stmts, "SET GLOBAL "+f+" = ''")
		}
		stmts = append(stmts, fmt.Sprintf("START SLAVE %s UNTIL master_gtid_pos = %s", ch, replication.Quote(goal)))
		for _, q := range stmts {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("scratch replication (%s): %s", strings.Join(strings.Fields(q)[:2], " "), redactedError(err, cfg))
			}
		}
		for deadline := time.Now().Add(timeout); ; {
			var reached sql.NullInt64
			if err := conn.QueryRowContext(ctx, replication.WaitQuery(replication.MariaDB, 1), goal).Scan(&reached); err != nil {
				return fmt.Errorf("scratch replication: %w", err)
			}
			st, err := replication.ReadStatus(ctx, conn, v)
			if err != nil {
				return err
			}
			stopped := false
			for _, c := range st {
				if c.Name != scratchChannel {
					continue
				}
				if e := c.LastIOError + c.LastSQLError; e != "" {
					return fmt.Errorf("the scratch copy replicating from the instance: %s", e)
				}
				stopped = c.SQLRunning != "Yes"
			}
			if reached.Valid && reached.Int64 == 0 {
				break
			}
			if stopped {
				// The UNTIL may have stopped it just after the wait timed out.
				if err := conn.QueryRowContext(ctx, replication.WaitQuery(replication.MariaDB, 0), goal).Scan(&reached); err == nil && reached.Valid && reached.Int64 == 0 {
					break
				}
				return fmt.Errorf("the scratch copy stopped replicating before the goal %q", goal)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the scratch copy did not reach the goal %q within catchup_timeout %s", goal, cfg.CatchupTimeout)
			}
		}
		for _, q := range []string{"STOP SLAVE " + ch, "RESET SLAVE " + ch + " ALL"} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("scratch replication (%s): %w", q, err)
			}
		}
		// MASTER_GTID_WAIT compares sequence numbers only: the copy must
		// hold exactly the goal's GTIDs, not others of the same numbers (a
		// history that diverged from the instance's).
		var binlogPos string
		if err := conn.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&binlogPos); err != nil {
			return err
		}
		if diff, err := gtidDiff(binlogPos, goal); err != nil || diff != "" {
			if err != nil {
				return err
			}
			return fmt.Errorf("the scratch copy is at %s, not the instance's %s (%s): it did not apply exactly what the instance wrote (another history, a filtered or skipped event); take a normal backup", binlogPos, goal, diff)
		}
		return nil
	})
}

// gtidDiff names the first domain of the MariaDB GTID list want whose
// GTID have does not hold exactly ("" when every one matches).
func gtidDiff(have, want string) (string, error) {
	h, err := replication.ParseMariaDB(have)
	if err != nil {
		return "", err
	}
	w, err := replication.ParseMariaDB(want)
	if err != nil {
		return "", err
	}
	for d, g := range w {
		if got, ok := h[d]; !ok || got != g {
			copyHas := ""
			if ok {
				copyHas = replication.MariaDBPos{d: got}.String()
			}
			return fmt.Sprintf("domain %d: %q, the instance %q", d, copyHas, replication.MariaDBPos{d: g}.String()), nil
		}
	}
	return "", nil
}

// redactedError is err's text without the replication password.
func redactedError(err error, cfg *conf.Config) string {
	text := err.Error()
	if p := cfg.Replication.Password.Reveal(); p != "" {
		text = strings.ReplaceAll(text, p, "<redacted>")
	}
	return text
}

// canReplicate connects to the instance as the scratch copy will (host,
// port, the replication user) before the long restore, so that a wrong
// host, grant or password fails at once.
func canReplicate(ctx context.Context, cfg *conf.Config) error {
	src := replication.Source{ID: "scratch", Host: cfg.Host, Port: cfg.Port.Int(), User: cfg.Replication.User, Password: cfg.Replication.Password.Reveal()}
	if _, err := replication.Probe(ctx, src, 10*time.Second); err != nil {
		return fmt.Errorf("the scratch copy will replicate from host %s port %s as %s, which fails now: %s", cfg.Host, cfg.Port, cfg.Replication.User, redactedError(err, cfg))
	}
	return nil
}

// backupConfigOf is the config of the backup taken from the scratch
// server: the instance's (its port's keys and names, its bucket, its
// retention), with the server, its datadir and my.cnf (for the engine),
// and the staging under backup_base all the scratch's. No binlog purge,
// and the binlogs are bundled: they are the scratch's, which no archive
// holds.
func backupConfigOf(cfg *conf.Config, sc *scratch.Scratch, socket string) *conf.Config {
	s := sc.In.Cfg
	c := *cfg
	c.MySQLSocket, c.MySQLPidPath, c.MySQLDataDir, c.MySQLMyCnf = socket, s.MySQLPidPath, s.MySQLDataDir, s.MySQLMyCnf
	c.BackupBase = s.BackupBase
	c.BackupDataDir = filepath.Join(c.BackupBase, c.BackupDataTail)
	c.BackupMyCnf = filepath.Join(c.BackupDataDir, "my.cnf")
	c.BackupBinlogDir = filepath.Join(c.BackupBase, c.BackupBinlogTail)
	zero := 0
	c.PurgeBinlogDays = &zero
	c.SQLTestInsert = "" // never on the copy
	c.BackupBinlogs = conf.BinlogsBundle
	return &c
}
