package binlogarchive

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/replication"
)

// Semi-synchronous archiving. go-mysql acknowledges an event the server
// asked about once its SynchronousEventHandler returned; ackHandler hands
// each event to the archiver's loop and, for an event that may end a
// transaction, returns only when the loop made it durable in the store.
// The acknowledgement thus means "off the host": a commit returns only
// then, until the server gives up waiting (rpl_semi_sync_master_timeout)
// and goes on asynchronously.

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
	if endsTransaction(ev) {
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

// Event types that may end a transaction, the ones a semi-synchronous
// source asks to acknowledge: the XID of a transactional commit, a query
// (COMMIT of a non-transactional one, or DDL), an XA prepare.
const (
	queryEvent     = 2
	xidEvent       = 16
	xaPrepareEvent = 38
)

func endsTransaction(ev *gomysql.BinlogEvent) bool {
	switch ev.Header.EventType {
	case xidEvent, xaPrepareEvent:
		return true
	case queryEvent:
		// Raw mode: the statement from the bytes (with their CRC-32 maybe,
		// which a prefix test ignores). Waiting on a query that does not
		// end a transaction costs a flush, never an early acknowledgement.
		q := strings.ToUpper(strings.TrimSpace(queryOf(ev.RawData, false)))
		return !strings.HasPrefix(q, "BEGIN")
	}
	return false
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
