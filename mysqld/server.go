package mysqld

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// ServerVersion returns SELECT VERSION().
func ServerVersion(ctx context.Context, db *sql.DB) (string, error) {
	var v string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return "", fmt.Errorf("server version: %w", err)
	}
	return v, nil
}

// PurgeBinlogsOlderThan runs PURGE BINARY LOGS BEFORE midnight, days days
// ago, both dates in the server's own clock (the legacy tool mixed a UTC
// date with the server's local time).
func PurgeBinlogsOlderThan(ctx context.Context, db *sql.DB, days int) error {
	var before string
	q := "SELECT DATE_FORMAT(CURDATE() - INTERVAL ? DAY, '%Y-%m-%d 00:00:00')"
	if err := db.QueryRowContext(ctx, q, days).Scan(&before); err != nil {
		return fmt.Errorf("purge binary logs: %w", err)
	}
	if _, err := db.ExecContext(ctx, "PURGE BINARY LOGS BEFORE '"+before+"'"); err != nil {
		return fmt.Errorf("purge binary logs before %s: %w", before, err)
	}
	return nil
}

// InstanceID names the server for a backup's manifest: server_uuid on
// MySQL, "server_id:N" on MariaDB (which has no uuid), "" if unknown.
func InstanceID(ctx context.Context, db *sql.DB) string {
	var uuid string
	if err := db.QueryRowContext(ctx, "SELECT @@server_uuid").Scan(&uuid); err == nil && uuid != "" {
		return uuid
	}
	var id string
	if err := db.QueryRowContext(ctx, "SELECT @@server_id").Scan(&id); err == nil {
		return "server_id:" + id
	}
	return ""
}

// PurgeBinlogsTo removes the binlogs before file.
func PurgeBinlogsTo(ctx context.Context, db *sql.DB, file string) error {
	if strings.ContainsAny(file, `'"\`) {
		return fmt.Errorf("purge binary logs: unexpected name %q", file)
	}
	if _, err := db.ExecContext(ctx, "PURGE BINARY LOGS TO '"+file+"'"); err != nil {
		return fmt.Errorf("purge binary logs to %s: %w", file, err)
	}
	return nil
}
