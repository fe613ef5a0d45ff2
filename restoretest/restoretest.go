// Package restoretest proves a backup restorable by restoring it: into a
// scratch datadir beside the serving instance (its own port, socket, pid
// file, lock and datadir, none of the instance's), started with a
// temporary server id and no replication, then checked: the server starts
// and recovery logs no error, CHECK TABLE passes on every user table, the
// GTID position is the one the backup recorded, every table the backup
// listed exists, and sql_test_get_2 returns what sql_test_insert wrote.
package restoretest

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/replication"
	"github.com/mysqlbackup/mysqlbackup/restore"
	"github.com/mysqlbackup/mysqlbackup/scratch"
)

// Options are what a restore-test runs with besides the config.
type Options struct {
	// ScratchDir is where it builds ("": {backup_base}/restore-test-{port}).
	ScratchDir string
	// Keep leaves the scratch after success too (it stays after a failure).
	Keep bool
	Term io.Writer
}

// Check is one verdict on the restored copy.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ok, failed or skipped
	Detail string `json:"detail,omitempty"`
}

// Result is the outcome of a restore-test.
type Result struct {
	Port     string        `json:"port"`
	Backup   string        `json:"backup,omitempty"` // what was restored, from the restore's result line
	Scratch  string        `json:"scratch"`
	Kept     bool          `json:"kept"` // the scratch is left in place
	Checks   []Check       `json:"checks"`
	Duration time.Duration `json:"duration_ns"`
	OK       bool          `json:"ok"`
}

// Failed is the first failed check, or nil.
func (r *Result) Failed() *Check {
	for i := range r.Checks {
		if r.Checks[i].Status == "failed" {
			return &r.Checks[i]
		}
	}
	return nil
}

// Summary is the result line's body.
func (r *Result) Summary() string {
	var parts []string
	for _, c := range r.Checks {
		parts = append(parts, c.Name+"="+c.Status)
	}
	kept := ""
	if r.Kept {
		kept = " kept=" + r.Scratch
	}
	return fmt.Sprintf("port=%s %s %s took=%s%s", r.Port, r.Backup, strings.Join(parts, " "), r.Duration.Round(10*time.Millisecond), kept)
}

// systemSchemas are left out of the table checks.
var systemSchemas = []string{"mysql", "information_schema", "performance_schema", "sys"}

// Run restores date_str's backup ("latest": the newest) into the scratch
// and checks it. A check that fails makes the error, which names it; the
// result is there whenever the test got as far as the scratch.
func Run(ctx context.Context, in *instance.Instance, o Options) (*Result, error) {
	start := time.Now()
	sc, err := scratch.Open(in, "restore-test", o.ScratchDir)
	if err != nil {
		return nil, err
	}
	res := &Result{Port: string(in.Cfg.Port), Scratch: sc.Dir}
	defer func() { res.Duration = time.Since(start) }()
	rres, rerr := sc.Restore(ctx, o.Term)
	if rres != nil {
		res.Backup = backupOf(rres.Summary)
	}
	if rerr != nil {
		res.Checks = append(res.Checks, Check{Name: "restore", Status: "failed", Detail: rerr.Error()})
		return finish(res, o, sc)
	}
	res.Checks = append(res.Checks, Check{Name: "restore", Status: "ok"})
	res.Checks = append(res.Checks, checkCopy(ctx, sc, in.Cfg, rres.Recorded)...)
	return finish(res, o, sc)
}

// finish removes the scratch of a passed test (unless kept) and makes the
// error of a failed one.
func finish(res *Result, o Options, sc *scratch.Scratch) (*Result, error) {
	f := res.Failed()
	res.OK = f == nil
	res.Kept = !res.OK || o.Keep
	if err := sc.Close(!res.Kept); err != nil {
		res.Kept = true
		return res, fmt.Errorf("scratch %s not removed: %w", res.Scratch, err)
	}
	if f != nil {
		return res, fmt.Errorf("restore-test of port %s: check %s failed: %s (scratch kept at %s)", res.Port, f.Name, f.Detail, res.Scratch)
	}
	return res, nil
}

// checkCopy starts the restored copy as a temporary server (its private
// socket, no networking, no replica threads, a temporary server id) and
// runs the checks on it.
func checkCopy(ctx context.Context, sc *scratch.Scratch, real *conf.Config, rec restore.Recorded) []Check {
	srv, err := sc.Start(ctx)
	if err != nil {
		return []Check{{Name: "start", Status: "failed", Detail: err.Error()}}
	}
	defer srv.Stop()
	checks := []Check{startCheck(sc.ErrorLog())}
	db, err := srv.Open()
	if err != nil {
		return append(checks, Check{Name: "check-table", Status: "failed", Detail: err.Error()})
	}
	defer db.Close()
	// The GTID position first: opening some tables binlogs (a MEMORY
	// table's implicit DELETE on its first open after a start).
	checks = append(checks, gtidCheck(ctx, db, rec))
	checks = append(checks, checkTables(ctx, db), listedTables(ctx, db, rec), sqlTest(ctx, db, real, rec))
	return checks
}

// startCheck reads the server's error log of its start: an [ERROR] line
// (InnoDB recovery, a table that does not open) fails it.
func startCheck(errLog string) Check {
	data, err := os.ReadFile(errLog)
	if err != nil {
		return Check{Name: "start", Status: "failed", Detail: err.Error()}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if line := sc.Text(); strings.Contains(line, "[ERROR]") {
			return Check{Name: "start", Status: "failed", Detail: "the server logged: " + strings.TrimSpace(line)}
		}
	}
	return Check{Name: "start", Status: "ok"}
}

// table is a schema and a table name.
type table struct{ schema, name string }

func (t table) String() string { return t.schema + "." + t.name }

// quoted is the table's name for SQL.
func (t table) quoted() string {
	q := func(x string) string { return "`" + strings.ReplaceAll(x, "`", "``") + "`" }
	return q(t.schema) + "." + q(t.name)
}

// userTables lists the copy's tables (base, system-versioned, sequences)
// outside the system schemas.
func userTables(ctx context.Context, db *sql.DB) ([]table, error) {
	rows, err := db.QueryContext(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED', 'SEQUENCE') AND TABLE_SCHEMA NOT IN ('"+strings.Join(systemSchemas, "', '")+"') ORDER BY 1, 2")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []table
	for rows.Next() {
		var t table
		if err := rows.Scan(&t.schema, &t.name); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// checkTables runs CHECK TABLE on every user table and names those that
// fail.
func checkTables(ctx context.Context, db *sql.DB) Check {
	tables, err := userTables(ctx, db)
	if err != nil {
		return Check{Name: "check-table", Status: "failed", Detail: err.Error()}
	}
	var bad, unchecked []string
	for _, t := range tables {
		rows, err := db.QueryContext(ctx, "CHECK TABLE "+t.quoted())
		if err != nil {
			bad = append(bad, t.String()+" ("+err.Error()+")")
			continue
		}
		var problems []string
		status, note := "", ""
		for rows.Next() {
			var table, op, typ, text sql.NullString
			if err := rows.Scan(&table, &op, &typ, &text); err != nil {
				problems = append(problems, err.Error())
				break
			}
			switch strings.ToLower(typ.String) {
			case "error":
				problems = append(problems, text.String)
			case "status":
				status = text.String
			case "note":
				note = text.String
			}
		}
		rows.Close()
		switch {
		case len(problems) > 0:
			bad = append(bad, t.String()+" ("+strings.Join(problems, "; ")+")")
		case status == "" && note != "":
			unchecked = append(unchecked, t.String()) // MEMORY, BLACKHOLE…: "doesn't support check"
		case status != "OK":
			bad = append(bad, t.String()+" (status "+status+")")
		}
	}
	if len(bad) > 0 {
		return Check{Name: "check-table", Status: "failed", Detail: fmt.Sprintf("%d of %d tables fail CHECK TABLE: %s", len(bad), len(tables), strings.Join(bad, ", "))}
	}
	detail := fmt.Sprintf("%d tables", len(tables))
	if len(unchecked) > 0 {
		detail += fmt.Sprintf(", %d whose engine has no check (%s)", len(unchecked), strings.Join(unchecked, ", "))
	}
	return Check{Name: "check-table", Status: "ok", Detail: detail}
}

// listedTables checks every table the backup listed exists in the copy.
func listedTables(ctx context.Context, db *sql.DB, m restore.Recorded) Check {
	if len(m.Tables) == 0 && m.TableCount == 0 {
		return Check{Name: "tables", Status: "skipped", Detail: "the backup records no table list"}
	}
	have, err := userTables(ctx, db)
	if err != nil {
		return Check{Name: "tables", Status: "failed", Detail: err.Error()}
	}
	if len(m.Tables) == 0 { // too many to record: the count
		if len(have) < m.TableCount {
			return Check{Name: "tables", Status: "failed", Detail: fmt.Sprintf("%d tables, the backup counted %d", len(have), m.TableCount)}
		}
		return Check{Name: "tables", Status: "ok", Detail: fmt.Sprintf("%d tables, at least the %d counted", len(have), m.TableCount)}
	}
	set := map[string]bool{}
	for _, t := range have {
		set[t.String()] = true
	}
	var missing []string
	for _, t := range m.Tables {
		if !set[t] {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return Check{Name: "tables", Status: "failed", Detail: fmt.Sprintf("%d of the %d tables the backup listed are missing: %s", len(missing), len(m.Tables), strings.Join(missing, ", "))}
	}
	return Check{Name: "tables", Status: "ok", Detail: fmt.Sprintf("all %d listed", len(m.Tables))}
}

// gtidCheck compares the copy's GTID position with the one the backup
// recorded at its binlogs' end: the snapshot's and the delta replayed.
func gtidCheck(ctx context.Context, db *sql.DB, m restore.Recorded) Check {
	want := m.EndGTID
	if want == "" {
		return Check{Name: "gtid", Status: "skipped", Detail: "the backup records no GTID position at its end"}
	}
	var binlogPos, slavePos string
	if err := db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos, @@gtid_slave_pos").Scan(&binlogPos, &slavePos); err != nil {
		return Check{Name: "gtid", Status: "failed", Detail: err.Error()}
	}
	// Per domain the later of what the copy binlogged and what it had
	// applied as a replica (a replica without log_slave_updates binlogs
	// its own domain only).
	have, err := replication.ParseMariaDB(binlogPos + "," + slavePos)
	if err != nil {
		return Check{Name: "gtid", Status: "failed", Detail: err.Error()}
	}
	recorded, err := replication.ParseMariaDB(want)
	if err != nil {
		return Check{Name: "gtid", Status: "failed", Detail: "the recorded position: " + err.Error()}
	}
	var off []string
	for d, g := range recorded {
		if have[d].Seq != g.Seq {
			off = append(off, fmt.Sprintf("domain %d at %d, recorded %d", d, have[d].Seq, g.Seq))
		}
	}
	if len(off) > 0 {
		sort.Strings(off)
		return Check{Name: "gtid", Status: "failed", Detail: fmt.Sprintf("the copy (binlog %s, applied %s) is not at %s, which the backup recorded at its binlogs' end (the snapshot and the delta): %s",
			orNone(binlogPos), orNone(slavePos), want, strings.Join(off, "; "))}
	}
	return Check{Name: "gtid", Status: "ok", Detail: want}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// sqlTest runs sql_test_get_2 on the copy: it must return the value
// sql_test_insert wrote before the backup listed its binlogs.
func sqlTest(ctx context.Context, db *sql.DB, real *conf.Config, m restore.Recorded) Check {
	want := m.TestValue
	switch {
	case real.SQLTestGet2 == "" || real.SQLTestInsert == "":
		return Check{Name: "sql-test", Status: "skipped", Detail: "sql_test_insert and sql_test_get_2 not both set"}
	case want == "":
		return Check{Name: "sql-test", Status: "skipped", Detail: "the backup records no sql_test_insert value"}
	}
	rows, err := db.QueryContext(ctx, real.SQLTestGet2)
	if err != nil {
		return Check{Name: "sql-test", Status: "failed", Detail: "sql_test_get_2: " + err.Error()}
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return Check{Name: "sql-test", Status: "failed", Detail: err.Error()}
	}
	var v sql.NullString
	dest := []any{&v}
	for range cols[1:] {
		dest = append(dest, new(sql.RawBytes))
	}
	var got []string
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return Check{Name: "sql-test", Status: "failed", Detail: err.Error()}
		}
		if v.String == want {
			return Check{Name: "sql-test", Status: "ok", Detail: want}
		}
		got = append(got, v.String)
	}
	return Check{Name: "sql-test", Status: "failed", Detail: fmt.Sprintf("sql_test_get_2 returned %q, not %q (written by sql_test_insert before the backup's binlogs were listed)", got, want)}
}

// backupOf takes "from …" out of a restore's result line.
func backupOf(summary string) string {
	_, rest, ok := strings.Cut(summary, " from ")
	if !ok {
		return ""
	}
	if i := strings.Index(rest, " snapshot="); i > 0 {
		return "from " + rest[:i]
	}
	return ""
}
