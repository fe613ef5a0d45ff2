package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/promfile"
	"github.com/mysqlbackup/mysqlbackup/restoretest"
)

// RestoreTestCmd is `mysqlbackup restore-test`.
type RestoreTestCmd struct {
	fleetFlags
	JSON       bool   `name:"json" help:"The result as JSON."`
	Keep       bool   `name:"keep" help:"Leave the scratch datadir after success too (it is always left after a failure)."`
	ScratchDir string `name:"scratch-dir" placeholder:"DIR" help:"Where to restore (default {backup_base}/restore-test-{port}); never a path the instance owns."`
}

// Run implements restore-test (see package restoretest): one result
// line, or JSON; exit 1 naming the first failed check; the outcome in
// metrics_file.
func (c *RestoreTestCmd) Run(ctx context.Context, app *App) error {
	start := time.Now()
	res, err := restoretest.Run(ctx, app.inst(), restoretest.Options{ScratchDir: c.ScratchDir, Keep: c.Keep, Term: app.Term})
	recordRestoreTest(app, res, start, err)
	if res != nil && c.JSON {
		enc := json.NewEncoder(app.Stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(res); jerr != nil {
			return jerr
		}
	} else if res != nil && err == nil {
		fmt.Fprintf(app.Stdout, "restore-test ok: %s\n", res.Summary())
	} else if res != nil {
		fmt.Fprintf(app.Stdout, "restore-test FAILED: %s\n", res.Summary())
	}
	return err
}

// recordRestoreTest writes the outcome to metrics_file, keeping the last
// success time across failures.
func recordRestoreTest(app *App, res *restoretest.Result, start time.Time, runErr error) {
	path := app.Cfg.MetricsFile
	if path == "" || res == nil { // it did not start (another run holds the scratch, say)
		return
	}
	labels := []promfile.Label{{Name: "port", Value: string(app.Cfg.Port)}}
	now := float64(time.Now().UnixNano()) / 1e9
	samples := []promfile.Sample{
		{Name: "mysqlbackup_restore_test_ok", Help: "1 if the last restore-test passed every check.", Labels: labels, Value: boolValue(runErr == nil && res != nil && res.OK)},
		{Name: "mysqlbackup_restore_test_duration_seconds", Help: "How long the last restore-test took.", Labels: labels, Value: time.Since(start).Seconds()},
		{Name: "mysqlbackup_restore_test_last_run_timestamp_seconds", Help: "When the last restore-test ended.", Labels: labels, Value: now},
	}
	if runErr == nil && res != nil && res.OK {
		samples = append(samples, promfile.Sample{Name: "mysqlbackup_restore_test_last_success_timestamp_seconds", Help: "When the last restore-test that passed ended.", Labels: labels, Value: now})
	}
	if err := promfile.Merge(path, samples); err != nil {
		app.Log.Warn("metrics file not written", "path", path, "err", err)
	}
}
