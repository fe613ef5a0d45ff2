package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/mysqlbackup/mysqlbackup/internal/promfile"
	"github.com/mysqlbackup/mysqlbackup/replication"
)

// CheckSlaveCmd is `mysqlbackup check-slave`, the legacy monitoring probe
// check_mysql_slave.py for one instance.
type CheckSlaveCmd struct {
	instanceFlags
	Metric     string `arg:"" optional:"" help:"role (Master / Slaveof-<n>-master), slave_health (sum over channels: 0 ok, 1 IO down, 10 SQL down, 100 both) or slave_behind (sum of seconds behind)."`
	Prometheus string `name:"prometheus" placeholder:"FILE" help:"Also write every channel's state to FILE in the Prometheus text format (node_exporter textfile collector), atomically."`
}

// unknownLag is what a channel with a NULL Seconds_Behind_Master (a thread
// stopped or connecting) adds to slave_behind: a lag no threshold accepts,
// where the legacy probe crashed.
const unknownLag = 999999

// exitError ends the process with a given status after printing Out on
// stdout (the probe's -1 and exit 255 when the instance cannot be queried).
type exitError struct {
	code int
	out  string
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Run implements check-slave.
func (c *CheckSlaveCmd) Run(ctx context.Context, app *App) error {
	if c.Metric == "" && c.Prometheus == "" {
		return usageError{fmt.Errorf("give a metric (role, slave_health, slave_behind) or --prometheus FILE")}
	}
	sockets, err := c.sockets(app)
	if err != nil {
		return err
	}
	if len(sockets) != 1 {
		return usageError{fmt.Errorf("check-slave looks at one instance; got %d sockets", len(sockets))}
	}
	conns, err := c.conns(app, sockets)
	if err != nil {
		return err
	}
	st := collectOne(ctx, conns[0])
	if c.Prometheus != "" {
		if err := promfile.Write(c.Prometheus, replicaSamples(st)); err != nil {
			return err
		}
	}
	if !st.Up {
		return &exitError{code: 255, out: "-1", err: fmt.Errorf("cannot query %s: %s", st.Name, st.Error)}
	}
	if c.Metric != "" {
		fmt.Fprintln(app.Stdout, slaveMetric(c.Metric, st.Channels))
	}
	return nil
}

// slaveMetric computes one legacy metric; an unknown one is "-2".
func slaveMetric(metric string, chs []replication.ChannelStatus) string {
	switch metric {
	case "role":
		if len(chs) == 0 {
			return "Master"
		}
		return fmt.Sprintf("Slaveof-%d-master", len(chs))
	case "slave_health":
		sum := 0
		for _, c := range chs {
			sum += channelHealth(c)
		}
		return strconv.Itoa(sum)
	case "slave_behind":
		var sum int64
		for _, c := range chs {
			if c.SecondsBehind == nil {
				sum += unknownLag
			} else {
				sum += *c.SecondsBehind
			}
		}
		return strconv.FormatInt(sum, 10)
	}
	return "-2"
}

// channelHealth is the legacy score: 0 both threads run, 1 IO not, 10 SQL
// not, 100 neither.
func channelHealth(c replication.ChannelStatus) int {
	io, sql := c.IORunning == "Yes", c.SQLRunning == "Yes"
	switch {
	case io && sql:
		return 0
	case sql:
		return 1
	case io:
		return 10
	}
	return 100
}

// replicaSamples are the Prometheus series of an instance's replication.
func replicaSamples(st replication.InstanceStatus) []promfile.Sample {
	inst := promfile.Label{Name: "socket", Value: st.Name}
	up := 0.0
	if st.Up {
		up = 1
	}
	out := []promfile.Sample{
		{Name: "mysqlbackup_replica_up", Help: "1 if the instance answered the probe.", Labels: []promfile.Label{inst}, Value: up},
	}
	if !st.Up {
		return out
	}
	out = append(out, promfile.Sample{Name: "mysqlbackup_replica_channels", Help: "Replication channels configured.", Labels: []promfile.Label{inst}, Value: float64(len(st.Channels))})
	for _, c := range st.Channels {
		labels := []promfile.Label{inst, {Name: "channel", Value: channelName(c)}}
		behind := promfile.NaN
		if c.SecondsBehind != nil {
			behind = float64(*c.SecondsBehind)
		}
		out = append(out,
			promfile.Sample{Name: "mysqlbackup_replica_io_running", Help: "1 if the channel's IO thread runs.", Labels: labels, Value: boolValue(c.IORunning == "Yes")},
			promfile.Sample{Name: "mysqlbackup_replica_sql_running", Help: "1 if the channel's SQL thread runs.", Labels: labels, Value: boolValue(c.SQLRunning == "Yes")},
			promfile.Sample{Name: "mysqlbackup_replica_health", Help: "Legacy slave_health score of the channel: 0, 1, 10 or 100.", Labels: labels, Value: float64(channelHealth(c))},
			promfile.Sample{Name: "mysqlbackup_replica_seconds_behind", Help: "Seconds behind the source; NaN when the server says NULL.", Labels: labels, Value: behind},
		)
	}
	return out
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
