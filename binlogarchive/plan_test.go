package binlogarchive

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/binlogsync"
	"github.com/mysqlbackup/mysqlbackup/s3/s3test"
)

// binlog builds a binlog file of transactions (domain 0, server 1): each
// a GTID event, BEGIN, a row-ish event and an XID, at its time.
type binlog struct{ buf bytes.Buffer }

func newBinlog() *binlog {
	b := &binlog{}
	b.buf.Write(binlogsync.Magic)
	return b
}

func (b *binlog) event(typ byte, at time.Time, body []byte) uint64 {
	off := uint64(b.buf.Len())
	h := make([]byte, headerLen)
	binary.LittleEndian.PutUint32(h[0:4], uint32(at.Unix()))
	h[4] = typ
	binary.LittleEndian.PutUint32(h[5:9], 1)
	binary.LittleEndian.PutUint32(h[9:13], uint32(headerLen+len(body)))
	binary.LittleEndian.PutUint32(h[13:17], uint32(off)+uint32(headerLen+len(body)))
	b.buf.Write(h)
	b.buf.Write(body)
	return off
}

func query(q string) []byte {
	body := make([]byte, 13)
	return append(append(body, 0), q...) // no status vars, empty db
}

// tx appends a transaction of domain 0 with sequence seq; it returns
// where it starts.
func (b *binlog) tx(seq uint64, at time.Time) uint64 {
	g := make([]byte, 13)
	binary.LittleEndian.PutUint64(g[0:8], seq)
	off := b.event(mariadbGTID, at, g)
	b.event(queryEvent, at, query("BEGIN"))
	b.event(30, at, []byte("rows"))
	b.event(xidEvent, at, make([]byte, 8))
	return off
}

// keyPair is an age key pair: the keys that seal, and those that open.
func keyPair(t *testing.T) (seal, open archive.V2Keys) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return archive.V2Keys{Recipients: []age.Recipient{id.Recipient()}, Kind: "x25519"},
		archive.V2Keys{Identities: []age.Identity{id}, Kind: "x25519"}
}

// putSegment stores the file's bytes [start, start+len(part)) sealed at
// key, and returns the segment a list names it by.
func putSegment(t *testing.T, st *s3test.Mem, seal archive.V2Keys, key string, start uint64, part []byte) Segment {
	t.Helper()
	sealed, err := archive.SealBytes(part, seal)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(t.Context(), key, bytes.NewReader(sealed), nil); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(sealed)
	return Segment{Key: key, Start: start, End: start + uint64(len(part)), Stored: int64(len(sealed)), SHA256: hex.EncodeToString(sum[:])}
}

// store holds files (the last one open) in a series, one segment each.
func store(t *testing.T, files map[string][]byte, partial ...string) (*s3test.Mem, *Index, archive.V2Keys) {
	t.Helper()
	seal, open := keyPair(t)
	st := &s3test.Mem{}
	s := Series{Port: "3306", ServerID: 1}
	ix := &Index{FormatVersion: IndexVersion, Port: "3306", ServerID: 1}
	names := []string{"bin.000001", "bin.000002", "bin.000003"}
	for _, name := range names {
		data, ok := files[name]
		if !ok {
			continue
		}
		seg := putSegment(t, st, seal, s.SegmentKey(name, 0), 0, data)
		if _, err := writeSegments(t.Context(), st, s, name, []Segment{seg}, ""); err != nil {
			t.Fatal(err)
		}
		f := ix.file(name)
		f.add(seg)
		f.Closed = true
		for _, p := range partial {
			f.Partial = f.Partial || p == name
		}
	}
	ix.Files[len(ix.Files)-1].Closed = false
	return st, ix, open
}

var at0 = time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)

func TestPlanUntilStopsOnTheTransactionBoundaryOfEachKindOfTarget(t *testing.T) {
	one, two := newBinlog(), newBinlog()
	one.tx(10, at0)                           // in the backup
	pos11 := one.tx(11, at0.Add(time.Minute)) // the backup's snapshot
	one.event(rotateEvent, at0.Add(time.Minute), append(make([]byte, 8), "bin.000002"...))
	two.tx(12, at0.Add(2*time.Minute))
	pos13 := two.tx(13, at0.Add(3*time.Minute))
	pos14 := two.tx(14, at0.Add(4*time.Minute))
	two.event(mariadbGTID, at0.Add(5*time.Minute), append(binary.LittleEndian.AppendUint64(nil, 15), 0, 0, 0, 0, 0)) // unfinished
	st, ix, keys := store(t, map[string][]byte{"bin.000001": one.buf.Bytes(), "bin.000002": two.buf.Bytes()})
	from := Snapshot{File: "bin.000001", Pos: pos11, GTID: "0-1-10"}
	end := uint64(two.buf.Len())
	cases := []struct {
		until, stop, gtid string
		txs               int
	}{
		{"2026-11-30T11:03:00Z", "bin.000002:" + itoa(pos14), "0-1-13", 3},
		{"2026-11-30 12:02:30 Europe/Paris", "bin.000002:" + itoa(pos13), "0-1-12", 2},
		{"gtid:0-1-13", "bin.000002:" + itoa(pos14), "0-1-13", 3},
		{"gtid:0-1-10", "bin.000001:" + itoa(pos11), "0-1-10", 0},
		{"pos:bin.000002:" + itoa(pos13), "bin.000002:" + itoa(pos13), "0-1-12", 2},
		{"latest", "bin.000002:" + itoa(end-32), "0-1-14", 4},
	}
	for _, c := range cases {
		tg, err := ParseTarget(c.until)
		if err != nil {
			t.Fatal(err)
		}
		var written bytes.Buffer
		plan, err := PlanUntil(t.Context(), st, keys, ix, from, tg, func(string) (io.WriteCloser, error) { return nopCloser{&written}, nil })
		if err != nil {
			t.Errorf("%s: %v", c.until, err)
			continue
		}
		if plan.Stop != c.stop || plan.StopGTID != c.gtid || plan.Transactions != c.txs {
			t.Errorf("%s: stop %s gtid %s after %d transactions; want %s, %s, %d", c.until, plan.Stop, plan.StopGTID, plan.Transactions, c.stop, c.gtid, c.txs)
		}
		if c.txs > 0 && (len(plan.Domains) != 1 || !strings.Contains(plan.Domains[0], "contiguous from the snapshot's 0-1-10")) {
			t.Errorf("%s: proof %v", c.until, plan.Domains)
		}
		if written.Len() == 0 {
			t.Errorf("%s: nothing written", c.until)
		}
	}
	refusals := map[string]string{
		"2026-11-30T11:30:00Z":             "after the last archived event",
		"gtid:0-1-20":                      "after the last archived event",
		"pos:bin.000002:" + itoa(pos13+32): "inside the transaction that starts at bin.000002:" + itoa(pos13),
		"pos:bin.000002:" + itoa(pos13+1):  "not an event boundary",
		"pos:bin.000002:" + itoa(end+100):  "bin.000002 ends at " + itoa(end) + " in the archive",
	}
	for until, want := range refusals {
		tg, err := ParseTarget(until)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := PlanUntil(t.Context(), st, keys, ix, from, tg, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want %q", until, err, want)
		}
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func TestPlanUntilRefusesAHoleAGapAndAPrunedStart(t *testing.T) {
	one, two := newBinlog(), newBinlog()
	snap := one.tx(10, at0)
	p11 := one.tx(11, at0.Add(time.Minute))
	one.tx(13, at0.Add(2*time.Minute)) // 12 missing
	two.tx(14, at0.Add(3*time.Minute))
	st, ix, keys := store(t, map[string][]byte{"bin.000001": one.buf.Bytes(), "bin.000002": two.buf.Bytes()})
	latest, _ := ParseTarget("latest")
	from := Snapshot{File: "bin.000001", Pos: snap, GTID: "0-1-9"}
	if _, err := PlanUntil(t.Context(), st, keys, ix, from, latest, nil); err == nil || !strings.Contains(err.Error(), "go from 0-1-11 to 0-1-13") {
		t.Errorf("a GTID hole: %v", err)
	}
	// The first file closed as partial (the server purged the rest first).
	st, ix, keys = store(t, map[string][]byte{"bin.000001": one.buf.Bytes()[:p11], "bin.000003": two.buf.Bytes()}, "bin.000001")
	ix.Gaps = []Gap{{After: "bin.000001:" + itoa(p11), Resume: "bin.000003", Why: "the server purged binlogs the archive did not have"}}
	_, err := PlanUntil(t.Context(), st, keys, ix, Snapshot{File: "bin.000001", Pos: 4, GTID: "0-1-9"}, latest, nil)
	if err == nil || !strings.Contains(err.Error(), "a gap in the binlog archive") || !strings.Contains(err.Error(), "purged binlogs") {
		t.Errorf("a gap: %v", err)
	}
	if _, err := PlanUntil(t.Context(), st, keys, &Index{Port: "3306", ServerID: 1, Files: ix.Files[1:]}, Snapshot{File: "bin.000001", Pos: 4, GTID: "0-1-9"}, latest, nil); err == nil || !strings.Contains(err.Error(), "starts at bin.000003, after the backup's snapshot file bin.000001") {
		t.Errorf("a pruned start: %v", err)
	}
}

func TestParseTargetWantsAZone(t *testing.T) {
	for _, bad := range []string{"2026-11-30 12:00:00", "2026-11-30T12:00:00", "gtid:", "pos:bin.000001", "pos:bin.000001:x", "yesterday"} {
		if _, err := ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q) took it", bad)
		}
	}
}

// gtidEvent is a MariaDB GTID event of domain and seq with flags.
func (b *binlog) gtidEvent(domain uint32, seq uint64, flags byte, at time.Time) uint64 {
	g := binary.LittleEndian.AppendUint64(nil, seq)
	g = binary.LittleEndian.AppendUint32(g, domain)
	return b.event(mariadbGTID, at, append(g, flags))
}

// A CREATE TABLE … SELECT is not standalone: its query, rows and XID are
// one transaction; a standalone DDL is its one query.
func TestPlanUntilKeepsACreateTableSelectWhole(t *testing.T) {
	b := newBinlog()
	snap := b.tx(10, at0)
	ctas := b.gtidEvent(0, 11, 0, at0)
	afterQuery := b.event(queryEvent, at0, query("CREATE TABLE c SELECT * FROM t"))
	b.event(30, at0, []byte("rows"))
	b.event(xidEvent, at0, make([]byte, 8))
	ddl := b.gtidEvent(0, 12, mariadbStandalone, at0)
	b.event(queryEvent, at0, query("DROP TABLE c"))
	end := uint64(b.buf.Len())
	b.gtidEvent(0, 13, 0, at0) // cut: the archive ends inside it
	b.event(queryEvent, at0, query("CREATE TABLE d SELECT 1"))
	st, ix, keys := store(t, map[string][]byte{"bin.000001": b.buf.Bytes()})
	from := Snapshot{File: "bin.000001", Pos: snap, GTID: "0-1-9"}
	_ = ctas
	pos, _ := ParseTarget("pos:bin.000001:" + itoa(afterQuery+uint64(headerLen+14+len("CREATE TABLE c SELECT * FROM t"))))
	if _, err := PlanUntil(t.Context(), st, keys, ix, from, pos, nil); err == nil || !strings.Contains(err.Error(), "inside the transaction that starts at bin.000001:"+itoa(ctas)) {
		t.Errorf("a stop after the CREATE … SELECT's query: %v", err)
	}
	latest, _ := ParseTarget("latest")
	plan, err := PlanUntil(t.Context(), st, keys, ix, from, latest, nil)
	if err != nil || plan.Stop != "bin.000001:"+itoa(end) || plan.StopGTID != "0-1-12" || plan.Transactions != 3 {
		t.Errorf("latest over an archive ending inside a CREATE … SELECT: %+v, %v; want the stop before it at %d, 0-1-12", plan, err, end)
	}
	_ = ddl
}

// The binlog interleaves domains: a GTID target that no prefix of it
// reaches exactly is refused, naming what is reachable; a target at the
// archive's last transaction is reached.
func TestPlanUntilGTIDTargetsAcrossDomains(t *testing.T) {
	b := newBinlog()
	snap := b.tx(10, at0)
	for _, g := range []struct {
		domain uint32
		seq    uint64
	}{{1, 6}, {2, 1}, {1, 7}, {2, 2}} {
		b.gtidEvent(g.domain, g.seq, 0, at0)
		b.event(queryEvent, at0, query("BEGIN"))
		b.event(xidEvent, at0, make([]byte, 8))
	}
	st, ix, keys := store(t, map[string][]byte{"bin.000001": b.buf.Bytes()})
	from := Snapshot{File: "bin.000001", Pos: snap, GTID: "0-1-9,1-1-5"}
	over, _ := ParseTarget("gtid:1-1-6,2-1-2")
	if _, err := PlanUntil(t.Context(), st, keys, ix, from, over, nil); err == nil || !strings.Contains(err.Error(), "commits 1-1-7") {
		t.Errorf("a target no prefix reaches: %v", err)
	}
	last, _ := ParseTarget("gtid:1-1-7,2-1-2")
	plan, err := PlanUntil(t.Context(), st, keys, ix, from, last, nil)
	if err != nil || plan.Stop != "bin.000001:"+itoa(uint64(b.buf.Len())) || plan.Transactions != 5 {
		t.Errorf("a target at the archive's last transaction: %+v, %v", plan, err)
	}
}

func TestAPositionTargetTakesTheBackupBeforeIt(t *testing.T) {
	tg, _ := ParseTarget("pos:mysql-bin.000003:4101")
	for pos, want := range map[string]bool{"mysql-bin.000003:4480": false, "mysql-bin.000003:4101": true, "mysql-bin.000002:9000": true, "mysql-bin.000004:4": false} {
		if got := tg.Includes("", pos, time.Time{}); got != want {
			t.Errorf("a backup at %s: %v, want %v", pos, got, want)
		}
	}
	if _, err := ParseTarget("pos:foo:100"); err == nil {
		t.Error("pos:foo:100 taken")
	}
}

// A compaction cut short at any step leaves the file readable whole: the
// list names the segments until it names the compacted object, and the
// segments go only after.
func TestACompactionCutShortLeavesTheFileWhole(t *testing.T) {
	b := newBinlog()
	for i := uint64(1); i <= 6; i++ {
		b.tx(i, at0)
	}
	data := b.buf.Bytes()
	seal, open := keyPair(t)
	st := &s3test.Mem{}
	s := Series{Port: "3306", ServerID: 1}
	var segs []Segment
	for _, cut := range [][2]int{{0, 100}, {100, 250}, {250, len(data)}} {
		segs = append(segs, putSegment(t, st, seal, s.RunSegmentKey("bin.000001", uint64(cut[0]), "r1"), uint64(cut[0]), data[cut[0]:cut[1]]))
	}
	tag, err := writeSegments(t.Context(), st, s, "bin.000001", segs, "")
	if err != nil {
		t.Fatal(err)
	}
	ix := &Index{FormatVersion: IndexVersion, Port: "3306", ServerID: 1}
	f := ix.file("bin.000001")
	summarize(f, segs)
	f.Closed = true
	a := &archiver{o: Options{Store: st, Keys: seal, OpenKeys: open, Port: "3306"}, ix: ix, file: "bin.000001", segs: segs, listTag: tag, run: "r2"}
	readBack := func(what string) {
		t.Helper()
		got, err := ReadSegments(t.Context(), st, s, "bin.000001")
		var buf bytes.Buffer
		if err == nil {
			err = ReadFile(t.Context(), st, open, s, File{Name: "bin.000001", End: uint64(len(data))}, &buf)
		}
		if err != nil || !bytes.Equal(buf.Bytes(), data) {
			t.Fatalf("%s: the file reads back as %d bytes, %v (list of %d)", what, buf.Len(), err, len(got))
		}
	}
	st.FailPut = func(key string) error {
		if key == s.ListKey("bin.000001") {
			return s3test.Fault
		}
		return nil
	}
	if err := a.compact(t.Context()); err == nil {
		t.Fatal("the compaction went through a failing list write")
	}
	readBack("after a compaction stopped before its list")
	st.FailPut = nil
	a.segs = segs
	if err := a.compact(t.Context()); err != nil {
		t.Fatal(err)
	}
	readBack("after the compaction")
	if got, _ := ReadSegments(t.Context(), st, s, "bin.000001"); len(got) != 1 || got[0].Key != s.CompactKey("bin.000001", 0, uint64(len(data))) {
		t.Errorf("the compacted list: %+v", got)
	}
	for _, seg := range segs {
		if _, err := st.Head(t.Context(), seg.Key); err == nil {
			t.Errorf("segment %s left after the compaction", seg.Key)
		}
	}
}

// A file compacted while it is read: the reader goes on from the new list,
// from where its copy is, and the bytes come out once.
func TestReadFileGoesOnThroughACompactionThatRemovedItsSegments(t *testing.T) {
	b := newBinlog()
	for i := uint64(1); i <= 4; i++ {
		b.tx(i, at0)
	}
	data := b.buf.Bytes()
	seal, open := keyPair(t)
	st := &s3test.Mem{}
	s := Series{Port: "3306", ServerID: 1}
	first := putSegment(t, st, seal, s.RunSegmentKey("bin.000001", 0, "r1"), 0, data[:100])
	second := putSegment(t, st, seal, s.RunSegmentKey("bin.000001", 100, "r1"), 100, data[100:])
	tag, _ := writeSegments(t.Context(), st, s, "bin.000001", []Segment{first, second}, "")
	whole := putSegment(t, st, seal, s.CompactKey("bin.000001", 0, uint64(len(data))), 0, data)
	// The compaction lands after the reader read the list and the first
	// segment: the list names the whole, the segments are gone.
	compacted := false
	w := writerFunc(func(p []byte) (int, error) {
		if !compacted {
			compacted = true
			if _, err := writeSegments(t.Context(), st, s, "bin.000001", []Segment{whole}, tag); err != nil {
				t.Fatal(err)
			}
			st.Delete(t.Context(), first.Key)
			st.Delete(t.Context(), second.Key)
		}
		return len(p), nil
	})
	var got bytes.Buffer
	if err := ReadFile(t.Context(), st, open, s, File{Name: "bin.000001", End: uint64(len(data))}, io.MultiWriter(w, &got)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Errorf("read %d bytes through the compaction, the file has %d (or they differ)", got.Len(), len(data))
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
