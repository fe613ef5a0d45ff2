package replication

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// ChannelStatus is one row of SHOW ALL SLAVES STATUS (MariaDB) or SHOW
// SLAVE/REPLICA STATUS (MySQL), under one set of names. Fields holds every
// column as the server named it.
type ChannelStatus struct {
	Name           string            `json:"name"`
	IOState        string            `json:"io_state"`
	SourceHost     string            `json:"source_host"`
	SourcePort     string            `json:"source_port"`
	SourceServerID string            `json:"source_server_id"`
	SourceUUID     string            `json:"source_uuid,omitempty"` // MySQL
	IORunning      string            `json:"io_running"`            // Yes, No, Connecting
	SQLRunning     string            `json:"sql_running"`
	SecondsBehind  *int64            `json:"seconds_behind"` // nil when the server says NULL
	LastIOError    string            `json:"last_io_error"`
	LastSQLError   string            `json:"last_sql_error"`
	SQLState       string            `json:"sql_state"`
	RetrievedGTID  string            `json:"retrieved_gtid"` // Gtid_IO_Pos on MariaDB
	ExecutedGTID   string            `json:"executed_gtid,omitempty"`
	Fields         map[string]string `json:"fields"` // every column, as the server named it
	Columns        []string          `json:"-"`
}

// column names per meaning, old and new spellings of both flavors.
var aliases = map[string][]string{
	"name":     {"Connection_name", "Channel_Name", "Channel_name"},
	"iostate":  {"Slave_IO_State", "Replica_IO_State"},
	"host":     {"Master_Host", "Source_Host"},
	"port":     {"Master_Port", "Source_Port"},
	"io":       {"Slave_IO_Running", "Replica_IO_Running"},
	"sql":      {"Slave_SQL_Running", "Replica_SQL_Running"},
	"ioerr":    {"Last_IO_Error"},
	"sqlerr":   {"Last_SQL_Error"},
	"behind":   {"Seconds_Behind_Master", "Seconds_Behind_Source"},
	"srvid":    {"Master_Server_Id", "Source_Server_Id"},
	"uuid":     {"Master_UUID", "Source_UUID"},
	"sqlstate": {"Slave_SQL_Running_State", "Replica_SQL_Running_State"},
	"gtidio":   {"Gtid_IO_Pos", "Retrieved_Gtid_Set"},
	"executed": {"Executed_Gtid_Set"},
}

// StatusQuery is the statement listing every channel.
func StatusQuery(s mysqld.Version) string {
	switch {
	case s.Flavor == MariaDB:
		return "SHOW ALL SLAVES STATUS"
	case newTerms(s, 22):
		return "SHOW REPLICA STATUS"
	}
	return "SHOW SLAVE STATUS"
}

// Querier is what ReadStatus needs of a connection or pool.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// ReadStatus returns every channel's status.
func ReadStatus(ctx context.Context, q Querier, s mysqld.Version) ([]ChannelStatus, error) {
	rows, err := q.QueryContext(ctx, StatusQuery(s))
	if err != nil {
		return nil, fmt.Errorf("replica status: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []ChannelStatus
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("replica status: %w", err)
		}
		fields := make(map[string]string, len(cols))
		nulls := map[string]bool{}
		for i, c := range cols {
			fields[c] = vals[i].String
			nulls[c] = !vals[i].Valid
		}
		out = append(out, statusFromFields(cols, fields, nulls))
	}
	return out, rows.Err()
}

func statusFromFields(cols []string, f map[string]string, nulls map[string]bool) ChannelStatus {
	get := func(k string) (string, bool) {
		for _, name := range aliases[k] {
			if v, ok := f[name]; ok {
				return v, !nulls[name]
			}
		}
		return "", false
	}
	pick := func(k string) string { v, _ := get(k); return v }
	st := ChannelStatus{
		Name: pick("name"), IOState: pick("iostate"), SourceHost: pick("host"), SourcePort: pick("port"),
		IORunning: pick("io"), SQLRunning: pick("sql"), LastIOError: pick("ioerr"), LastSQLError: pick("sqlerr"),
		SourceServerID: pick("srvid"), SourceUUID: pick("uuid"), SQLState: pick("sqlstate"),
		RetrievedGTID: gtidText(pick("gtidio")), ExecutedGTID: gtidText(pick("executed")),
		Fields: f, Columns: cols,
	}
	if v, ok := get("behind"); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			st.SecondsBehind = &n
		}
	}
	return st
}

// gtidText joins a GTID set the server printed over several lines.
func gtidText(s string) string { return strings.Join(strings.Fields(s), "") }
