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
			fmt.Sprintf("CHANGE MASTER '%s' TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
				ch, src.Port, ReplUser, ReplPassword),
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
	db := in.DB()
	defer db.Close()
	rows, err := db.QueryContext(in.t.Context(), "SHOW ALL SLAVES STATUS")
	if err != nil {
		in.t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var names []string
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			in.t.Fatal(err)
		}
		names = append(names, string(vals[0])) // Connection_name
	}
	return names
}

// slaveErrors summarises every channel's state, for failure messages.
func (in *Instance) slaveErrors() string {
	db := in.DB()
	defer db.Close()
	var b strings.Builder
	r, err := db.QueryContext(in.t.Context(), "SHOW ALL SLAVES STATUS")
	if err != nil {
		return err.Error()
	}
	defer r.Close()
	cols, _ := r.Columns()
	for r.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if r.Scan(ptrs...) != nil {
			break
		}
		for i, c := range cols {
			switch c {
			case "Connection_name", "Slave_IO_Running", "Slave_SQL_Running", "Last_IO_Error", "Last_SQL_Error":
				fmt.Fprintf(&b, "%s=%s ", c, vals[i].String)
			}
		}
		b.WriteString("; ")
	}
	return b.String()
}

func mustLook(t testing.TB, name string) string {
	t.Helper()
	return Need(t, name)[0]
}
