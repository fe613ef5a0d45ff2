package instance

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/replication"
)

// StartProof is what a datadir must show when started as its normal start
// would start it.
type StartProof struct {
	BinlogBasename string   // the binlog series it must write ("" = not checked)
	GTID           string   // when set, its binlog must hold GTIDs (gtid_binlog_pos not empty)
	Channels       []string // channels that must exist
}

// ProveStart starts the instance's datadir once more exactly as its normal
// start would (its own my.cnf; only socket, pid-file directory, error log
// and networking differ, none of which renames a file), reads every
// channel's status, checks each channel's relay log is there and the
// binlog series is the restored one, and stops it. A datadir that would
// abort at its next boot fails the command now, with the server's message.
func (in *Instance) ProveStart(ctx context.Context, runDir string, want StartProof) error {
	srv, err := in.StartTemp(ctx, in.Cfg.MySQLDataDir, runDir, true)
	if err != nil {
		return fmt.Errorf("the datadir would not start: %w", err)
	}
	err = srv.OnSession(ctx, func(conn *sql.Conn, v mysqld.Version) error {
		return in.checkStarted(ctx, conn, v, want)
	})
	return errors.Join(err, srv.Stop())
}

func (in *Instance) checkStarted(ctx context.Context, conn *sql.Conn, v mysqld.Version, want StartProof) error {
	var serverID, binlogBase, relayBase, gtid sql.NullString
	gtidVar := "@@GLOBAL.gtid_binlog_pos"
	if v.Flavor != mysqld.MariaDB {
		gtidVar = "@@GLOBAL.gtid_executed"
	}
	q := "SELECT @@GLOBAL.server_id, @@GLOBAL.log_bin_basename, @@GLOBAL.relay_log_basename, " + gtidVar
	if err := conn.QueryRowContext(ctx, q).Scan(&serverID, &binlogBase, &relayBase, &gtid); err != nil {
		return fmt.Errorf("started datadir: %w", err)
	}
	if want.BinlogBasename != "" && !mysqld.SamePath(binlogBase.String, want.BinlogBasename) {
		return fmt.Errorf("the normal start writes the binlog series %s, the restored one is %s", binlogBase.String, want.BinlogBasename)
	}
	if want.GTID != "" && strings.TrimSpace(gtid.String) == "" {
		return fmt.Errorf("the normal start finds no GTID in its binlog %s (the restored binlogs hold %s): it does not read them", binlogBase.String, want.GTID)
	}
	status, err := replication.ReadStatus(ctx, conn, v)
	if err != nil {
		return err
	}
	relayDir := in.Cfg.MySQLDataDir // the server leaves relay_log_basename NULL by default
	if relayBase.String != "" {
		relayDir = filepath.Dir(relayBase.String)
	}
	var names []string
	for _, st := range status {
		names = append(names, st.Name)
		if err := relayLogPresent(in.Cfg.MySQLDataDir, relayDir, st); err != nil {
			return err
		}
	}
	for _, ch := range want.Channels {
		if !slices.Contains(names, ch) {
			return fmt.Errorf("the normal start has no channel %s (it has %s)", ch, strings.Join(names, ", "))
		}
	}
	in.Log.Info("the datadir starts as its normal start would", "server_id", serverID.String, "binlog", binlogBase.String, "gtid_binlog_pos", gtid.String, "channels", strings.Join(names, ","))
	return nil
}

// relayLogPresent checks a channel's relay log file is where the server
// will look for it: a bare name in the relay log directory, a relative
// path under the datadir.
func relayLogPresent(dataDir, relayDir string, st replication.ChannelStatus) error {
	f := st.Fields["Relay_Log_File"]
	switch {
	case f == "" || filepath.IsAbs(f):
	case strings.Contains(f, "/"):
		f = filepath.Join(dataDir, f)
	default:
		f = filepath.Join(relayDir, f)
	}
	if f == "" {
		return nil
	}
	if _, err := os.Stat(f); err != nil {
		return fmt.Errorf("channel %s: its relay log %s is missing: %w", st.Name, st.Fields["Relay_Log_File"], err)
	}
	return nil
}
