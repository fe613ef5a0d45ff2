package replication

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// Goal is where one channel must get: its source's position taken once,
// at the start of the catch-up, so the goal does not move.
type Goal struct {
	Channel string
	Pos     string
}

// Progress is one channel's state during the wait.
type Progress struct {
	Channel       string
	State         string // the IO thread's state
	SecondsBehind *int64
	Behind        uint64 // transactions of the goal not applied yet
}

// ErrTimeout is returned (wrapped) when the deadline passes first.
var ErrTimeout = errors.New("catch-up did not finish in time")

// WaitOptions control Wait.
type WaitOptions struct {
	Deadline time.Time
	// Report receives every channel's progress about every ReportEvery.
	Report      func([]Progress)
	ReportEvery time.Duration
}

// Wait returns when every goal's channel has executed its goal and is less
// than a second behind. It fails at once when a channel reports an IO or
// SQL error (naming the channel and giving the server's text) or stops,
// and with ErrTimeout at the deadline. It waits with MASTER_GTID_WAIT /
// WAIT_FOR_EXECUTED_GTID_SET, one second at a time, not fixed sleeps.
func Wait(ctx context.Context, db Execer, s mysqld.Version, goals []Goal, o WaitOptions) error {
	var lastReport time.Time
	for {
		progress, err := check(ctx, db, s, goals)
		if err != nil {
			return err
		}
		if o.Report != nil && time.Since(lastReport) >= o.ReportEvery {
			o.Report(progress)
			lastReport = time.Now()
		}
		pending := pendingGoal(progress, goals)
		if pending == nil {
			return nil
		}
		left := time.Until(o.Deadline)
		if left <= 0 {
			return fmt.Errorf("%w: %s", ErrTimeout, summary(progress))
		}
		if err := waitSlice(ctx, db, s, pending.Pos, min(left, time.Second)); err != nil {
			return err
		}
	}
}

// check reads every channel and fails on a broken one.
func check(ctx context.Context, db Execer, s mysqld.Version, goals []Goal) ([]Progress, error) {
	statuses, err := ReadStatus(ctx, db, s)
	if err != nil {
		return nil, err
	}
	var have sql.NullString
	if err := db.QueryRowContext(ctx, PositionQuery(s.Flavor)).Scan(&have); err != nil {
		return nil, fmt.Errorf("replica position: %w", err)
	}
	out := make([]Progress, len(goals))
	for i, g := range goals {
		st, ok := findChannel(statuses, g.Channel)
		if !ok {
			return nil, fmt.Errorf("channel %s does not exist", g.Channel)
		}
		if err := channelError(st); err != nil {
			return nil, err
		}
		behind, err := Behind(s.Flavor, have.String, g.Pos)
		if err != nil {
			return nil, err
		}
		out[i] = Progress{Channel: g.Channel, State: st.IOState, SecondsBehind: st.SecondsBehind, Behind: behind}
	}
	return out, nil
}

func findChannel(sts []ChannelStatus, name string) (ChannelStatus, bool) {
	for _, st := range sts {
		if st.Name == name {
			return st, true
		}
	}
	return ChannelStatus{}, false
}

// channelError fails a channel with an error or a stopped thread.
func channelError(st ChannelStatus) error {
	switch {
	case st.LastIOError != "":
		return fmt.Errorf("channel %s: IO error: %s", st.Name, st.LastIOError)
	case st.LastSQLError != "":
		return fmt.Errorf("channel %s: SQL error: %s", st.Name, st.LastSQLError)
	case st.SQLRunning != "Yes":
		return fmt.Errorf("channel %s: SQL thread is not running (%s)", st.Name, st.SQLRunning)
	case st.IORunning == "No":
		return fmt.Errorf("channel %s: IO thread is not running", st.Name)
	}
	return nil
}

// pendingGoal is the first goal not yet done: executed, and less than a
// second behind its source.
func pendingGoal(p []Progress, goals []Goal) *Goal {
	for i := range p {
		if p[i].Behind > 0 || p[i].SecondsBehind == nil || *p[i].SecondsBehind >= 1 {
			return &goals[i]
		}
	}
	return nil
}

// waitSlice blocks until the goal is reached or d passes.
func waitSlice(ctx context.Context, db Execer, s mysqld.Version, goal string, d time.Duration) error {
	start := time.Now()
	var res sql.NullInt64
	if err := db.QueryRowContext(ctx, WaitQuery(s.Flavor, d.Seconds()), goal).Scan(&res); err != nil {
		return fmt.Errorf("wait for %s: %w", goal, err)
	}
	// Reached already, but a channel is still behind in seconds: do not spin.
	if rest := 100*time.Millisecond - time.Since(start); rest > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(rest):
		}
	}
	return nil
}

func summary(p []Progress) string {
	parts := make([]string, len(p))
	for i, c := range p {
		behind := "NULL"
		if c.SecondsBehind != nil {
			behind = fmt.Sprintf("%ds", *c.SecondsBehind)
		}
		parts[i] = fmt.Sprintf("%s %d transactions to apply, %s behind (%s)", c.Channel, c.Behind, behind, c.State)
	}
	return strings.Join(parts, "; ")
}
