package main

import (
	"strconv"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/internal/promfile"
)

// recordRun writes the outcome of a backup or restore to metrics_file
// (Prometheus textfile), keeping the last success time across failures,
// so that "no successful backup in 26 h" is one alert rule. A metrics file
// that cannot be written is a warning: the run's own result stands.
func recordRun(app *App, command string, ph *progress.Phases, start time.Time, archiveBytes int64, runErr error) {
	path := app.Cfg.MetricsFile
	if path == "" {
		return
	}
	base := []promfile.Label{{Name: "port", Value: string(app.Cfg.Port)}, {Name: "command", Value: command}}
	now := float64(time.Now().UnixNano()) / 1e9
	ok := boolValue(runErr == nil)
	samples := []promfile.Sample{
		{Name: "mysqlbackup_last_run_timestamp_seconds", Help: "When the last run ended.", Labels: base, Value: now},
		{Name: "mysqlbackup_last_run_success", Help: "1 if the last run succeeded.", Labels: base, Value: ok},
		{Name: "mysqlbackup_last_run_duration_seconds", Help: "How long the last run took.", Labels: base, Value: time.Since(start).Seconds()},
	}
	for _, st := range ph.Steps() {
		labels := append(append([]promfile.Label{}, base...), promfile.Label{Name: "phase", Value: st.Name})
		samples = append(samples, promfile.Sample{Name: "mysqlbackup_last_run_phase_seconds", Help: "Duration of each phase of the last run.", Labels: labels, Value: st.Took.Seconds()})
	}
	if runErr == nil {
		samples = append(samples,
			promfile.Sample{Name: "mysqlbackup_last_success_timestamp_seconds", Help: "When the last successful run ended.", Labels: base, Value: now},
			promfile.Sample{Name: "mysqlbackup_last_success_archive_bytes", Help: "Size of the archive of the last successful run.", Labels: base, Value: float64(archiveBytes)},
		)
	}
	if err := promfile.Merge(path, samples); err != nil {
		app.Log.Warn("metrics file not written", "path", path, "err", err, "run_ok", strconv.FormatBool(runErr == nil))
	}
}
