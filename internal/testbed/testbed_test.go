package testbed

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"testing"
)

func TestTwoInstancesInMultiMasterReplicationConverge(t *testing.T) {
	a, b := StartMariaDB(t, 1), StartMariaDB(t, 2)
	Replicate(t, a, b)
	Replicate(t, b, a)

	a.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, origin INT, v VARCHAR(64))")
	WaitCaughtUp(t, b, a)
	for i := range 50 {
		a.Exec(fmt.Sprintf("INSERT INTO app.t VALUES (%d, 1, 'from a')", i))
		b.Exec(fmt.Sprintf("INSERT INTO app.t VALUES (%d, 2, 'from b')", 1000+i))
	}
	WaitCaughtUp(t, a, b)
	WaitCaughtUp(t, b, a)

	if n := a.Query("SELECT COUNT(*) FROM app.t"); n != "100" {
		t.Errorf("instance 1 has %s rows, want 100", n)
	}
	if ca, cb := a.Checksum("app.t"), b.Checksum("app.t"); ca != cb || ca == "" {
		t.Errorf("checksums differ: instance 1 %q, instance 2 %q", ca, cb)
	}
	// Each instance writes its own domain: 1-1-N on a, 2-2-M on b.
	if pos := a.Query("SELECT @@gtid_binlog_pos"); !gtidPosCovers(pos, "1-1-51,2-2-50") {
		t.Errorf("instance 1 gtid_binlog_pos %q, want domains 1 and 2 fully", pos)
	}
	for _, in := range []*Instance{a, b} {
		if got := in.Query("SELECT COUNT(*) FROM information_schema.processlist WHERE command LIKE 'Slave%'"); got != "2" {
			t.Errorf("instance %d runs %s replica threads, want 2 (IO and SQL of one channel)", in.ID, got)
		}
	}
}

func TestInstanceStopsAndRestartsOnItsDatadir(t *testing.T) {
	a := StartMariaDB(t, 7)
	a.Exec("CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY)", "INSERT INTO d.t VALUES (1)")
	a.Kill()
	if a.Running() {
		t.Fatal("still running after Kill")
	}
	if _, err := os.Stat(a.Socket); err == nil {
		// A killed server leaves its socket file; the next start replaces it.
		t.Log("stale socket left by SIGKILL, as expected")
	}
	a.Start()
	if n := a.Query("SELECT COUNT(*) FROM d.t"); n != "1" {
		t.Errorf("after restart %s rows, want 1", n)
	}
}

func TestObjectRoundTripsThroughMinIO(t *testing.T) {
	m := StartMinIO(t)
	st := m.Store()
	data := bytes.Repeat([]byte("mysqlbackup "), 1<<20) // 12 MiB: multipart at 5 MiB parts
	if err := st.Put(t.Context(), "2020_01_02/3309/x", bytes.NewReader(data), map[string]string{"sha1": "abc"}); err != nil {
		t.Fatal(err)
	}
	info, err := st.Head(t.Context(), "2020_01_02/3309/x")
	if err != nil || info.Size != int64(len(data)) || info.Metadata["sha1"] != "abc" {
		t.Fatalf("head: %+v, %v", info, err)
	}
	r, err := st.Get(t.Context(), "2020_01_02/3309/x", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (%v), want the %d bytes put", len(got), err, len(data))
	}
}
