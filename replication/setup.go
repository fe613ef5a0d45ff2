package replication

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// Execer is one session: statements that set session state must share it.
// *sql.Conn is one; *sql.DB is one only with SetMaxOpenConns(1).
type Execer interface {
	Querier
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// SetupOptions control Setup.
type SetupOptions struct {
	// Start starts every channel, explicitly, once created, except those
	// named in NoStart (created and left stopped).
	Start   bool
	NoStart []string
	// SlavePosFromBinlog (MariaDB) sets gtid_slave_pos from the binlog
	// first, as a restored instance needs.
	SlavePosFromBinlog bool
}

// Setup stops replication, removes every channel and its relay logs, and
// creates one channel master-<id> per source with GTID positioning.
func Setup(ctx context.Context, db Execer, s mysqld.Version, sources []Source, o SetupOptions) error {
	existing, err := ReadStatus(ctx, db, s)
	if err != nil {
		return err
	}
	names := make([]string, len(existing))
	for i, st := range existing {
		names[i] = st.Name
	}
	stmts := append([]string{SessionSetup, StopAll(s)}, ResetAll(s, names)...)
	if o.SlavePosFromBinlog && s.Flavor == MariaDB {
		stmts = append(stmts, SlavePosFromBinlog)
	}
	for _, src := range sources {
		stmts = append(stmts, ChangeSource(s, src))
	}
	if o.Start {
		for _, src := range sources {
			if !slices.Contains(o.NoStart, src.Channel()) {
				stmts = append(stmts, StartChannel(s, src.Channel()))
			}
		}
	}
	return execAll(ctx, db, stmts)
}

// execAll runs the statements in order. An error names the statement,
// with any password in it masked.
func execAll(ctx context.Context, db Execer, stmts []string) error {
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", maskPassword(q), err)
		}
	}
	return nil
}

// maskPassword hides the value of MASTER_PASSWORD / SOURCE_PASSWORD.
func maskPassword(q string) string {
	for _, key := range []string{"MASTER_PASSWORD=", "SOURCE_PASSWORD="} {
		i := strings.Index(q, key)
		if i < 0 {
			continue
		}
		rest := q[i+len(key):]
		end := closingQuote(rest)
		q = q[:i+len(key)] + "'<redacted>'" + rest[end:]
	}
	return q
}

// closingQuote returns the index just past the quoted literal that s
// starts with (backslash escapes honoured), or 0 if s is not quoted.
func closingQuote(s string) int {
	if !strings.HasPrefix(s, "'") {
		return 0
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '\'':
			return i + 1
		}
	}
	return len(s)
}

// InstanceOptions control SetupInstance.
type InstanceOptions struct {
	// Group: the instance is a MySQL Group Replication member, whose
	// channels Group Replication owns (legacy behaviour): reset only.
	Group   bool
	Start   bool
	NoStart []string
}

// SetupInstance sets up replication on the instance of one session: the
// legacy Group Replication reset, or one channel per source with GTID
// positioning, gtid_slave_pos first taken from the binlog when that holds
// what the instance replicated.
// QuietSession keeps a session that will run CHANGE MASTER, which carries
// the replication password, out of the general log where the user may
// (MariaDB logs it verbatim) and out of the slow log (which
// long_query_time=0 would fill). A user not allowed to is let be.
func QuietSession(ctx context.Context, db Execer) error {
	for _, q := range []string{"SET SESSION sql_log_off = 1", "SET SESSION long_query_time = 31536000"} {
		if _, err := db.ExecContext(ctx, q); err != nil && !isAccessDenied(err) {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

func SetupInstance(ctx context.Context, db Execer, s mysqld.Version, sources []Source, o InstanceOptions) error {
	if o.Group {
		return groupReplicationSetup(ctx, db, s, o.Start)
	}
	if err := QuietSession(ctx, db); err != nil {
		return err
	}
	fromBinlog, err := BinlogHoldsReplicated(ctx, db, s)
	if err != nil {
		return err
	}
	opts := SetupOptions{Start: o.Start, NoStart: o.NoStart, SlavePosFromBinlog: fromBinlog}
	if err := Setup(ctx, db, s, sources, opts); err != nil {
		return fmt.Errorf("setup replication: %w", err)
	}
	return nil
}

// BinlogHoldsReplicated says whether a MariaDB replica's own binlog holds
// what it replicated (log_slave_updates), so that gtid_slave_pos can be
// set from gtid_binlog_pos: a restored datadir carries the gtid_slave_pos
// of backup time, older than its binlog.
func BinlogHoldsReplicated(ctx context.Context, db Execer, s mysqld.Version) (bool, error) {
	if s.Flavor != mysqld.MariaDB {
		return false, nil
	}
	var on bool
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.log_slave_updates").Scan(&on); err != nil {
		return false, fmt.Errorf("log_slave_updates: %w", err)
	}
	return on, nil
}

func groupReplicationSetup(ctx context.Context, db Execer, s mysqld.Version, start bool) error {
	if s.Flavor != mysqld.MySQL {
		return errors.New("replication.group_replication: 1 applies to MySQL Group Replication only")
	}
	stmts := GroupReplicationReset(s)
	if start {
		stmts = append(stmts, "START GROUP_REPLICATION")
	}
	return execAll(ctx, db, stmts)
}

// StopAndResetRelayLogs stops replication and makes each channel drop its
// relay logs, its position kept as GTIDs (ResetRelayLogs).
func StopAndResetRelayLogs(ctx context.Context, db Execer, s mysqld.Version, channels []string) error {
	stmts := []string{StopAll(s)}
	for _, ch := range channels {
		stmts = append(stmts, ResetRelayLogs(s, ch))
	}
	return execAll(ctx, db, stmts)
}

// isAccessDenied says whether err is the server refusing a privilege
// (ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_ERROR).
func isAccessDenied(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1227 || me.Number == 1045)
}
