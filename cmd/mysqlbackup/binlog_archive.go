package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/internal/lock"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/internal/promfile"
)

// archiverMemoryLimit is the archiver's soft memory limit (GOMEMLIMIT
// overrides it).
const archiverMemoryLimit = 40 << 20

// BinlogArchiveCmd is `mysqlbackup binlog-archive`.
type BinlogArchiveCmd struct {
	Once bool `name:"once" help:"Archive what the server has written so far, then exit (cron, tests); without it, run until stopped."`
}

// Run implements binlog-archive (see package binlogarchive): one archiver
// per port, beside backups and restores.
func (c *BinlogArchiveCmd) Run(ctx context.Context, app *App) error {
	cfg := app.Cfg
	if !cfg.HasStore() {
		return &conf.Error{File: cfg.Path, Key: "s3_bucket", Msg: "binlog-archive stores in the object store; none is configured (s3_bucket or backup_store_dir)"}
	}
	keys, err := app.inst().SealingKeys()
	if err != nil {
		return err
	}
	open, _ := app.inst().OpeningKeys() // none on a host without the secret key: no compaction
	st, err := app.inst().Store()
	if err != nil {
		return err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// A long-running process beside the server: the garbage collector
		// keeps its heap small (a soft limit: it never fails for it).
		debug.SetMemoryLimit(archiverMemoryLimit)
	}
	id, _ := cfg.BinlogArchiveServerID.Uint()
	if err := os.MkdirAll(cfg.BackupBase, 0o750); err != nil {
		return fmt.Errorf("backup_base: %w", err)
	}
	lk, err := lock.Acquire(binlogarchive.LockPath(cfg.BackupBase, string(cfg.Port)))
	if err != nil {
		return err
	}
	defer lk.Release()
	status := binlogarchive.OpenStatus(cfg.BackupBase, string(cfg.Port))
	metrics := archiverMetrics(app)
	res, err := binlogarchive.Run(ctx, binlogarchive.Options{
		Store: st, Keys: keys, OpenKeys: open, Port: string(cfg.Port), Conn: app.inst().Admin(),
		ServerID: uint32(id), Interval: cfg.BinlogArchiveEvery(), Once: c.Once, Log: app.Log,
		SemiSync: cfg.BinlogArchiveSemiSync,
		OnState: func(s binlogarchive.State) {
			metrics(s)
			if err := status.Update(s); err != nil {
				app.Log.Warn("binlog archive status not written", "err", err)
			}
		},
	})
	if serr := status.End(err); serr != nil {
		app.Log.Warn("binlog archive status not written", "err", serr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(app.Stdout, "binlog-archive ok: s3 %s segments=%d bytes=%d position=%s\n",
		res.Prefix, res.Segments, res.Bytes, res.Position)
	return nil
}

// archiverMetrics writes the archiver's state to metrics_file (nil when
// none is configured), and logs it every progress.Every off a terminal.
func archiverMetrics(app *App) func(binlogarchive.State) {
	path := app.Cfg.MetricsFile
	var logged time.Time
	return func(s binlogarchive.State) {
		if time.Since(logged) >= progress.Every {
			app.Log.Info("binlog archive", "position", s.Position, "last_event", s.LastEvent.Format(time.RFC3339), "lag", s.Lag.Round(time.Millisecond), "segments", s.Segments, "errors", s.Errors)
			logged = time.Now()
		}
		if path == "" {
			return
		}
		labels := []promfile.Label{{Name: "port", Value: string(app.Cfg.Port)}}
		now := float64(time.Now().UnixNano()) / 1e9
		var samples []promfile.Sample
		if !s.LastEvent.IsZero() {
			samples = append(samples, promfile.Sample{Name: "mysqlbackup_binlog_archive_last_event_timestamp_seconds", Help: "Timestamp of the last binlog event durable in the archive.", Labels: labels, Value: float64(s.LastEvent.Unix())})
		}
		samples = append(samples, []promfile.Sample{
			{Name: "mysqlbackup_binlog_archive_lag_seconds", Help: "How long the oldest event of the last flush waited, since it arrived, to be durable (the RPO of that flush).", Labels: labels, Value: s.Lag.Seconds()},
			{Name: "mysqlbackup_binlog_archive_errors_total", Help: "Store failures since the archiver started.", Labels: labels, Value: float64(s.Errors)},
			{Name: "mysqlbackup_binlog_archive_last_flush_timestamp_seconds", Help: "When the archiver last reported (every interval while it runs).", Labels: labels, Value: now},
		}...)
		if app.Cfg.BinlogArchiveSemiSync {
			on := 0.0
			if s.SemiSync == "on" {
				on = 1
			}
			samples = append(samples, promfile.Sample{Name: "mysqlbackup_binlog_archive_semisync", Help: "1 while the server waits for the archive's semi-synchronous acknowledgements (RPO 0), 0 when it went on asynchronously.", Labels: labels, Value: on})
		}
		if err := promfile.Merge(path, samples); err != nil {
			app.Log.Warn("metrics file not written", "path", path, "err", err)
		}
	}
}
