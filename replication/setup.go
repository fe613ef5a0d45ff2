package replication

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

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
