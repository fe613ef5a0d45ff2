package main

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/mysqlbackup/mysqlbackup/internal/promfile"
	"github.com/mysqlbackup/mysqlbackup/replication"
)

// CheckSlaveCmd is `mysqlbackup check-slave`, the legacy monitoring probe
// check_mysql_slave.py for one instance. The legacy command line
// `check-slave <port> <metric>` is what every Zabbix agent's config holds.
type CheckSlaveCmd struct {
	instanceFlags
	Port       string `arg:"" optional:"" help:"The instance's port, as the legacy probe took it (check-slave 3309 role): the socket /var/run/mysqld/mysqld-<port>.sock, or --conf-path's mysql_socket. Same as --port."`
	Metric     string `arg:"" optional:"" help:"role (Master / Slaveof-<n>-master), slave_health (sum over channels: 0 ok, 1 IO down, 10 SQL down, 100 both) or slave_behind (sum of seconds behind)."`
	Prometheus string `name:"prometheus" placeholder:"FILE" help:"Also write every channel's state to FILE in the Prometheus text format (node_exporter textfile collector), atomically."`
}

// AfterApply reads the positional arguments, `[<port>] <metric>`: a lone
// argument that is not a port is the metric, and the port becomes --port.
func (c *CheckSlaveCmd) AfterApply(cli *CLI) error {
	if c.Port == "" {
		return nil
	}
	if !isPort(c.Port) {
		if c.Metric != "" {
			return fmt.Errorf("check-slave: want [<port>] <metric>, got %q %q", c.Port, c.Metric)
		}
		c.Port, c.Metric = "", c.Port
		return nil
	}
	switch {
	case len(c.Socket) > 0:
		return fmt.Errorf("check-slave: give the port %s or --socket, not both", c.Port)
	case cli.Port != nil && *cli.Port != c.Port:
		return fmt.Errorf("check-slave: two ports, %s and --port %s", c.Port, *cli.Port)
	}
	cli.Port = &c.Port
	return nil
}

// isPort says whether s is a TCP port number.
func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n < 65536 && strconv.Itoa(n) == s
}

// quietWithoutVerbose marks check-slave as a probe: a Zabbix item sees
// exactly the legacy output, the value on stdout and nothing on stderr
// (no log, no error line for a failure) unless -v.
func (*CheckSlaveCmd) quietWithoutVerbose() {}

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
	st := collectWith(ctx, conns[0], collectChannels)
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

// collectChannels is what the probe reads: the channels, with the
// privilege the legacy probe needed (SHOW SLAVE STATUS) and no other.
func collectChannels(ctx context.Context, db *sql.DB, name string) (replication.InstanceStatus, error) {
	st, _, err := replication.CollectChannels(ctx, db, name)
	return st, err
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
