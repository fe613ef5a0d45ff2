package testbed

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func (in *Instance) dsn(password string) string {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = "root", password, "unix", in.Socket
	c.Timeout = 5 * time.Second
	return c.FormatDSN()
}

// DB opens a root connection over the socket, closed when the test ends.
func (in *Instance) DB() *sql.DB {
	in.t.Helper()
	db, err := sql.Open("mysql", in.dsn(in.RootPassword))
	if err != nil {
		in.t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // session state (SQL_LOG_BIN) must stick
	in.t.Cleanup(func() { db.Close() })
	return db
}

// Exec runs each statement as root and fails the test on an error.
func (in *Instance) Exec(stmts ...string) {
	in.t.Helper()
	db := in.DB()
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.ExecContext(in.t.Context(), s); err != nil {
			in.t.Fatalf("instance %d: %s: %v", in.ID, s, err)
		}
	}
}

// Query returns the first column of the first row as a string ("" for NULL).
func (in *Instance) Query(q string, args ...any) string {
	in.t.Helper()
	db := in.DB()
	defer db.Close()
	var v sql.NullString
	if err := db.QueryRowContext(in.t.Context(), q, args...).Scan(&v); err != nil {
		in.t.Fatalf("instance %d: %s: %v", in.ID, q, err)
	}
	return v.String
}

// Checksum is CHECKSUM TABLE of a table.
func (in *Instance) Checksum(table string) string {
	in.t.Helper()
	db := in.DB()
	defer db.Close()
	var name string
	var sum sql.NullString
	if err := db.QueryRowContext(in.t.Context(), "CHECKSUM TABLE "+table).Scan(&name, &sum); err != nil {
		in.t.Fatalf("instance %d: checksum %s: %v", in.ID, table, err)
	}
	return sum.String
}

// secure sets the root password, removes the anonymous users that
// mariadb-install-db creates (they shadow repl@localhost), and creates the
// replication account, all outside the binary log.
func (in *Instance) secure() {
	in.t.Helper()
	db, err := sql.Open("mysql", in.dsn(""))
	if err != nil {
		in.t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	defer db.Close()
	for _, s := range []string{
		"SET SESSION sql_log_bin=0",
		"DELETE FROM mysql.global_priv WHERE User=''",
		"FLUSH PRIVILEGES",
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", ReplUser, ReplPassword),
		fmt.Sprintf("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '%s'@'%%'", ReplUser),
		fmt.Sprintf("ALTER USER 'root'@'localhost' IDENTIFIED BY '%s'", in.RootPassword),
	} {
		if _, err := db.ExecContext(in.t.Context(), s); err != nil {
			in.t.Fatalf("instance %d: %s: %v", in.ID, strings.SplitN(s, " IDENTIFIED", 2)[0], err)
		}
	}
}

// Channel is the legacy channel name of a source: master-<id>.
func Channel(source *Instance) string { return fmt.Sprintf("master-%d", source.ID) }

// Replicate makes replica replicate from each source on its own channel
// master-<id>, with GTID positioning, and starts the channels.
func Replicate(t testing.TB, replica *Instance, sources ...*Instance) {
	t.Helper()
	for _, src := range sources {
		ch := Channel(src)
		replica.Exec(
			fmt.Sprintf("CHANGE MASTER '%s' TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
				ch, src.Host, src.Port, ReplUser, ReplPassword),
			fmt.Sprintf("START SLAVE '%s'", ch),
		)
	}
}

// WaitCaughtUp waits until replica's @@gtid_current_pos holds, in every
// replication domain, at least what each source's @@gtid_binlog_pos held
// when the wait began. It fails the test after a minute.
func WaitCaughtUp(t testing.TB, replica *Instance, sources ...*Instance) {
	t.Helper()
	goals := make([]string, len(sources))
	for i, s := range sources {
		goals[i] = s.Query("SELECT @@gtid_binlog_pos")
	}
	deadline := time.Now().Add(time.Minute)
	for {
		have := replica.Query("SELECT @@gtid_current_pos")
		missing := ""
		for _, g := range goals {
			if !gtidPosCovers(have, g) {
				missing = g
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %d did not catch up: has %q, want %q; status: %s", replica.ID, have, missing, replica.slaveErrors())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// gtidPosCovers says whether MariaDB GTID position have reaches want in
// every domain of want (positions list domain-server-seq per domain).
func gtidPosCovers(have, want string) bool {
	seq := map[string]uint64{}
	for _, g := range splitGTIDs(have) {
		seq[g[0]] = max(seq[g[0]], parseUint(g[2]))
	}
	for _, g := range splitGTIDs(want) {
		if seq[g[0]] < parseUint(g[2]) {
			return false
		}
	}
	return true
}

func splitGTIDs(pos string) [][]string {
	var out [][]string
	for _, g := range strings.Split(pos, ",") {
		if parts := strings.Split(strings.TrimSpace(g), "-"); len(parts) == 3 {
			out = append(out, parts)
		}
	}
	return out
}

func parseUint(s string) uint64 {
	var v uint64
	fmt.Sscan(s, &v)
	return v
}

// Channels lists the replication connection names, as SHOW ALL SLAVES
// STATUS gives them.
func (in *Instance) Channels() []string {
	in.t.Helper()
	rows, err := in.slaveStatus()
	if err != nil {
		in.t.Fatal(err)
	}
	var names []string
	for _, r := range rows {
		names = append(names, r["Connection_name"])
	}
	return names
}

// slaveStatus returns SHOW ALL SLAVES STATUS, a column→value map a row.
func (in *Instance) slaveStatus() ([]map[string]string, error) {
	db := in.DB()
	defer db.Close()
	rows, err := db.QueryContext(in.t.Context(), "SHOW ALL SLAVES STATUS")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make(map[string]string, len(cols))
		for i, c := range cols {
			row[c] = vals[i].String
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// slaveErrors summarises every channel's state, for failure messages.
func (in *Instance) slaveErrors() string {
	rows, err := in.slaveStatus()
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, r := range rows {
		for _, c := range []string{"Connection_name", "Slave_IO_Running", "Slave_SQL_Running", "Last_IO_Error", "Last_SQL_Error"} {
			fmt.Fprintf(&b, "%s=%s ", c, r[c])
		}
		b.WriteString("; ")
	}
	return b.String()
}

func mustLook(t testing.TB, name string) string {
	t.Helper()
	return Need(t, name)[0]
}

// WaitChannelsRunning waits until each named channel of in runs both its
// IO and SQL threads (Yes/Yes); it fails the test after 30 seconds.
func WaitChannelsRunning(t testing.TB, in *Instance, channels ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows, err := in.slaveStatus()
		if err != nil {
			t.Fatal(err)
		}
		running := map[string]bool{}
		for _, r := range rows {
			running[r["Connection_name"]] = r["Slave_IO_Running"] == "Yes" && r["Slave_SQL_Running"] == "Yes"
		}
		ok := true
		for _, ch := range channels {
			ok = ok && running[ch]
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %d: channels %v not all running: %s", in.ID, channels, in.slaveErrors())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
