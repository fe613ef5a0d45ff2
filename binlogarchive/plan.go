package binlogarchive

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// Snapshot is where a backup's data ends in the binlog of the server that
// took it.
type Snapshot struct {
	File string
	Pos  uint64
	GTID string
	// Created is the snapshot file's creation time (its first event) when
	// known: the archive's file of that name must be the same one.
	Created time.Time
	// ByGTID: the series is another server's (a failover, another member
	// of the group): File and Pos mean nothing there. The path starts at
	// its first file with a transaction after GTID, and every transaction
	// GTID holds already is passed over (MariaDB).
	ByGTID bool
	// AsWritten: the stretch is the backup's own delta, replayed as the
	// server wrote it (what a bundled backup's binlogs give): the bytes
	// must follow each other, and a GTID that jumps ahead in its domain (a
	// session's gtid_seq_no, gtid_strict_mode off) is the server's own
	// history, not a hole.
	AsWritten bool
}

// PlanFile is one archived file a point-in-time restore replays: its
// bytes [From, To).
type PlanFile struct {
	Name     string `json:"name"`
	From     uint64 `json:"from"`
	To       uint64 `json:"to"`
	Segments int    `json:"segments"`
}

// Plan is the path from a backup's snapshot to a target through the
// archive, proven: every file there and whole, no gap, every domain's
// GTIDs contiguous from the snapshot's, the stop on a transaction
// boundary.
type Plan struct {
	Series       Series     `json:"-"`
	Prefix       string     `json:"series"`
	Target       string     `json:"target"`
	From         string     `json:"from"` // file:pos of the snapshot
	FromGTID     string     `json:"from_gtid"`
	Files        []PlanFile `json:"files"`
	Stop         string     `json:"stop"`      // file:pos the replay ends at (exclusive)
	StopGTID     string     `json:"stop_gtid"` // per domain, the last GTID replayed (or the snapshot's)
	LastTime     time.Time  `json:"last_transaction_time,omitzero"`
	Transactions int        `json:"transactions"`
	Bytes        uint64     `json:"bytes"` // binlog bytes replayed
	// StartGTID (another server's series) is where the replay starts in
	// each domain: every transaction up to it is in the backup.
	StartGTID string `json:"start_gtid,omitempty"`
	// Domains proves continuity: per domain the GTIDs replayed.
	Domains []string `json:"domains"`
}

// errStop ends the reading of a file once the stop point is passed.
var errStop = errors.New("stop point reached")

// PlanUntil reads the series ix from the backup's snapshot to the target
// t, event by event, and proves the path, or refuses naming what breaks
// it. With out set, each file's bytes are written to out(name) as they
// are read: the caller cuts the last one at its PlanFile.To.
func PlanUntil(ctx context.Context, st s3.Store, keys archive.V2Keys, ix *Index, from Snapshot, t Target, out func(name string) (io.WriteCloser, error)) (*Plan, error) {
	start, err := ix.startOf(from)
	if from.ByGTID {
		start, err = ix.startByGTID(from)
	}
	if err != nil {
		return nil, err
	}
	pl := &planner{t: t, from: from, last: map[string]uint64{}, lastText: map[string]string{}, firstText: map[string]string{}}
	if err := pl.init(); err != nil {
		return nil, err
	}
	plan := &Plan{Series: ix.Series(), Prefix: ix.Series().Prefix(), Target: t.String(), From: fmt.Sprintf("%s:%d", from.File, from.Pos), FromGTID: from.GTID}
	if from.ByGTID {
		pl.from.File, pl.from.Pos = ix.Files[start].Name, 4
		plan.From, plan.StartGTID = ix.Files[start].Name+":4", from.GTID
	}
	for i := start; i < len(ix.Files) && !pl.stopped; i++ {
		f := ix.Files[i]
		if i > start {
			if err := ix.Follows(i); err != nil {
				return nil, err
			}
		}
		if err := pl.readFile(ctx, st, keys, ix.Series(), f, out); err != nil {
			return nil, err
		}
		pf := PlanFile{Name: f.Name, From: 4, To: f.End, Segments: f.Segments}
		if f.Name == pl.from.File {
			pf.From = pl.from.Pos
		}
		if pl.stopped {
			pf.To = pl.stopPos
		} else if !f.Whole() && pl.inTx {
			pf.To = pl.txStart // the archive ends inside a transaction
		}
		plan.Files = append(plan.Files, pf)
		plan.Bytes += pf.To - min(pf.From, pf.To)
	}
	if !pl.stopped {
		// latest, or a GTID target the archive's last transaction reaches:
		// the end of what the archive holds whole.
		if t.Kind != "latest" && (t.Kind != "gtid" || !t.reachedBy(pl.last)) {
			return nil, pl.beyond(ix)
		}
		last := plan.Files[len(plan.Files)-1]
		pl.stopFile, pl.stopPos = last.Name, last.To
	}
	plan.Stop = fmt.Sprintf("%s:%d", pl.stopFile, pl.stopPos)
	plan.StopGTID, plan.LastTime, plan.Transactions = pl.position(), pl.lastTime, pl.txs
	plan.Domains = pl.proof()
	return plan, nil
}

// startByGTID is the first file of another server's series with a
// transaction after the snapshot's GTID position: the files before hold
// only what the backup holds. The scan from there proves the rest (the
// first new transaction of each domain follows the snapshot's).
func (ix *Index) startByGTID(from Snapshot) (int, error) {
	if len(ix.Files) == 0 {
		return 0, fmt.Errorf("the binlog archive s3 %s holds no file", ix.Series().Prefix())
	}
	have, err := parseGTIDs(from.GTID)
	if err != nil || from.GTID == "" {
		return 0, fmt.Errorf("the backup records no usable GTID position (%q): another server's binlogs cannot continue it", from.GTID)
	}
	for i, f := range ix.Files {
		if !have.hold(f.GTIDs) {
			return i, nil
		}
	}
	return len(ix.Files) - 1, nil
}

// startOf is the index of the snapshot's file in the series.
func (ix *Index) startOf(from Snapshot) (int, error) {
	for i, f := range ix.Files {
		if f.Name != from.File {
			continue
		}
		if !from.Created.IsZero() && !f.Created.IsZero() && !from.Created.Equal(f.Created) {
			return 0, fmt.Errorf("the archive's %s (s3 %s) was created %s, the backup's %s: another history under the same name", f.Name, ix.Series().Prefix(), f.Created.Format(time.RFC3339), from.Created.Format(time.RFC3339))
		}
		if f.End < from.Pos {
			return 0, fmt.Errorf("the archive's %s ends at %d, before the backup's snapshot at %d", f.Name, f.End, from.Pos)
		}
		return i, nil
	}
	if len(ix.Files) == 0 {
		return 0, fmt.Errorf("the binlog archive s3 %s holds no file", ix.Series().Prefix())
	}
	first, last := ix.Files[0], ix.Files[len(ix.Files)-1]
	if num(from.File) < num(first.Name) {
		return 0, fmt.Errorf("the binlog archive s3 %s starts at %s, after the backup's snapshot file %s (pruned, or archived later): take a newer backup as the base", ix.Series().Prefix(), first.Name, from.File)
	}
	return 0, fmt.Errorf("the binlog archive s3 %s (%s to %s) does not hold the backup's snapshot file %s", ix.Series().Prefix(), first.Name, last.Name, from.File)
}

// LastGap finds the latest gap after file from: the index of the file
// after it and the gap (Follows' error), or (from, nil) when the files
// from there on follow each other.
func (ix *Index) LastGap(from int) (int, error) {
	for i := len(ix.Files) - 1; i > from; i-- {
		if err := ix.Follows(i); err != nil {
			return i, err
		}
	}
	return from, nil
}

// Follows checks that file i continues file i-1 with nothing missing:
// the one before whole, and named next.
func (ix *Index) Follows(i int) error {
	prev, f := ix.Files[i-1], ix.Files[i]
	next, _ := nextName(prev.Name)
	if !prev.Partial && f.Name == next {
		if !prev.Closed {
			return fmt.Errorf("the binlog archive s3 %s: %s is not closed but %s follows it", ix.Series().Prefix(), prev.Name, f.Name)
		}
		return nil
	}
	why := "the archive holds only its start"
	if !prev.Partial {
		why = fmt.Sprintf("the files from %s to the one before %s are not in the archive", next, f.Name)
	}
	for _, g := range ix.Gaps {
		if file, _, _ := strings.Cut(g.After, ":"); file == prev.Name || g.Resume == f.Name {
			why += " (" + g.Why + ")"
			break
		}
	}
	return fmt.Errorf("a gap in the binlog archive s3 %s after %s:%d (last event %s) up to %s: %s; reachable targets end at %s:%d",
		ix.Series().Prefix(), prev.Name, prev.End, prev.LastEvent.Format(time.RFC3339), f.Name, why, prev.Name, prev.End)
}

// pendingTx is a transaction read up to its GTID: it counts once it ends.
type pendingTx struct {
	key, text string // "" for an anonymous one
	seq       uint64
	at        time.Time
	held      bool // in the backup already (another server's series)
}

// planner follows the transactions of the archive from the snapshot.
type planner struct {
	t    Target
	from Snapshot
	file string
	// last is per domain (or MySQL source) the last sequence number seen,
	// from the snapshot's on; lastText and firstText the GTIDs replayed.
	last      map[string]uint64
	lastText  map[string]string
	firstText map[string]string
	txs       int
	lastTime  time.Time // of the last transaction replayed
	lastEvent time.Time // of the last event read
	inTx      bool
	txMode    int // how the transaction read ends (txMulti…)
	txStart   uint64
	pending   pendingTx // the transaction being read
	stopped   bool
	stopFile  string
	stopPos   uint64
}

// init takes the snapshot's GTID position as the start of every domain.
func (pl *planner) init() error {
	set, err := parseGTIDs(pl.from.GTID)
	if err != nil {
		return fmt.Errorf("the backup's GTID position %q: %w", pl.from.GTID, err)
	}
	for key, ivs := range set {
		if len(ivs) > 0 {
			pl.last[key] = ivs[len(ivs)-1][1]
		}
	}
	for _, part := range strings.Split(strings.Join(strings.Fields(pl.from.GTID), ""), ",") {
		if f := strings.Split(part, "-"); len(f) == 3 {
			pl.lastText[f[0]] = part
		}
	}
	return nil
}

// readFile reads one archived file through the planner (and to out).
func (pl *planner) readFile(ctx context.Context, st s3.Store, keys archive.V2Keys, s Series, f File, out func(string) (io.WriteCloser, error)) error {
	pl.file = f.Name
	ec := &eventChecker{file: f.Name}
	ec.on = pl.event
	var w io.Writer = ec
	var dst io.WriteCloser
	if out != nil {
		var err error
		if dst, err = out(f.Name); err != nil {
			return err
		}
		w = io.MultiWriter(dst, ec)
	}
	err := ReadFile(ctx, st, keys, s, f, w)
	if errors.Is(err, errStop) {
		err = nil
	} else if err == nil {
		err = ec.end()
	}
	if dst != nil {
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil || pl.stopped {
		return err
	}
	if f.Whole() && pl.inTx {
		return fmt.Errorf("archived binlog %s ends inside the transaction that starts at %d", f.Name, pl.txStart)
	}
	if pl.t.Kind == "pos" && pl.t.File == f.Name && pl.t.Pos >= f.End {
		if pl.t.Pos > f.End || pl.inTx {
			return fmt.Errorf("--until %s: %s ends at %d in the archive (the last archived event)", pl.t, f.Name, f.End)
		}
		pl.stop(f.End)
	}
	return nil
}

// Event types the planner reads.
const (
	queryEvent        = 2
	xidEvent          = 16
	xaPrepareEvent    = 38
	mysqlAnonGTID     = 34
	mariadbStandalone = 1 // the GTID event's flag: a transaction of one event
)

// event takes one event of the file at off.
func (pl *planner) event(off uint64, ev []byte, crc bool) error {
	if pl.stopped {
		return errStop
	}
	if pl.file == pl.from.File && off < pl.from.Pos {
		return nil // in the backup already
	}
	typ := ev[4]
	ts := time.Unix(int64(binary.LittleEndian.Uint32(ev[0:4])), 0).UTC()
	if pl.t.Kind == "pos" && pl.file == pl.t.File && off+uint64(len(ev)) > pl.t.Pos {
		switch {
		case off != pl.t.Pos:
			return fmt.Errorf("--until %s: not an event boundary (the event at %d ends at %d)", pl.t, off, off+uint64(len(ev)))
		case pl.inTx:
			return fmt.Errorf("--until %s: inside the transaction that starts at %s:%d; stop at %d or after it", pl.t, pl.file, pl.txStart, pl.txStart)
		}
		return pl.stop(off)
	}
	if typ == mariadbGTID || typ == mysqlGTID || typ == mysqlAnonGTID {
		if pl.inTx {
			return fmt.Errorf("archived binlog %s: a transaction at %d begins before the one at %d ended", pl.file, off, pl.txStart)
		}
		switch {
		case pl.t.Kind == "time" && ts.After(pl.t.Time):
			return pl.stop(off)
		case pl.t.Kind == "gtid" && pl.t.reachedBy(pl.last):
			return pl.stop(off)
		}
		if err := pl.gtid(off, ev); err != nil {
			return err
		}
		if err := pl.overshoots(off); err != nil {
			return err
		}
		pl.pending.at = ts
		pl.inTx, pl.txStart = true, off
		pl.lastEvent = ts
		pl.txMode = txMulti
		switch {
		case typ != mariadbGTID:
			pl.txMode = txFirstQuery // MySQL: its first query tells
		case len(ev) > headerLen+12 && ev[headerLen+12]&mariadbStandalone != 0:
			pl.txMode = txStandalone
		}
		return nil
	}
	pl.lastEvent = ts
	if pl.inTx && pl.endsTx(typ, ev, crc) {
		pl.inTx = false
		pl.commit()
	}
	return nil
}

// How a transaction read up to its GTID ends.
const (
	// txMulti ends at an XID, a COMMIT or ROLLBACK query, an XA prepare,
	// or an XA COMMIT or ROLLBACK (MariaDB without FL_STANDALONE: a
	// CREATE TABLE … SELECT is its query, rows and XID or COMMIT).
	txMulti = iota
	// txStandalone (MariaDB FL_STANDALONE) is one query: DDL, say.
	txStandalone
	// txFirstQuery (MySQL): BEGIN or "… START TRANSACTION" (an atomic
	// CREATE TABLE … SELECT) open a txMulti; any other query is DDL.
	txFirstQuery
)

// endsTx says whether the event ends the transaction it is in.
func (pl *planner) endsTx(typ byte, ev []byte, crc bool) bool {
	if typ == xidEvent || typ == xaPrepareEvent {
		return true
	}
	if typ != queryEvent {
		return false
	}
	q := strings.ToUpper(strings.TrimSpace(queryOf(ev, crc)))
	switch pl.txMode {
	case txStandalone:
		return true
	case txFirstQuery:
		if q == "BEGIN" || strings.HasSuffix(q, "START TRANSACTION") {
			pl.txMode = txMulti
			return false
		}
		return true
	}
	return q == "COMMIT" || q == "ROLLBACK" || strings.HasPrefix(q, "XA COMMIT") || strings.HasPrefix(q, "XA ROLLBACK")
}

// queryOf is a query event's statement.
func queryOf(ev []byte, crc bool) string {
	body := ev[headerLen:]
	if crc && len(body) >= 4 {
		body = body[:len(body)-4]
	}
	if len(body) < 13 {
		return ""
	}
	dbLen, varsLen := int(body[8]), int(binary.LittleEndian.Uint16(body[11:13]))
	at := 13 + varsLen + dbLen + 1
	if at > len(body) {
		return ""
	}
	return string(body[at:])
}

// gtid checks a transaction's GTID: in every domain (MySQL: source) the
// next sequence number after the one before, from the snapshot's on.
func (pl *planner) gtid(off uint64, ev []byte) error {
	body := ev[headerLen:]
	var key, text string
	var seq uint64
	switch {
	case ev[4] == mariadbGTID && len(body) >= 12:
		seq = binary.LittleEndian.Uint64(body[0:8])
		key = strconv.FormatUint(uint64(binary.LittleEndian.Uint32(body[8:12])), 10)
		text = fmt.Sprintf("%s-%d-%d", key, binary.LittleEndian.Uint32(ev[5:9]), seq)
	case ev[4] == mysqlGTID && len(body) >= 25:
		key = uuidString(body[1:17])
		seq = binary.LittleEndian.Uint64(body[17:25])
		text = fmt.Sprintf("%s:%d", key, seq)
	default:
		pl.pending = pendingTx{} // anonymous: no GTID to follow
		return nil
	}
	if prev, ok := pl.last[key]; ok && seq <= prev && pl.from.ByGTID {
		pl.pending = pendingTx{key: key, text: text, seq: seq, held: true} // the replay passes it over too
		return nil
	}
	if prev, ok := pl.last[key]; ok && seq != prev+1 && !(pl.from.AsWritten && seq > prev) {
		what := "a hole"
		if seq <= prev {
			what = "out of order"
		}
		return fmt.Errorf("the archive's GTIDs of domain %s go from %s to %s at %s:%d: %s; reachable targets end before %s:%d",
			key, orNone(pl.lastText[key]), text, pl.file, off, what, pl.file, off)
	}
	pl.pending = pendingTx{key: key, text: text, seq: seq}
	return nil
}

// overshoots refuses a GTID target no point of the binlog reaches: the
// transaction read goes past the target in its domain before every domain
// the target names got there (the binlog interleaves the domains).
func (pl *planner) overshoots(off uint64) error {
	p := pl.pending
	want, ok := pl.t.gtid[p.key]
	if pl.t.Kind != "gtid" || !ok || p.key == "" || len(want) == 0 || p.seq <= want[len(want)-1][1] {
		return nil
	}
	return fmt.Errorf("--until %s: the binlog commits %s (at %s:%d) before the target's other domains are reached (%s so far): no point of it holds exactly that position; reachable: gtid:%s",
		pl.t, p.text, pl.file, off, orNone(pl.position()), pl.position())
}

// commit counts the transaction that just ended.
func (pl *planner) commit() {
	p := pl.pending
	if p.held {
		return
	}
	pl.txs++
	pl.lastTime = p.at
	if p.key == "" {
		return
	}
	pl.last[p.key], pl.lastText[p.key] = p.seq, p.text
	if pl.firstText[p.key] == "" {
		pl.firstText[p.key] = p.text
	}
}

func orNone(s string) string {
	if s == "" {
		return "the snapshot"
	}
	return s
}

// stop ends the plan at off in the current file.
func (pl *planner) stop(off uint64) error {
	pl.stopped, pl.stopFile, pl.stopPos = true, pl.file, off
	return errStop
}

// ErrBeyond is a target past the end of the series read.
var ErrBeyond = errors.New("is after the last archived event")

// beyond is the refusal of a target past the archive's end.
func (pl *planner) beyond(ix *Index) error {
	last := ix.Files[len(ix.Files)-1]
	return fmt.Errorf("--until %s %w of s3 %s (%s, %s:%d, gtid %s): use --until latest, or a target before it",
		pl.t, ErrBeyond, ix.Series().Prefix(), pl.lastEvent.Format(time.RFC3339), last.Name, last.End, pl.position())
}

// position is the GTID position after the last transaction replayed.
func (pl *planner) position() string { return gtidText(pl.lastText) }

// proof says, per domain, which GTIDs the replay applies.
func (pl *planner) proof() []string {
	var out []string
	for key, first := range pl.firstText {
		out = append(out, fmt.Sprintf("domain %s: %s..%s contiguous from the snapshot's %s", key, first, pl.lastText[key], snapshotOf(pl.from.GTID, key)))
	}
	sort.Strings(out)
	return out
}

// snapshotOf is the snapshot's GTID in the domain, or "none".
func snapshotOf(gtid, key string) string {
	for _, part := range strings.Split(strings.Join(strings.Fields(gtid), ""), ",") {
		if strings.HasPrefix(part, key+"-") || strings.HasPrefix(strings.ToLower(part), key+":") {
			return part
		}
	}
	return "(none: the domain's first transactions)"
}
