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
	checks = append(checks, checkTables(ctx, db), listedTables(ctx, db, rec), gtidCheck(ctx, db, rec), sqlTest(ctx, db, real, rec))
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

// userTables lists schema.table of the copy's base tables outside the
// system schemas.
func userTables(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ('"+strings.Join(systemSchemas, "', '")+"') ORDER BY 1, 2")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s, t string
		if err := rows.Scan(&s, &t); err != nil {
			return nil, err
		}
		out = append(out, s+"."+t)
	}
	return out, rows.Err()
}

// quoteName quotes schema.table for SQL.
func quoteName(t string) string {
	s, n, _ := strings.Cut(t, ".")
	q := func(x string) string { return "`" + strings.ReplaceAll(x, "`", "``") + "`" }
	return q(s) + "." + q(n)
}

// checkTables runs CHECK TABLE on every user table and names those that
// fail.
func checkTables(ctx context.Context, db *sql.DB) Check {
	tables, err := userTables(ctx, db)
	if err != nil {
		return Check{Name: "check-table", Status: "failed", Detail: err.Error()}
	}
	var bad []string
	for _, t := range tables {
		rows, err := db.QueryContext(ctx, "CHECK TABLE "+quoteName(t))
		if err != nil {
			bad = append(bad, t+" ("+err.Error()+")")
			continue
		}
		var problems []string
		status := ""
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
			}
		}
		rows.Close()
		if status != "OK" && len(problems) == 0 {
			problems = append(problems, "status "+status)
		}
		if len(problems) > 0 {
			bad = append(bad, t+" ("+strings.Join(problems, "; ")+")")
		}
	}
	if len(bad) > 0 {
		return Check{Name: "check-table", Status: "failed", Detail: fmt.Sprintf("%d of %d tables fail CHECK TABLE: %s", len(bad), len(tables), strings.Join(bad, ", "))}
	}
	return Check{Name: "check-table", Status: "ok", Detail: fmt.Sprintf("%d tables", len(tables))}
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
		set[t] = true
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
	var got string
	if err := db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&got); err != nil {
		return Check{Name: "gtid", Status: "failed", Detail: err.Error()}
	}
	if normalGTID(got) != normalGTID(want) {
		return Check{Name: "gtid", Status: "failed", Detail: fmt.Sprintf("the copy is at %s, the backup recorded %s at its binlogs' end (the snapshot and the delta)", orNone(got), want)}
	}
	return Check{Name: "gtid", Status: "ok", Detail: got}
}

// normalGTID sorts a GTID list's domains.
func normalGTID(s string) string {
	parts := strings.Split(strings.Join(strings.Fields(s), ""), ",")
	sort.Strings(parts)
	return strings.Join(parts, ",")
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
	var got []string
	for rows.Next() {
		var v sql.NullString
		cols, _ := rows.Columns()
		dest := make([]any, len(cols))
		dest[0] = &v
		for i := 1; i < len(cols); i++ {
			dest[i] = new(sql.RawBytes)
		}
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
