package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/internal/lock"
)

// BinlogArchiveCmd is `mysqlbackup binlog-archive`.
type BinlogArchiveCmd struct {
	Once bool `name:"once" help:"Archive what the server has written so far, then exit (cron, tests); without it, run until stopped."`
}

// Run implements binlog-archive (see package binlogarchive): one archiver
// per port, beside backups and restores.
func (c *BinlogArchiveCmd) Run(ctx context.Context, app *App) error {
	cfg := app.Cfg
	if cfg.S3Bucket == "" {
		return &conf.Error{File: cfg.Path, Key: "s3_bucket", Msg: "binlog-archive stores in the object store; none is configured"}
	}
	keys, err := app.inst().SealingKeys()
	if err != nil {
		return err
	}
	st, err := app.inst().Store()
	if err != nil {
		return err
	}
	id, _ := cfg.BinlogArchiveServerID.Uint()
	if err := os.MkdirAll(cfg.BackupBase, 0o750); err != nil {
		return fmt.Errorf("backup_base: %w", err)
	}
	lk, err := lock.Acquire(filepath.Join(cfg.BackupBase, "mysql-"+string(cfg.Port)+".binlog-archive.lock"))
	if err != nil {
		return err
	}
	defer lk.Release()
	res, err := binlogarchive.Run(ctx, binlogarchive.Options{
		Store: st, Keys: keys, Port: string(cfg.Port), Conn: app.inst().Admin(),
		ServerID: uint32(id), Interval: cfg.BinlogArchiveEvery(), Once: c.Once, Log: app.Log,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(app.Stdout, "binlog-archive ok: s3 %s segments=%d bytes=%d position=%s\n",
		binlogarchive.Prefix(string(cfg.Port)), res.Segments, res.Bytes, res.Position)
	return nil
}
