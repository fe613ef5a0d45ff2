package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/internal/lock"
)

// lockPort takes the port's lock, {backup_base}/mysql-{port}.lock, creating
// backup_base on a fresh host: backup, restore, catchup_binlog and a
// setup_replication that starts a temporary mysqld never overlap.
func lockPort(cfg *conf.Config) (*lock.Lock, error) {
	if err := os.MkdirAll(cfg.BackupBase, 0o750); err != nil {
		return nil, fmt.Errorf("backup_base: %w", err)
	}
	return lock.Acquire(filepath.Join(cfg.BackupBase, "mysql-"+string(cfg.Port)+".lock"))
}
