package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

func TestSetupReplicationRecreatesChannelsOnARunningInstance(t *testing.T) {
	a, b := pair(t)
	c := testbed.StartMariaDB(t, 3)
	testbed.Replicate(t, a, c) // an old channel master-3 that the config no longer lists
	conf := instanceConf(t, a, nil, replicationConf("", "", sourceEntry(b.Port, 2)))
	if r := runCLI(t, "--conf-path", conf, "setup_replication"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, lastLine(r.stderr))
	}
	got := a.Channels()
	if strings.Join(got, ",") != "master-2" {
		t.Errorf("channels %v, want only master-2", got)
	}
	b.Exec("INSERT INTO app.t VALUES (7, 'through the new channel')")
	testbed.WaitCaughtUp(t, a, b)
}

func TestSetupReplicationOnAStoppedInstanceLeavesItStopped(t *testing.T) {
	a, b := pair(t)
	a.Stop()
	conf := instanceConf(t, a, nil, replicationConf("", "", sourceEntry(b.Port, 2)))
	if r := runCLI(t, "--conf-path", conf, "setup_replication"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, lastLine(r.stderr))
	}
	assertStopped(t, a)
	b.Exec("INSERT INTO app.t VALUES (8, 'after setup')")
	a.Start()
	if got := a.Channels(); strings.Join(got, ",") != "master-2" {
		t.Errorf("channels after the normal start %v, want master-2", got)
	}
	a.Exec("START ALL SLAVES") // my.cnf has skip-slave-start, as in production
	testbed.WaitCaughtUp(t, a, b)
}

func TestSetupReplicationKeepsTheReplicationPasswordOutOfTheGeneralLog(t *testing.T) {
	a, b := pair(t)
	general := filepath.Join(t.TempDir(), "general.log")
	a.Exec("SET GLOBAL general_log_file = '"+general+"'", "SET GLOBAL general_log = 1")
	conf := instanceConf(t, a, nil, replicationConf("", "", sourceEntry(b.Port, 2)))
	if r := runCLI(t, "--conf-path", conf, "setup_replication"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, lastLine(r.stderr))
	}
	a.Exec("SET GLOBAL general_log = 0")
	log, err := os.ReadFile(general)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "general_log = 0") {
		t.Fatalf("the general log recorded nothing:\n%s", log)
	}
	if strings.Contains(string(log), testbed.ReplPassword) {
		t.Errorf("the replication password is in the general log:\n%s", log)
	}
}
