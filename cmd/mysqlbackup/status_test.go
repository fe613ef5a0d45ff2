package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/replication"
)

var update = flag.Bool("update", false, "rewrite golden files")

func i64(v int64) *int64 { return &v }

// goldenStatuses cover every case the renderer draws: a healthy replica
// with two channels (one of them MySQL-shaped), a broken and a stopped
// channel, a primary, and an instance that is down.
func goldenStatuses() []replication.InstanceStatus {
	return []replication.InstanceStatus{
		{Name: "/var/run/mysqld/mysqld-3309.sock", Up: true, Version: "10.11.19-MariaDB-log", ServerID: 1,
			Binlog: replication.BinlogPosition{File: "mysql-bin.000003", Position: 1234, GTID: "1-1-100,2-2-50"},
			Channels: []replication.ChannelStatus{
				{Name: "master-2", IOState: "Waiting for master to send event", SourceHost: "10.0.0.2", SourcePort: "3309", SourceServerID: "2",
					IORunning: "Yes", SQLRunning: "Yes", SecondsBehind: i64(0), SQLState: "Slave has read all relay log; waiting for more updates", RetrievedGTID: "1-1-100,2-2-50"},
				{Name: "master-3", IOState: "Waiting to reconnect after a failed registration on master", SourceHost: "10.0.0.3", SourcePort: "3309", SourceServerID: "0",
					IORunning: "Connecting", SQLRunning: "Yes", LastIOError: "Master command COM_REGISTER_SLAVE failed: Access denied for user 'repl'@'10.0.0.1' (using password: YES) (Errno: 1045)"},
			},
			Processlist: []replication.Process{{ID: 5, User: "system user", Command: "Slave_IO", Time: 12, State: "Waiting for master to send event"}, {ID: 9, User: "root", Host: "localhost", Command: "Query", State: "starting", Info: "SELECT ID, USER FROM information_schema.PROCESSLIST"}}},
		{Name: "/var/run/mysqld/mysqld-3310.sock", Up: true, Version: "8.0.36", ServerID: 7, ServerUUID: "3e11fa47-71ca-11e1-9e33-c80aa9429562", ReadOnly: true,
			Binlog: replication.BinlogPosition{File: "binlog.000002", Position: 156, GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"},
			Channels: []replication.ChannelStatus{{Name: "master-4", SourceHost: "10.0.0.4", SourcePort: "3310", SourceServerID: "4", SourceUUID: "4e11fa47-71ca-11e1-9e33-c80aa9429562",
				IORunning: "No", SQLRunning: "No", RetrievedGTID: "4e11fa47-71ca-11e1-9e33-c80aa9429562:1-3", ExecutedGTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,4e11fa47-71ca-11e1-9e33-c80aa9429562:1-3"}}},
		{Name: "/var/run/mysqld/mysqld-3311.sock", Up: true, Version: "10.11.19-MariaDB-log", ServerID: 3, Binlog: replication.BinlogPosition{File: "mysql-bin.000001", Position: 328, GTID: "3-3-9"}},
		{Name: "/var/run/mysqld/mysqld-3312.sock", Error: "dial unix /var/run/mysqld/mysqld-3312.sock: connect: no such file or directory"},
	}
}

func TestStatusTableMatchesGolden(t *testing.T) {
	var out bytes.Buffer
	(&statusRenderer{}).render(&out, goldenStatuses())
	golden := filepath.Join("testdata", "status.golden")
	if *update {
		os.WriteFile(golden, out.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("status table differs from %s (go test -run Golden -update to accept):\n%s", golden, out.String())
	}
	if !strings.Contains(out.String(), "(Errno: 1045)") {
		t.Error("a value with ':' was cut, as the legacy script did")
	}
}

func TestBriefStatusHasOneLinePerChannel(t *testing.T) {
	var out bytes.Buffer
	renderBrief(&out, goldenStatuses())
	want := `/var/run/mysqld/mysqld-3309.sock: server_id=1 channels=2
  master-2 10.0.0.2:3309 IO=Yes SQL=Yes behind=0
  master-3 10.0.0.3:3309 IO=Connecting SQL=Yes behind=NULL
/var/run/mysqld/mysqld-3310.sock: server_id=7 channels=1
  master-4 10.0.0.4:3310 IO=No SQL=No behind=NULL
/var/run/mysqld/mysqld-3311.sock: server_id=3 channels=0
/var/run/mysqld/mysqld-3312.sock: DOWN: dial unix /var/run/mysqld/mysqld-3312.sock: connect: no such file or directory
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestWatchHighlightsOnlyChangedValues(t *testing.T) {
	r := &statusRenderer{highlight: true}
	sts := goldenStatuses()[:1]
	var first, second bytes.Buffer
	r.render(&first, sts)
	sts[0].Channels[0].SecondsBehind = i64(7)
	r.render(&second, sts)
	if strings.Contains(first.String(), "\x1b[7m") {
		t.Error("first frame highlighted something")
	}
	if !strings.Contains(second.String(), "\x1b[7m7\x1b[0m") || strings.Count(second.String(), "\x1b[7m") != 1 {
		t.Errorf("second frame should highlight just the new 7:\n%q", second.String())
	}
}

// topology starts: a primary (1), a primary (2), a healthy replica of both
// (3), and a replica (4) with a broken channel (wrong password) to 1 and a
// stopped channel to 2.
func topology(t *testing.T) (primary, healthy, broken *testbed.Instance) {
	a, b := testbed.StartMariaDB(t, 1), testbed.StartMariaDB(t, 2)
	c, d := testbed.StartMariaDB(t, 3), testbed.StartMariaDB(t, 4)
	testbed.Replicate(t, c, a, b)
	d.Exec(fmt.Sprintf("CHANGE MASTER 'master-1' TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='repl', MASTER_PASSWORD='wrong', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1", a.Port),
		"START SLAVE 'master-1'",
		fmt.Sprintf("CHANGE MASTER 'master-2' TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='repl', MASTER_PASSWORD='x', MASTER_USE_GTID=slave_pos", b.Port))
	a.Exec("CREATE DATABASE x")
	testbed.WaitCaughtUp(t, c, a, b)
	waitIOError(t, d, "master-1")
	return a, c, d
}

// waitIOError waits, up to 20 s, until the channel reports its IO error.
func waitIOError(t *testing.T, in *testbed.Instance, channel string) {
	t.Helper()
	for range 400 {
		for _, c := range collectOne(t.Context(), adminConnOf(in)).Channels {
			if c.Name == channel && c.LastIOError != "" {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("channel %s never reported an IO error", channel)
}

func pwFileFor(t *testing.T, in *testbed.Instance) string {
	p := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(p, []byte(in.RootPassword+"\n"), 0o600)
	return p
}

func TestStatusAndCheckSlaveOnRealInstances(t *testing.T) {
	primary, healthy, broken := topology(t)
	down := filepath.Join(t.TempDir(), "down.sock")
	probe := func(in *testbed.Instance, metric string) result {
		return runCLI(t, "check-slave", metric, "--socket", in.Socket, "--password-file", pwFileFor(t, in))
	}
	for _, c := range []struct {
		in                   *testbed.Instance
		role, health, behind string
	}{
		{primary, "Master", "0", "0"},
		{healthy, "Slaveof-2-master", "0", "0"},
		{broken, "Slaveof-2-master", "101", "1999998"}, // IO down (1) + both down (100); two NULL lags
	} {
		for metric, want := range map[string]string{"role": c.role, "slave_health": c.health, "slave_behind": c.behind} {
			if r := probe(c.in, metric); r.code != 0 || strings.TrimSpace(r.stdout) != want {
				t.Errorf("instance %d %s: exit %d, %q; want %q", c.in.ID, metric, r.code, r.stdout, want)
			}
		}
	}
	if r := probe(primary, "no_such_metric"); r.code != 0 || strings.TrimSpace(r.stdout) != "-2" {
		t.Errorf("unknown metric: exit %d %q, want -2 and exit 0", r.code, r.stdout)
	}
	if r := runCLI(t, "check-slave", "role", "--socket", down); r.code != 255 || strings.TrimSpace(r.stdout) != "-1" {
		t.Errorf("down instance: exit %d %q, want -1 and exit 255", r.code, r.stdout)
	}

	// --json over all of them, one down.
	args := []string{"status", "--json", "--password-file", pwFileFor(t, broken), "--socket", broken.Socket, "--socket", down}
	r := runCLI(t, args...)
	var doc struct {
		Instances []replication.InstanceStatus `json:"instances"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("--json output is not one JSON object: %v\n%s", err, r.stdout)
	}
	if r.code != 1 || len(doc.Instances) != 2 || !doc.Instances[0].Up || doc.Instances[1].Up {
		t.Fatalf("exit %d, instances %+v; want exit 1 (one down), the first up", r.code, doc.Instances)
	}
	chs := doc.Instances[0].Channels
	if len(chs) != 2 || !strings.Contains(chs[0].LastIOError, "Access denied for user 'repl'") || chs[1].IORunning != "No" || chs[1].SecondsBehind != nil {
		t.Errorf("channels of the broken replica: %+v", chs)
	}
	if len(doc.Instances[0].Processlist) == 0 || doc.Instances[0].Binlog.File == "" {
		t.Errorf("process list or binlog missing: %+v", doc.Instances[0])
	}

	// The table view of a healthy replica shows both channels side by side.
	r = runCLI(t, "status", "--socket", healthy.Socket, "--password-file", pwFileFor(t, healthy))
	if r.code != 0 || !strings.Contains(r.stdout, "master-1") || !strings.Contains(r.stdout, "master-2") || !strings.Contains(r.stdout, "Waiting for master to send event") {
		t.Errorf("exit %d, table:\n%s", r.code, r.stdout)
	}
}

func TestCheckSlaveWritesPrometheusTextfile(t *testing.T) {
	_, _, broken := topology(t)
	out := filepath.Join(t.TempDir(), "replica.prom")
	if r := runCLI(t, "check-slave", "--prometheus", out, "--socket", broken.Socket, "--password-file", pwFileFor(t, broken)); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got, _ := os.ReadFile(out)
	sock := broken.Socket
	for _, want := range []string{
		fmt.Sprintf(`mysqlbackup_replica_up{socket=%q} 1`, sock),
		fmt.Sprintf(`mysqlbackup_replica_channels{socket=%q} 2`, sock),
		fmt.Sprintf(`mysqlbackup_replica_health{socket=%q,channel="master-1"} 1`, sock),
		fmt.Sprintf(`mysqlbackup_replica_health{socket=%q,channel="master-2"} 100`, sock),
		fmt.Sprintf(`mysqlbackup_replica_seconds_behind{socket=%q,channel="master-2"} NaN`, sock),
		"# TYPE mysqlbackup_replica_io_running gauge",
	} {
		if !strings.Contains(string(got), want+"\n") {
			t.Errorf("textfile lacks %q:\n%s", want, got)
		}
	}
}
