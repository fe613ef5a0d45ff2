package backup

import (
	"log/slog"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/s3/s3test"
)

func TestHeartbeatRewritesStartedJSONUntilStopped(t *testing.T) {
	defer func(d time.Duration) { HeartbeatInterval = d }(HeartbeatInterval)
	HeartbeatInterval = time.Millisecond
	const key = "2026_11_23/3306/mysql-3306.v2/r/started.json"
	writes := make(chan struct{}, 100)
	mem := &s3test.Mem{FailPut: func(string) error {
		select {
		case writes <- struct{}{}:
		default:
		}
		return nil
	}}
	s := catalog.Started{Run: "r", Host: "db1", PID: 7, Started: time.Now().UTC()}
	h := startHeartbeat(t.Context(), mem, key, s, slog.New(slog.DiscardHandler))
	for range 3 {
		<-writes
	}
	last := h.stop()
	var got catalog.Started
	if err := catalog.ReadJSON(t.Context(), mem, key, &got); err != nil {
		t.Fatal(err)
	}
	if got.Run != "r" || got.PID != 7 || !got.Heartbeat.After(s.Started) || last.Before(s.Started) {
		t.Errorf("after three beats: %+v, last %v; want the run's record with a later heartbeat", got, last)
	}
	if again := h.stop(); !again.Equal(last) {
		t.Errorf("a second stop says the last beat was %v, the first %v", again, last)
	}
}

func TestCommitRefusesARunWhoseHeartbeatAPruneMayHaveJudgedDead(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	if err := beatFresh(now.Add(-HeartbeatInterval), now); err != nil {
		t.Errorf("a heartbeat one interval old: %v", err)
	}
	if err := beatFresh(now.Add(-catalog.HeartbeatDeadAge/2-time.Minute), now); err == nil {
		t.Error("a heartbeat over half the dead age old was accepted")
	}
}
