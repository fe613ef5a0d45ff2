package binlogarchive

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
	"unsafe"

	gomysql "github.com/go-mysql-org/go-mysql/replication"
)

// Semi-synchronous archiving. go-mysql acknowledges an event the server
// asked about once its SynchronousEventHandler returned; ackHandler hands
// each event to the archiver's loop and, for an event the server asked
// to acknowledge, returns only when the loop made it durable in the
// store (with everything before it). The acknowledgement thus means "off
// the host": a commit returns only then, until the server gives up
// waiting (rpl_semi_sync_master_timeout) and goes on asynchronously. The
// server asks only for what a committing session waits on (with group
// commit, the group's last transaction), so one flush answers a group.

// delivery is one event for the loop; durable, when set, waits for the
// loop's flush.
type delivery struct {
	ev      *gomysql.BinlogEvent
	durable chan error
}

type ackHandler struct {
	events chan delivery
	ctx    context.Context    // ends with the stream
	stop   context.CancelFunc // ends it
}

// HandleEvent implements go-mysql's EventHandler.
func (h *ackHandler) HandleEvent(ev *gomysql.BinlogEvent) error {
	d := delivery{ev: ev}
	if askedToAck(ev) {
		d.durable = make(chan error, 1)
	}
	select {
	case h.events <- d:
	case <-h.ctx.Done():
		return errors.New("the archiver stopped")
	}
	if d.durable == nil {
		return nil
	}
	select {
	case err := <-d.durable:
		return err // not nil: no acknowledgement, the stream ends
	case <-h.ctx.Done():
		return errors.New("the archiver stopped")
	}
}

// askedToAck says whether the server asked to acknowledge the event.
// go-mysql v1.16.0 (pinned in go.mod) reads it from the packet's
// semi-sync header, [0x00 OK][0xef][flag] before the event, and keeps it
// to itself: the event's RawData is the packet's bytes from the event on,
// so the byte before it is the flag (1: asked), or the OK byte (0) on a
// connection the server does not treat as semi-synchronous.
func askedToAck(ev *gomysql.BinlogEvent) bool {
	if len(ev.RawData) == 0 {
		return false
	}
	return *(*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(ev.RawData)), -1)) == 1
}

// start is the loop's source of events: the handler's, or the stream's
// error (go-mysql reports it through the streamer).
func (h *ackHandler) start(streamer *gomysql.BinlogStreamer) func(context.Context) (*gomysql.BinlogEvent, chan<- error, error) {
	failed := make(chan error, 1)
	go func() {
		_, err := streamer.GetEvent(h.ctx) // no event comes this way: only the stream's end
		failed <- err
	}()
	var streamErr error
	return func(wait context.Context) (*gomysql.BinlogEvent, chan<- error, error) {
		if streamErr != nil {
			return nil, nil, streamErr
		}
		select {
		case d := <-h.events:
			return d.ev, d.durable, nil
		case err := <-failed:
			streamErr = err
			return nil, nil, err
		case <-wait.Done():
			return nil, nil, wait.Err()
		}
	}
}

// checkSemiSync reads, at most every few seconds (or now with force),
// whether the server waits for this archiver's acknowledgements, for the
// state; a change is logged.
func (a *archiver) checkSemiSync(ctx context.Context, force bool) {
	if !a.o.SemiSync || a.db == nil || (!force && time.Since(a.semiChecked) < 5*time.Second) {
		return
	}
	a.semiChecked = time.Now()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	state := semiSyncState(ctx, a.db)
	if state != a.semiSync {
		if state == "on" {
			a.o.Log.Info("semi-synchronous: the server waits for the archive's acknowledgements")
		} else {
			a.o.Log.Warn("semi-synchronous archiving is not in effect", "why", state)
		}
	}
	a.semiSync = state
}

// semiSyncState is "on" when the server's semi-synchronous source is
// enabled and active (it waits for acknowledgements), else why not.
func semiSyncState(ctx context.Context, db *sql.DB) string {
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('rpl_semi_sync_master_enabled', 'rpl_semi_sync_source_enabled')")
	if err != nil {
		return "unknown: " + err.Error()
	}
	enabled := scanOn(rows)
	if !enabled {
		return "off: the server's rpl_semi_sync_master_enabled is OFF"
	}
	rows, err = db.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ('Rpl_semi_sync_master_status', 'Rpl_semi_sync_source_status')")
	if err != nil {
		return "unknown: " + err.Error()
	}
	if !scanOn(rows) {
		return "off: the server fell back to asynchronous (no acknowledgement within rpl_semi_sync_master_timeout)"
	}
	var name string
	var clients int
	err = db.QueryRowContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ('Rpl_semi_sync_master_clients', 'Rpl_semi_sync_source_clients')").Scan(&name, &clients)
	if err == nil && clients == 0 {
		return "off: the archiver's connection is not semi-synchronous (the server's rpl_semi_sync_master_enabled was OFF when it connected): restart binlog-archive"
	}
	return "on"
}

// scanOn says whether any (name, value) row has the value ON.
func scanOn(rows *sql.Rows) bool {
	defer rows.Close()
	on := false
	for rows.Next() {
		var name, value string
		if rows.Scan(&name, &value) == nil && strings.EqualFold(value, "ON") {
			on = true
		}
	}
	return on
}
