package binlogarchive

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	gomysql "github.com/go-mysql-org/go-mysql/replication"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/binlogsync"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/replication"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// Options are what an archiver runs with.
type Options struct {
	Store s3.Store
	Keys  archive.V2Keys // sealing keys (encryption_recipients or the passphrase)
	// OpenKeys open what Keys sealed, to compact closed files; without
	// them (a backup host that holds no secret key) nothing is compacted.
	OpenKeys archive.V2Keys
	Port     string
	Conn     mysqld.Conn // the instance, over its socket
	ServerID uint32      // the archiver's own id as a replica
	// Interval bounds how long an archived event waits before it is
	// durable in the store (binlog_archive_interval).
	Interval time.Duration
	// Once archives up to the server's end at the start, then returns.
	Once bool
	// SemiSync registers the archiver as a semi-synchronous replica that
	// acknowledges a transaction only once it is durable in the store.
	SemiSync bool
	// StoreOutage is how long a run without Once keeps retrying a store
	// that fails before it gives up (default 10 minutes). The stream waits
	// meanwhile: memory stays bounded, the server keeps its binlogs.
	StoreOutage time.Duration
	// OnState, when set, is told the archiver's state after every flush
	// and every idle interval (metrics).
	OnState func(State)
	Log     *slog.Logger
}

// State is what the archiver reports.
type State struct {
	Position  string    // file:pos the durable archive ends at
	LastEvent time.Time // timestamp of the last durable event
	// Lag is how long the oldest event this flush made durable waited
	// since it arrived (the local clock, to the millisecond: since it was
	// read, or since the flush or compaction that kept the stream unread
	// began); 0 when nothing was waiting.
	Lag      time.Duration
	Errors   int // store failures so far
	Segments int
	Series   string            // the archive's prefix
	GTIDs    map[string]string // the last durable GTID per domain or source uuid
	Bytes    int64             // binlog bytes made durable by this run
	Objects  int               // segments and compacted files this run stored
	// StoreFailingSince is when the store began to fail, zero while it
	// works; Spooled is what waits for it in the local spool.
	StoreFailingSince time.Time
	Spooled           int64
	// SemiSync (with Options.SemiSync) says whether the server waits for
	// the archiver's acknowledgements: "on", or why not.
	SemiSync string
}

// Result says what a run archived.
type Result struct {
	Prefix   string // the series archived
	Segments int
	Bytes    int64  // binlog bytes made durable
	Position string // file:pos the archive ends at
}

// maxPending bounds the binlog bytes held in memory while the store does
// not take them; beyond it the archiver fails, loudly.
const maxPending = 64 << 20

// flushBytes flushes early what a catch-up or a burst piles up: segments
// of a few MiB keep the archiver's memory small.
const flushBytes = 4 << 20

// RotateAfter is how many segments a file gets before the archiver asks
// the server to rotate (FLUSH BINARY LOGS), as PostgreSQL's
// archive_timeout switches WAL files: a quiet server's file would
// otherwise stay open for weeks, its segment list growing every second.
var RotateAfter = 900

// CompactMax is the largest closed file compacted into one object (read
// back and sealed again in memory).
var CompactMax uint64 = 8 << 20

// Event types the archiver treats specially.
const (
	rotateEvent    = 4
	formatDescr    = 15
	heartbeatEvent = 27
	mysqlGTID      = 33
	mariadbGTID    = 162
	artificialFlag = 0x20
)

// archiver is the state of one run.
type archiver struct {
	o       Options
	ix      *Index
	file    string // the binlog file being archived
	offset  uint64 // where its archived bytes end, pending ones included
	pending bytes.Buffer
	start   uint64 // file offset of pending's first byte
	first   time.Time
	last    time.Time
	gtids   map[string][2]string
	res     Result
	errors  int
	durable time.Time // timestamp of the last durable event
	segs    []Segment // the current file's list
	listTag string    // its stored version ("": none yet)
	run     string    // this run's name in its segments' keys
	db      *sql.DB
	rotated bool // FLUSH BINARY LOGS asked for the current file
	version mysqld.Version
	// For the status: objects stored, the last durable GTID per domain,
	// since when the store fails.
	objects      int
	lastGTIDs    map[string]string
	failingSince time.Time
	semiSync     string
	semiChecked  time.Time
	// arrived is when the oldest pending event arrived (zero: none
	// pending); flushCost a decaying maximum of how long flushes take.
	arrived   time.Time
	flushCost time.Duration
	// readSince, when set, is since when the loop has not read the stream
	// (a flush, a compaction): what it reads next arrived then at worst.
	readSince time.Time
}

// Run archives the instance's binlogs from where the archive ends (or,
// the first time, from the oldest binlog the server has) until ctx ends
// (then what is pending is made durable and Run returns without error),
// or with Once up to the server's end at the start.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.StoreOutage <= 0 {
		o.StoreOutage = 10 * time.Minute
	}
	db, err := o.Conn.Open()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	srv, err := serverInfo(ctx, db)
	if err != nil {
		return nil, err
	}
	if srv.id == o.ServerID {
		return nil, fmt.Errorf("binlog_archive_server_id %d is the instance's own server_id: set another", o.ServerID)
	}
	ix, err := ReadIndex(ctx, o.Store, Series{Port: o.Port, ServerID: srv.id})
	if err != nil {
		return nil, err
	}
	a := &archiver{o: o, ix: ix, db: db, version: srv.version, run: runName()}
	a.res.Prefix = ix.Series().Prefix()
	if err := a.loadLast(ctx); err != nil {
		return nil, err
	}
	file, pos, err := a.startAt(ctx, srv)
	if err != nil {
		return nil, err
	}
	return a.stream(ctx, srv, file, pos)
}

// server is what the archiver reads from the instance before streaming.
type server struct {
	id      uint32
	version mysqld.Version
	flavor  string
	dir     string   // where the binlogs are (this host's disk)
	logs    []string // SHOW BINARY LOGS, oldest first
	sizes   map[string]uint64
	endFile string // SHOW MASTER STATUS at the start
	endPos  uint64
}

func serverInfo(ctx context.Context, db *sql.DB) (server, error) {
	var s server
	if err := db.QueryRowContext(ctx, "SELECT @@server_id").Scan(&s.id); err != nil {
		return s, fmt.Errorf("server_id: %w", err)
	}
	version, err := mysqld.ServerVersion(ctx, db)
	if err != nil {
		return s, err
	}
	v, err := mysqld.ParseVersion(version)
	if err != nil {
		return s, err
	}
	s.version = v
	s.flavor = mysql.MySQLFlavor
	if v.Flavor == mysqld.MariaDB {
		s.flavor = mysql.MariaDBFlavor
	}
	snap, err := binlogsync.Take(ctx, db)
	if err != nil {
		return s, err
	}
	s.dir, s.sizes = snap.Dir, map[string]uint64{}
	for _, f := range snap.Files {
		s.logs = append(s.logs, f.Name)
		s.sizes[f.Name] = uint64(f.Size)
	}
	end, err := replication.ReadBinlogPosition(ctx, db, v)
	if err != nil {
		return s, err
	}
	s.endFile, s.endPos = end.File, end.Position
	return s, nil
}

// startAt is where this run starts: where the archive ends, or the
// oldest binlog the first time. A file the archive needs that the server
// purged is a gap: it is recorded in the index and fails this run; the
// next one goes on from the oldest binlog the server has.
func (a *archiver) startAt(ctx context.Context, srv server) (string, uint64, error) {
	if len(srv.logs) == 0 {
		return "", 0, errors.New("the server lists no binary log")
	}
	file, pos, ok := a.ix.Position()
	if !ok {
		a.o.Log.Info("binlog archive empty: starting at the oldest binlog", "file", srv.logs[0])
		return srv.logs[0], 0, nil
	}
	if err := a.sameHistory(srv); err != nil {
		return "", 0, err
	}
	if last := a.ix.Files[len(a.ix.Files)-1]; last.Closed {
		next, err := nextName(file)
		if err != nil {
			return "", 0, err
		}
		// Its list may exist already (a run stopped before the head named
		// it): go on from where it ends.
		if a.segs, a.listTag, err = readSegments(ctx, a.o.Store, a.ix.Series(), next); err != nil {
			return "", 0, err
		}
		file, pos = next, 0
		if n := len(a.segs); n > 0 {
			pos = a.segs[n-1].End
			summarize(a.ix.file(next), a.segs)
		}
	}
	size, onServer := srv.sizes[file]
	switch {
	case onServer && size >= pos:
		return file, pos, nil
	case onServer && file != srv.endFile:
		// The server lost the tail the archive holds (a crash with
		// sync_binlog=0) and went on in a new file: the archive keeps its
		// copy, closed there, and goes on with the next file.
		next, _ := nextName(file)
		return "", 0, a.recordGap(ctx, Gap{After: fmt.Sprintf("%s:%d", file, pos), Resume: next, Found: time.Now().UTC(),
			Why: fmt.Sprintf("the server's %s ends at %d, before the archive's copy does", file, size)}, file, next)
	case onServer:
		return "", 0, fmt.Errorf("the archive holds %s up to %d, the server's file has %d bytes: another history under the same name?", file, pos, size)
	case num(file) > num(srv.logs[len(srv.logs)-1]):
		return "", 0, fmt.Errorf("the archive ends at %s:%d, past the server's last binlog %s: another history (RESET MASTER?)", file, pos, srv.logs[len(srv.logs)-1])
	}
	return "", 0, a.recordGap(ctx, Gap{After: fmt.Sprintf("%s:%d", file, pos), Resume: srv.logs[0], Found: time.Now().UTC(),
		Why: "the server purged binlogs the archive did not have"}, file, srv.logs[0])
}

// recordGap records the gap in the index, the file before it closed as
// partial, and fails the run naming it; the next run goes on from resume.
func (a *archiver) recordGap(ctx context.Context, gap Gap, before, resume string) error {
	a.ix.Gaps = append(a.ix.Gaps, gap)
	// The file before the gap as its list has it (a run killed before the
	// head named its segments), closed as partial; or gone when it has none.
	segs, err := ReadSegments(ctx, a.o.Store, a.ix.Series(), before)
	if err != nil {
		return err
	}
	f := a.ix.file(before)
	summarize(f, segs)
	if f.Segments > 0 {
		f.Closed, f.Partial = true, true
	} else {
		a.ix.Files = a.ix.Files[:len(a.ix.Files)-1]
	}
	a.ix.file(resume)
	if err := a.writeIndex(ctx); err != nil {
		return err
	}
	return fmt.Errorf("%s: a gap after %s up to %s, recorded in the index; the next run goes on from %s", gap.Why, gap.After, gap.Resume, gap.Resume)
}

// loadLast reads the last file's segment list: it is what is durable (a
// run killed between the list and the head leaves the head behind).
func (a *archiver) loadLast(ctx context.Context) error {
	if len(a.ix.Files) == 0 {
		return nil
	}
	last := &a.ix.Files[len(a.ix.Files)-1]
	segs, tag, err := readSegments(ctx, a.o.Store, a.ix.Series(), last.Name)
	if err != nil {
		return err
	}
	a.segs, a.listTag = segs, tag
	summarize(last, segs)
	for _, f := range a.ix.Files {
		a.noteDurable(f.GTIDs)
		if !f.LastEvent.IsZero() {
			a.durable = f.LastEvent
		}
	}
	return nil
}

// summarize sets f's summary from its segments.
func summarize(f *File, segs []Segment) {
	*f = File{Name: f.Name, Closed: f.Closed, Partial: f.Partial, Created: f.Created}
	for _, seg := range segs {
		f.add(seg)
	}
}

// sameHistory refuses an archive whose files are not the server's under
// the same names: a file on the server created at another time than the
// archived one (RESET MASTER; a host rebuilt from a backup writes new
// files under names the archive has).
func (a *archiver) sameHistory(srv server) error {
	for _, f := range a.ix.Files {
		if f.Created.IsZero() || srv.sizes == nil {
			continue
		}
		if _, on := srv.sizes[f.Name]; !on {
			continue
		}
		created, err := binlogsync.Created(filepath.Join(srv.dir, f.Name))
		if err != nil {
			continue // not readable here: the stream's own check remains
		}
		if !created.Equal(f.Created) {
			return fmt.Errorf("the server's %s was created %s, the archived one %s: another history under the same names (RESET MASTER, or a host rebuilt from a backup); move %s aside to archive this one (backups that left their binlogs there, binlogs=archive in list, need it back to be restored)", f.Name, created.Format(time.RFC3339), f.Created.Format(time.RFC3339), a.ix.Series().Prefix())
		}
	}
	return nil
}

// nextName is the binlog file after name (base.000042 → base.000043).
func nextName(name string) (string, error) {
	n, err := binlogsync.SeqNumber(name)
	if err != nil {
		return "", err
	}
	i := strings.LastIndexByte(name, '.')
	return fmt.Sprintf("%s.%0*d", name[:i], len(name)-i-1, n+1), nil
}

// num is a binlog file's sequence number (-1 if none).
func num(name string) int {
	n, err := binlogsync.SeqNumber(name)
	if err != nil {
		return -1
	}
	return n
}

// stream reads the binlog from file:pos as a replica and archives it.
func (a *archiver) stream(ctx context.Context, srv server, file string, pos uint64) (*Result, error) {
	o := a.o
	socket := o.Conn.Socket
	var flags uint16
	if srv.flavor == mysql.MariaDBFlavor {
		// MariaDB leaves a replica's Annotate_rows events out unless asked:
		// the archive holds the file as it is, every event.
		flags = gomysql.BINLOG_SEND_ANNOTATE_ROWS_EVENT
	}
	var acks *ackHandler
	if o.SemiSync {
		// acks.stop, deferred after syncer.Close and so run before it,
		// ends the handler's waits: Close waits for the handler.
		sctx, stop := context.WithCancel(ctx)
		acks = &ackHandler{events: make(chan delivery, 1), ctx: sctx, stop: stop}
	}
	cfg := gomysql.BinlogSyncerConfig{
		DumpCommandFlag: flags,
		// Events read ahead wait in memory while the store is slow: a few
		// hundred, not go-mysql's default ten thousand.
		EventCacheCount: 256,
		ServerID:        o.ServerID, Flavor: srv.flavor, Host: "localhost", User: o.Conn.User, Password: o.Conn.Password,
		RawModeEnabled: true, Logger: o.Log.With("component", "binlog-syncer"),
		Dialer: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}
	if acks != nil {
		cfg.SemiSyncEnabled, cfg.SynchronousEventHandler = true, acks
	}
	syncer := gomysql.NewBinlogSyncer(cfg)
	defer syncer.Close()
	if acks != nil {
		defer acks.stop()
	}
	a.file, a.offset, a.start = file, pos, pos
	from := max(pos, 4)
	if from > math.MaxUint32 {
		return nil, fmt.Errorf("the archive of %s ends at %d, past what the replication protocol can resume from (4 GiB)", file, from)
	}
	streamer, err := syncer.StartSync(mysql.Position{Name: file, Pos: uint32(from)})
	if err != nil {
		return nil, fmt.Errorf("binlog stream from %s:%d: %w", file, from, err)
	}
	o.Log.Info("archiving binlogs", "from", fmt.Sprintf("%s:%d", file, from), "once", o.Once, "semisync", o.SemiSync)
	next := func(ctx context.Context) (*gomysql.BinlogEvent, chan<- error, error) {
		ev, err := streamer.GetEvent(ctx)
		return ev, nil, err
	}
	if acks != nil {
		a.checkSemiSync(ctx, true)
		next = acks.start(streamer)
	}
	if pos < 4 {
		a.pending.Write(binlogsync.Magic)
		a.offset, a.start = 4, 0
	}
	// stop ends the run: on an error, or when ctx ended (a store call it
	// cut short counts as the stop), what is pending becomes durable first,
	// briefly, with a context of its own.
	stop := func(err error) (*Result, error) {
		if ctx.Err() == nil {
			return &a.res, err
		}
		last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return a.finish(last)
	}
	tick := time.Now()
	for {
		if o.Once && a.reached(srv) {
			return a.finish(ctx)
		}
		wait, cancel := context.WithDeadline(ctx, a.flushAt(tick))
		ev, durable, err := next(wait)
		cancel()
		switch {
		case ctx.Err() != nil:
			return stop(nil)
		case errors.Is(err, context.DeadlineExceeded):
			a.readSince = time.Time{} // nothing was waiting
			if err := a.flushDurable(ctx); err != nil {
				return stop(err)
			}
			a.askRotation(ctx)
			tick = time.Now()
			continue
		case err != nil:
			return stop(fmt.Errorf("binlog stream: %w", err))
		}
		if err := a.handle(ctx, ev); err != nil {
			if durable != nil {
				durable <- err
			}
			return stop(err)
		}
		if durable != nil { // the server waits for this transaction's acknowledgement
			err := a.flushDurable(ctx)
			durable <- err
			if err != nil {
				return stop(err)
			}
			continue
		}
		if a.pending.Len() > flushBytes {
			if err := a.flushDurable(ctx); err != nil {
				return stop(err)
			}
		}
	}
}

// flushAt is when the loop flushes next: early enough that the oldest
// pending event is durable within the interval of its arrival (the flush
// itself takes time), or an interval after the last tick when nothing is
// pending (metrics, rotation).
func (a *archiver) flushAt(tick time.Time) time.Time {
	if a.arrived.IsZero() {
		return tick.Add(a.o.Interval)
	}
	return a.arrived.Add(a.o.Interval - min(a.flushCost*3/2, a.o.Interval/2))
}

// reached says whether the archive holds the server's end at the start.
func (a *archiver) reached(srv server) bool {
	return num(a.file) > num(srv.endFile) || (a.file == srv.endFile && a.offset >= srv.endPos)
}

// finish makes what is pending durable.
func (a *archiver) finish(ctx context.Context) (*Result, error) {
	err := a.flushDurable(ctx)
	a.res.Position = fmt.Sprintf("%s:%d", a.file, a.offset)
	return &a.res, err
}

// handle takes one event: the file's bytes go to pending in order; what
// the server made up for this connection (fake rotates, the format
// description of a start inside a file, heartbeats) is not the file's.
func (a *archiver) handle(ctx context.Context, ev *gomysql.BinlogEvent) error {
	h := ev.Header
	size := uint64(len(ev.RawData))
	madeUp := h.EventType == heartbeatEvent || h.Flags&artificialFlag != 0 ||
		((h.EventType == rotateEvent || h.EventType == formatDescr) && (h.Timestamp == 0 || h.LogPos == 0))
	if h.EventType == rotateEvent {
		rot, ok := ev.Event.(*gomysql.RotateEvent)
		if !ok {
			return errors.New("binlog stream: a rotate event that does not parse")
		}
		if !madeUp {
			if err := a.follows(h, size); err != nil {
				return err
			}
			if err := a.append(ev); err != nil {
				return err
			}
		}
		return a.rotate(ctx, string(rot.NextLogName), rot.Position, !madeUp)
	}
	if madeUp {
		return nil
	}
	if h.EventType == formatDescr {
		created := time.Unix(int64(h.Timestamp), 0).UTC()
		f := a.ix.file(a.file)
		if !f.Created.IsZero() && !f.Created.Equal(created) {
			return fmt.Errorf("binlog stream: the server's %s was created %s, the archived one %s: another history under the same name", a.file, created.Format(time.RFC3339), f.Created.Format(time.RFC3339))
		}
		if a.offset > 4 {
			return nil // the format description a start inside the file begins with: archived already
		}
		f.Created = created
	}
	if err := a.follows(h, size); err != nil {
		return err
	}
	return a.append(ev)
}

// follows checks that the event ends where the archive's copy will end
// after it, when the server says where it ends (MariaDB 11.4 writes 0
// inside transactions; positions past 4 GiB wrap).
func (a *archiver) follows(h *gomysql.EventHeader, size uint64) error {
	if h.LogPos != 0 && uint64(h.LogPos) != (a.offset+size)&0xffffffff {
		return fmt.Errorf("binlog stream: an event of %s ends at %d, not at %d after the archive's end: the stream has a gap", a.file, h.LogPos, a.offset+size)
	}
	return nil
}

// append adds the event's bytes to pending.
func (a *archiver) append(ev *gomysql.BinlogEvent) error {
	if a.pending.Len() > maxPending {
		return fmt.Errorf("%d bytes of binlog wait for the store: giving up", a.pending.Len())
	}
	if a.arrived.IsZero() {
		a.arrived = time.Now()
		if !a.readSince.IsZero() && a.readSince.Before(a.arrived) {
			a.arrived = a.readSince
		}
	}
	a.readSince = time.Time{}
	a.pending.Write(ev.RawData)
	a.offset += uint64(len(ev.RawData))
	t := time.Unix(int64(ev.Header.Timestamp), 0).UTC()
	if a.first.IsZero() {
		a.first = t
	}
	a.last = t
	a.noteGTID(ev)
	return nil
}

// noteGTID records the GTID of a transaction's first event.
func (a *archiver) noteGTID(ev *gomysql.BinlogEvent) {
	body := ev.RawData[19:]
	var key, seq string
	switch ev.Header.EventType {
	case mariadbGTID:
		if len(body) < 12 {
			return
		}
		key = strconv.FormatUint(uint64(binary.LittleEndian.Uint32(body[8:12])), 10)
		seq = fmt.Sprintf("%s-%d-%d", key, ev.Header.ServerID, binary.LittleEndian.Uint64(body[0:8]))
	case mysqlGTID:
		if len(body) < 25 {
			return
		}
		key = uuidString(body[1:17])
		seq = strconv.FormatUint(binary.LittleEndian.Uint64(body[17:25]), 10)
	default:
		return
	}
	if a.gtids == nil {
		a.gtids = map[string][2]string{}
	}
	r, ok := a.gtids[key]
	if !ok {
		r[0] = seq
	}
	r[1] = seq
	a.gtids[key] = r
}

// writeList stores the current file's list over the version this run
// last read or wrote; its own earlier write whose answer was lost is no
// other writer.
func (a *archiver) writeList(ctx context.Context, segs []Segment) error {
	tag, err := writeSegments(ctx, a.o.Store, a.ix.Series(), a.file, segs, a.listTag)
	if errors.Is(err, errOtherWriter) {
		stored, storedTag, rerr := readSegments(ctx, a.o.Store, a.ix.Series(), a.file)
		mine, _ := json.Marshal(segs)
		theirs, _ := json.Marshal(stored)
		if rerr == nil && bytes.Equal(mine, theirs) {
			tag, err = storedTag, nil
		}
	}
	if err != nil {
		return err
	}
	a.listTag = tag
	return nil
}

// runName names a run in its segments' keys: 8 random hex digits.
func runName() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// noteDurable moves the last durable GTID of each domain in gtids (ranges
// "first..last") to its range's end.
func (a *archiver) noteDurable(gtids map[string]string) {
	for k, r := range gtids {
		if a.lastGTIDs == nil {
			a.lastGTIDs = map[string]string{}
		}
		_, hi, _ := strings.Cut(r, "..")
		a.lastGTIDs[k] = hi
	}
}

func uuidString(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// rotate moves to the next file: what is pending of this one is made
// durable and, when the server ended it (a real rotate) or moved past it,
// the file is closed in the index.
func (a *archiver) rotate(ctx context.Context, next string, pos uint64, real bool) error {
	if next == a.file {
		return nil // the fake rotate that starts a stream
	}
	if err := a.flushDurable(ctx); err != nil {
		return err
	}
	a.ix.file(a.file).Closed = true
	a.busy(time.Now())
	if err := a.compact(ctx); err != nil {
		a.o.Log.Warn("closed binlog not compacted (its segments stay)", "file", a.file, "err", err)
	}
	if !real {
		a.o.Log.Info("the server went on in the next binlog file", "file", a.file, "end", a.offset, "next", next)
	}
	if err := a.retrying(ctx, "binlog archive index", func() error { return a.writeIndex(ctx) }); err != nil {
		return err
	}
	a.file, a.offset, a.start, a.segs, a.listTag, a.rotated = next, 4, 0, nil, "", false
	a.pending.Write(binlogsync.Magic)
	if pos > 4 {
		return fmt.Errorf("binlog stream: the server continues %s at %d, not at its start", next, pos)
	}
	return nil
}

// flushDurable flushes, retrying while the store fails (see retrying),
// and reports the state.
func (a *archiver) flushDurable(ctx context.Context) error {
	arrived := a.arrived
	began := time.Now()
	if err := a.retrying(ctx, "binlog segment", func() error { return a.flush(ctx) }); err != nil {
		return err
	}
	a.flushCost = max(time.Since(began), a.flushCost*7/8)
	a.busy(began)
	lag := time.Duration(0)
	if !arrived.IsZero() {
		lag = time.Since(arrived)
	}
	a.report(lag)
	return nil
}

// busy notes that the loop did not read the stream since began: the
// events read next may have arrived then, and count from then.
func (a *archiver) busy(began time.Time) {
	if a.readSince.IsZero() || began.Before(a.readSince) {
		a.readSince = began
	}
}

// errOtherWriter is an index written by someone else than this archiver
// or a prune: a second archiver of the same server.
var errOtherWriter = errors.New("written by another process")

// writeIndex stores the index over the version this archiver last read or
// wrote. A prune in between is taken in (its files dropped here too) and
// the write tried again; any other writer stops the archiver.
func (a *archiver) writeIndex(ctx context.Context) error {
	for {
		err := a.ix.write(ctx, a.o.Store)
		if !errors.Is(err, s3.ErrChanged) {
			return err
		}
		cur, rerr := ReadIndex(ctx, a.o.Store, a.ix.Series())
		if rerr != nil {
			return rerr
		}
		if err := a.ix.adoptPrune(cur); err != nil {
			return err
		}
		a.o.Log.Info("binlog archive pruned meanwhile: files dropped from the index", "before", cur.Pruned.Before)
	}
}

// adoptPrune takes in the prune that made cur, the stored index, differ
// from ix; anything else is another writer.
func (ix *Index) adoptPrune(cur *Index) error {
	other := fmt.Errorf("binlog archive index %s%s %w (a second binlog-archive of server %d, on another host?): stopping this one",
		ix.Series().Prefix(), IndexName, errOtherWriter, ix.ServerID)
	if sameContent(ix, cur) {
		ix.tag = cur.tag // this archiver's own write, whose answer was lost
		return nil
	}
	if cur.Pruned == nil || (ix.Pruned != nil && *cur.Pruned == *ix.Pruned) {
		return other
	}
	mine := map[string]File{}
	for _, f := range ix.Files {
		mine[f.Name] = f
	}
	for _, f := range cur.Files {
		if m, ok := mine[f.Name]; !ok || f.End > m.End || (f.Closed && !m.Closed) {
			return other
		}
	}
	ix.dropBefore(cur.Pruned.Before)
	ix.Pruned, ix.tag = cur.Pruned, cur.tag
	return nil
}

// sameContent says whether two indexes say the same, their time of writing
// aside.
func sameContent(a, b *Index) bool {
	x, y := *a, *b
	x.Updated, y.Updated, x.tag, y.tag = time.Time{}, time.Time{}, "", ""
	dx, err1 := json.Marshal(x)
	dy, err2 := json.Marshal(y)
	return err1 == nil && err2 == nil && bytes.Equal(dx, dy)
}

// retrying runs write until it succeeds: while the store fails it retries
// with backoff (the stream waits) for up to StoreOutage, counting and
// reporting each failure; with Once it fails at once.
func (a *archiver) retrying(ctx context.Context, what string, write func() error) error {
	backoff := time.Second
	for {
		err := write()
		if err == nil {
			a.failingSince = time.Time{}
			return nil
		}
		if errors.Is(err, errOtherWriter) {
			return err
		}
		a.errors++
		if a.failingSince.IsZero() {
			a.failingSince = time.Now().UTC()
		}
		a.report(0)
		if a.o.Once || ctx.Err() != nil {
			return err
		}
		if time.Since(a.failingSince) > a.o.StoreOutage {
			return fmt.Errorf("the store failed for %s: %w", a.o.StoreOutage, err)
		}
		a.o.Log.Warn(what+" not stored; retrying (the stream waits)", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// report tells OnState the archiver's state.
func (a *archiver) report(lag time.Duration) {
	if a.o.OnState == nil {
		return
	}
	a.checkSemiSync(context.Background(), false)
	a.o.OnState(State{Position: fmt.Sprintf("%s:%d", a.file, a.start), LastEvent: a.durable, Lag: lag, Errors: a.errors,
		Segments: a.res.Segments, Series: a.res.Prefix, GTIDs: a.lastGTIDs, Bytes: a.res.Bytes, Objects: a.objects,
		StoreFailingSince: a.failingSince, SemiSync: a.semiSync})
}

// flush makes pending durable: sealed, stored, its size checked, then
// named in the index. On a store error pending stays for the next flush.
func (a *archiver) flush(ctx context.Context) error {
	if a.pending.Len() == 0 || (a.pending.Len() == 4 && a.start == 0 && a.offset == 4) {
		return nil
	}
	sealed, err := archive.SealBytes(a.pending.Bytes(), a.o.Keys)
	if err != nil {
		return err
	}
	key := a.ix.Series().RunSegmentKey(a.file, a.start, a.run)
	if err := a.o.Store.Put(ctx, key, bytes.NewReader(sealed), nil); err != nil {
		return fmt.Errorf("binlog segment %s: %w", key, err)
	}
	info, err := a.o.Store.Head(ctx, key)
	if err != nil {
		return fmt.Errorf("binlog segment %s: %w", key, err)
	}
	if info.Size != int64(len(sealed)) {
		return fmt.Errorf("binlog segment %s: s3 has %d bytes, sent %d", key, info.Size, len(sealed))
	}
	sum := sha256.Sum256(sealed)
	seg := Segment{Key: key, Start: a.start, End: a.offset, Stored: int64(len(sealed)), SHA256: hex.EncodeToString(sum[:]),
		FirstEvent: a.first, LastEvent: a.last}
	for k, r := range a.gtids {
		if seg.GTIDs == nil {
			seg.GTIDs = map[string]string{}
		}
		seg.GTIDs[k] = r[0] + ".." + r[1]
	}
	// A flush retried after its list was written replaces, not repeats.
	if n := len(a.segs); n > 0 && a.segs[n-1].Start == seg.Start {
		a.segs[n-1] = seg
	} else {
		a.segs = append(a.segs, seg)
	}
	if err := a.writeList(ctx, a.segs); err != nil {
		return fmt.Errorf("binlog segment list: %w", err)
	}
	summarize(a.ix.file(a.file), a.segs)
	if err := a.writeIndex(ctx); err != nil {
		return fmt.Errorf("binlog archive index: %w", err)
	}
	a.res.Segments++
	a.objects++
	a.res.Bytes += int64(a.offset - a.start)
	if !a.last.IsZero() {
		a.durable = a.last
	}
	a.noteDurable(seg.GTIDs)
	a.pending.Reset()
	a.start, a.first, a.last, a.gtids, a.arrived = a.offset, time.Time{}, time.Time{}, nil, time.Time{}
	return nil
}

// compact puts a closed file of at most CompactMax bytes held in several
// segments into one object: written, checked, then named in the list;
// only then do its segments go. A run killed in between leaves the list
// as it was, or orphan segments.
func (a *archiver) compact(ctx context.Context) error {
	f := a.ix.file(a.file)
	if len(a.segs) < 2 || f.End > CompactMax || !f.Closed || len(a.o.OpenKeys.Identities) == 0 {
		return nil
	}
	s := a.ix.Series()
	var whole bytes.Buffer
	whole.Grow(int(f.End))
	if err := ReadFile(ctx, a.o.Store, a.o.OpenKeys, s, *f, &whole); err != nil {
		return err
	}
	sealed, err := archive.SealBytes(whole.Bytes(), a.o.Keys)
	if err != nil {
		return err
	}
	start := a.segs[0].Start
	key := s.CompactKey(a.file, start, f.End)
	if err := a.o.Store.Put(ctx, key, bytes.NewReader(sealed), nil); err != nil {
		return err
	}
	if info, err := a.o.Store.Head(ctx, key); err != nil || info.Size != int64(len(sealed)) {
		return fmt.Errorf("compacted %s: %v (size %d, sent %d)", key, err, info.Size, len(sealed))
	}
	sum := sha256.Sum256(sealed)
	one := Segment{Key: key, Start: start, End: f.End, Stored: int64(len(sealed)), SHA256: hex.EncodeToString(sum[:]),
		FirstEvent: f.FirstEvent, LastEvent: f.LastEvent, GTIDs: f.GTIDs}
	old := a.segs
	if err := a.writeList(ctx, []Segment{one}); err != nil {
		return err
	}
	a.segs = []Segment{one}
	a.objects++
	summarize(f, a.segs)
	for _, seg := range old {
		if err := a.o.Store.Delete(ctx, seg.Key); err != nil {
			a.o.Log.Warn("compacted segment not removed", "key", seg.Key, "err", err)
		}
	}
	return nil
}

// askRotation asks the server, once per file, to rotate a file that got
// RotateAfter segments.
func (a *archiver) askRotation(ctx context.Context) {
	if a.rotated || len(a.segs) < RotateAfter || a.pending.Len() > 0 {
		return
	}
	end, err := replication.ReadBinlogPosition(ctx, a.db, a.version)
	if err != nil || end.File != a.file {
		return // behind, on an older file: the server rotated it already
	}
	a.rotated = true
	if _, err := a.db.ExecContext(ctx, "FLUSH BINARY LOGS"); err != nil {
		a.o.Log.Warn("FLUSH BINARY LOGS not done: the open binlog's segment list keeps growing", "file", a.file, "segments", len(a.segs), "err", err)
		return
	}
	a.o.Log.Info("asked the server to rotate its binlog", "file", a.file, "segments", len(a.segs))
}
