package replication

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// InstanceStatus is what an operator watches on one instance: identity,
// binlog position, every replication channel and the first process list
// rows (legacy watch-slave.sh).
type InstanceStatus struct {
	Name        string          `json:"name"` // socket path or label
	Up          bool            `json:"up"`
	Error       string          `json:"error,omitempty"`
	Version     string          `json:"version,omitempty"`
	ServerID    uint64          `json:"server_id,omitempty"`
	ServerUUID  string          `json:"server_uuid,omitempty"` // MySQL only
	ReadOnly    bool            `json:"read_only"`
	Binlog      BinlogPosition  `json:"binlog"`
	Channels    []ChannelStatus `json:"channels"`
	Processlist []Process       `json:"processlist"`
	// CatchupPending, set by the caller, says the instance's datadir was
	// restored and still waits for its catch-up, and since when.
	CatchupPending string `json:"catchup_pending,omitempty"`
}

// BinlogPosition is SHOW MASTER STATUS with the GTID position.
type BinlogPosition struct {
	File     string `json:"file"`
	Position uint64 `json:"position"`
	GTID     string `json:"gtid"`
}

// Process is one process list row.
type Process struct {
	ID      uint64 `json:"id"`
	User    string `json:"user"`
	Host    string `json:"host"`
	DB      string `json:"db"`
	Command string `json:"command"`
	Time    int64  `json:"time"`
	State   string `json:"state"`
	Info    string `json:"info"`
}

// ProcesslistRows is how many process list rows Collect keeps.
const ProcesslistRows = 10

// Collect reads an instance's status. A failure to query is returned; the
// caller decides whether it means "down".
func Collect(ctx context.Context, db *sql.DB, name string) (InstanceStatus, error) {
	st, v, err := CollectChannels(ctx, db, name)
	if err != nil {
		return st, err
	}
	if st.Binlog, err = ReadBinlogPosition(ctx, db, v); err != nil {
		return st, err
	}
	st.Processlist, err = processlist(ctx, db)
	return st, err
}

// CollectChannels reads the part of Collect a monitoring probe needs, the
// instance's identity and its channels, with no privilege but the one
// reading the replica status needs (SLAVE MONITOR, REPLICATION CLIENT), as
// the legacy probe's account had.
func CollectChannels(ctx context.Context, db *sql.DB, name string) (InstanceStatus, mysqld.Version, error) {
	st := InstanceStatus{Name: name}
	var ro int
	if err := db.QueryRowContext(ctx, "SELECT VERSION(), @@GLOBAL.server_id, @@GLOBAL.read_only").Scan(&st.Version, &st.ServerID, &ro); err != nil {
		return st, mysqld.Version{}, err
	}
	st.Up, st.ReadOnly = true, ro != 0
	v, err := mysqld.ParseVersion(st.Version)
	if err != nil {
		return st, v, err
	}
	if v.Flavor == MySQL {
		if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.server_uuid").Scan(&st.ServerUUID); err != nil {
			return st, v, err
		}
	}
	st.Channels, err = ReadStatus(ctx, db, v)
	return st, v, err
}

// ReadBinlogPosition is the server's binlog end and GTID position (an empty
// file when binary logging is off).
func ReadBinlogPosition(ctx context.Context, db *sql.DB, v mysqld.Version) (BinlogPosition, error) {
	q := "SHOW MASTER STATUS"
	if v.Flavor == MySQL && v.AtLeast(8, 2, 0) {
		q = "SHOW BINARY LOG STATUS"
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return BinlogPosition{}, fmt.Errorf("%s: %w", strings.ToLower(q), err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var p BinlogPosition
	if rows.Next() { // no row when binary logging is off
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return p, err
		}
		p.File = vals[0].String
		fmt.Sscan(vals[1].String, &p.Position)
		if len(cols) > 4 { // MySQL: Executed_Gtid_Set
			p.GTID = strings.Join(strings.Fields(vals[4].String), "")
		}
	}
	if err := rows.Err(); err != nil {
		return p, err
	}
	if v.Flavor == MariaDB {
		err = db.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&p.GTID)
	}
	return p, err
}

func processlist(ctx context.Context, db *sql.DB) ([]Process, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT ID, USER, HOST, IFNULL(DB, ''), COMMAND, TIME, IFNULL(STATE, ''), IFNULL(LEFT(INFO, 100), '')
		FROM information_schema.PROCESSLIST ORDER BY ID LIMIT %d`, ProcesslistRows))
	if err != nil {
		return nil, fmt.Errorf("process list: %w", err)
	}
	defer rows.Close()
	var out []Process
	for rows.Next() {
		var p Process
		if err := rows.Scan(&p.ID, &p.User, &p.Host, &p.DB, &p.Command, &p.Time, &p.State, &p.Info); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
