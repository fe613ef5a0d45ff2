package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"

	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/replication"
)

// channelRow is one line of the per-channel table: the fields of the
// legacy watch-slave.sh, channels side by side.
type channelRow struct {
	label string
	value func(replication.ChannelStatus) string
}

var channelRows = []channelRow{
	{"IO state", func(c replication.ChannelStatus) string { return c.IOState }},
	{"Source", func(c replication.ChannelStatus) string { return c.SourceHost + ":" + c.SourcePort }},
	{"Source server id", func(c replication.ChannelStatus) string { return c.SourceServerID }},
	{"Source UUID", func(c replication.ChannelStatus) string { return c.SourceUUID }},
	{"IO running", func(c replication.ChannelStatus) string { return c.IORunning }},
	{"SQL running", func(c replication.ChannelStatus) string { return c.SQLRunning }},
	{"Seconds behind", func(c replication.ChannelStatus) string { return secondsText(c.SecondsBehind) }},
	{"Last IO error", func(c replication.ChannelStatus) string { return c.LastIOError }},
	{"Last SQL error", func(c replication.ChannelStatus) string { return c.LastSQLError }},
	{"SQL state", func(c replication.ChannelStatus) string { return c.SQLState }},
	{"Retrieved GTID", func(c replication.ChannelStatus) string { return c.RetrievedGTID }},
	{"Executed GTID", func(c replication.ChannelStatus) string { return c.ExecutedGTID }},
}

func secondsText(s *int64) string {
	if s == nil {
		return "NULL"
	}
	return strconv.FormatInt(*s, 10)
}

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}

// statusRenderer draws instance statuses as text. With highlight, a value
// that differs from the previous frame is shown in reverse video (the
// `watch -d` of the legacy script).
type statusRenderer struct {
	highlight bool
	prev      map[string]string
	cur       map[string]string
}

func (r *statusRenderer) cell(key, v string) string {
	r.cur[key] = v
	if r.highlight && r.prev != nil {
		if old, ok := r.prev[key]; ok && old != v && v != "" {
			return text.Colors{text.ReverseVideo}.Sprint(v)
		}
	}
	return v
}

// render writes one frame.
func (r *statusRenderer) render(w io.Writer, sts []replication.InstanceStatus) {
	r.cur = map[string]string{}
	for i, st := range sts {
		if i > 0 {
			fmt.Fprintln(w)
		}
		r.instance(w, st)
	}
	r.prev = r.cur
}

func (r *statusRenderer) instance(w io.Writer, st replication.InstanceStatus) {
	if st.CatchupPending != "" {
		fmt.Fprintf(w, "!! %s  CATCH-UP PENDING: %s\n", st.Name, st.CatchupPending)
	}
	if !st.Up {
		fmt.Fprintf(w, "== %s  DOWN: %s\n", st.Name, st.Error)
		return
	}
	k := st.Name + "|"
	id := "server_id=" + r.cell(k+"id", strconv.FormatUint(st.ServerID, 10))
	if st.ServerUUID != "" {
		id += " server_uuid=" + r.cell(k+"uuid", st.ServerUUID)
	}
	fmt.Fprintf(w, "== %s  %s  %s  read_only=%s\n", st.Name, st.Version, id, r.cell(k+"ro", onOff(st.ReadOnly)))
	fmt.Fprintf(w, "binlog %s  gtid %s\n",
		r.cell(k+"binlog", fmt.Sprintf("%s:%d", st.Binlog.File, st.Binlog.Position)), r.cell(k+"gtid", st.Binlog.GTID))
	if len(st.Channels) == 0 {
		fmt.Fprintln(w, "no replication channels")
	} else {
		r.channels(w, k, st.Channels)
	}
	r.processlist(w, st.Processlist)
}

// newTable is a table in the style of every status view: light lines,
// headers as given (channel names keep their case).
func newTable(w io.Writer) table.Writer {
	t := table.NewWriter()
	t.SetOutputMirror(w)
	style := table.StyleLight
	style.Format.Header = text.FormatDefault
	t.SetStyle(style)
	return t
}

// wrap is a column at most width wide, long values wrapped between words.
func wrap(n, width int) table.ColumnConfig {
	return table.ColumnConfig{Number: n, WidthMax: width, WidthMaxEnforcer: text.WrapSoft}
}

func (r *statusRenderer) channels(w io.Writer, k string, chs []replication.ChannelStatus) {
	t := newTable(w)
	header := table.Row{"Channel"}
	for _, c := range chs {
		header = append(header, channelName(c))
	}
	t.AppendHeader(header)
	for _, row := range channelRows {
		line, empty := table.Row{row.label}, true
		for _, c := range chs {
			v := row.value(c)
			empty = empty && v == ""
			line = append(line, r.cell(k+channelName(c)+"|"+row.label, v))
		}
		if !empty || row.label == "Last IO error" || row.label == "Last SQL error" {
			t.AppendRow(line)
		}
	}
	cfgs := []table.ColumnConfig{wrap(1, 16)}
	for i := range chs {
		cfgs = append(cfgs, wrap(i+2, 48))
	}
	t.SetColumnConfigs(cfgs)
	t.Render()
}

// channelName shows MariaDB's default (unnamed) connection legibly.
func channelName(c replication.ChannelStatus) string {
	if c.Name == "" {
		return "(default)"
	}
	return c.Name
}

func (r *statusRenderer) processlist(w io.Writer, ps []replication.Process) {
	if len(ps) == 0 {
		return
	}
	t := newTable(w)
	t.AppendHeader(table.Row{"Id", "User", "Host", "db", "Command", "Time", "State", "Info"})
	for _, p := range ps {
		t.AppendRow(table.Row{p.ID, p.User, p.Host, p.DB, p.Command, p.Time, p.State, strings.Join(strings.Fields(p.Info), " ")})
	}
	t.SetColumnConfigs([]table.ColumnConfig{wrap(7, 40), wrap(8, 60)})
	t.Render()
}

// renderBrief writes one line per instance and one per channel.
func renderBrief(w io.Writer, sts []replication.InstanceStatus) {
	for _, st := range sts {
		if st.CatchupPending != "" {
			fmt.Fprintf(w, "%s: CATCH-UP PENDING: %s\n", st.Name, st.CatchupPending)
		}
		if !st.Up {
			fmt.Fprintf(w, "%s: DOWN: %s\n", st.Name, st.Error)
			continue
		}
		fmt.Fprintf(w, "%s: server_id=%d channels=%d\n", st.Name, st.ServerID, len(st.Channels))
		for _, c := range st.Channels {
			fmt.Fprintf(w, "  %s %s:%s IO=%s SQL=%s behind=%s\n", channelName(c), c.SourceHost, c.SourcePort, c.IORunning, c.SQLRunning, secondsText(c.SecondsBehind))
		}
	}
}

// renderArchiver writes the binlog archiver's line(s), if one has run on
// this host for the port.
func renderArchiver(w io.Writer, s *binlogarchive.Status) {
	if s == nil {
		return
	}
	state := "NOT RUNNING"
	if s.Running {
		state = fmt.Sprintf("running (pid %d)", s.PID)
	}
	fmt.Fprintf(w, "binlog archive: %s  at %s", state, orDash(s.Position))
	if !s.LastEvent.IsZero() {
		fmt.Fprintf(w, "  last event %s (%s ago)", s.LastEvent.Local().Format(time.DateTime), time.Since(s.LastEvent).Round(time.Second))
	}
	fmt.Fprintf(w, "  lag %.1fs  today %d objects %s  errors %d\n", s.LagSeconds, s.ObjectsToday, humanBytes(s.BytesToday), s.Errors)
	if len(s.GTIDs) > 0 {
		keys := make([]string, 0, len(s.GTIDs))
		for k := range s.GTIDs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var last []string
		for _, k := range keys {
			last = append(last, s.GTIDs[k])
		}
		fmt.Fprintf(w, "  last archived gtid %s\n", strings.Join(last, ","))
	}
	switch {
	case s.SemiSync == "on":
		fmt.Fprintln(w, "  semi-synchronous: the server waits for the archive's acknowledgements")
	case s.SemiSync != "":
		fmt.Fprintf(w, "  !! semi-synchronous archiving not in effect: %s\n", s.SemiSync)
	}
	if rw := s.Recoverable; rw != nil {
		fmt.Fprintf(w, "  recoverable (restore --until) from %s (backup %s) to %s\n", rw.From.Local().Format(time.DateTime), rw.Backup, rw.To.Local().Format(time.DateTime))
	}
	if !s.StoreFailingSince.IsZero() {
		fmt.Fprintf(w, "  !! the store fails since %s: the archiver waits, the server keeps its binlogs\n", s.StoreFailingSince.Local().Format(time.DateTime))
	}
	if s.LastError != "" {
		fmt.Fprintf(w, "  !! last run ended: %s\n", s.LastError)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// humanBytes is n in binary units, one decimal (1.5 MiB).
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[i])
}
