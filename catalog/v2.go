package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/s3"
)

// The v2 layout, beside the legacy object of the same date and port:
//
//	{date}/{port}/mysql-{port}.v2/manifest.json          the commit marker
//	{date}/{port}/mysql-{port}.v2/{run}/started.json     who started the run, when
//	{date}/{port}/mysql-{port}.v2/{run}/data.xbstream.zst.age
//	{date}/{port}/mysql-{port}.v2/{run}/binlogs.tar.zst.age
//	{date}/{port}/mysql-{port}.v2/{run}/my.cnf.zst.age
//
// Each run writes its own directory, and the manifest, written last in one
// PUT, names the run it commits: a second backup of the same date replaces
// the first atomically, and a run that dies leaves a directory no manifest
// names, which is an incomplete backup.
const (
	FormatLegacy = "legacy"
	FormatV2     = "v2"

	ManifestName = "manifest.json"
	StartedName  = "started.json"
	// ManifestVersion is the highest format_version this mysqlbackup
	// reads and writes: 3 for a backup whose binlogs stay in the binlog
	// archive (BinlogArchive), so that a mysqlbackup that knows only
	// bundled binlogs refuses it as newer instead of failing half-way.
	ManifestVersion = 3
	// BundledVersion is the format_version of a backup that bundles its
	// binlogs: what every v2 mysqlbackup reads.
	BundledVersion = 2
)

// Object roles in a v2 backup, and their names in the run directory.
const (
	RoleData    = "data"    // the engine's xbstream
	RoleBinlogs = "binlogs" // tar of the binary logs and their index
	RoleMyCnf   = "my.cnf"  // the instance's my.cnf
)

// ObjectNames maps each role to its object's name in the run directory.
var ObjectNames = map[string]string{
	RoleData:    "data.xbstream.zst.age",
	RoleBinlogs: "binlogs.tar.zst.age",
	RoleMyCnf:   "my.cnf.zst.age",
}

// V2Prefix is the directory of the v2 backups of port on date.
func V2Prefix(date, port string) string {
	return date + "/" + port + "/mysql-" + port + ".v2/"
}

// Manifest describes a complete v2 backup.
type Manifest struct {
	FormatVersion int    `json:"format_version"`
	Tool          string `json:"tool"`
	Date          string `json:"date"`
	Port          string `json:"port"`
	Run           string `json:"run"`
	Host          string `json:"host"`
	InstanceID    string `json:"instance_id"` // server_uuid (MySQL) or server_id (MariaDB)
	// ServerID is the server_id of the server backed up: its binlogs hold
	// the snapshot position (the binlog archive's series).
	ServerID      uint32 `json:"server_id,omitempty"`
	Flavor        string `json:"flavor"`
	ServerVersion string `json:"server_version"`
	Engine        string `json:"engine"`
	EngineVersion string `json:"engine_version"`
	BinlogFile    string `json:"binlog_file"`
	BinlogPos     uint64 `json:"binlog_pos"`
	GTID          string `json:"gtid,omitempty"`
	SlaveInfo     string `json:"slave_info,omitempty"`
	BinlogEnd     string `json:"binlog_end"` // file:size of the last binlog copied
	// BinlogArchive (format_version 3), in place of a binlogs object, is
	// the stretch of the binlog archive the backup relies on: from its
	// snapshot to BinlogEnd.
	BinlogArchive *ArchiveRange `json:"binlog_archive,omitempty"`
	// FromScratch: the backup was taken from a scratch copy replicating
	// the server (backup --from-scratch): the snapshot position is in the
	// copy's binlog, not in that of server ServerID, whose archive a
	// point-in-time restore then follows by GTIDs.
	FromScratch bool `json:"from_scratch,omitempty"`
	// What restore-test checks a restore against: the GTID position at
	// BinlogEnd (MariaDB: the snapshot's and every transaction of the
	// delta), the user tables that existed on both sides of the binlog
	// listing (left out beyond MaxTables; TableCount counts them), and the
	// value sql_test_insert wrote just before it.
	BinlogEndGTID string    `json:"binlog_end_gtid,omitempty"`
	TableCount    int       `json:"table_count,omitempty"`
	Tables        []string  `json:"tables,omitempty"`
	TestValue     string    `json:"sql_test_value,omitempty"`
	Compression   string    `json:"compression"`
	Encryption    string    `json:"encryption"` // "age-x25519" or "age-scrypt"
	Recipients    []string  `json:"recipients,omitempty"`
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished"`
	Objects       []Object  `json:"objects"`
	PlainBytes    int64     `json:"plain_bytes"`
	StoredBytes   int64     `json:"stored_bytes"`
}

// MaxTables bounds the table list a manifest records.
const MaxTables = 20000

// ArchiveRange is the stretch of a binlog archive series that a backup
// without bundled binlogs relies on: every byte from From to To was in
// the archive, contiguous, when the backup was committed.
type ArchiveRange struct {
	Series   string `json:"series"`    // the series' prefix: binlog-archive/{port}/{server_id}/
	ServerID uint32 `json:"server_id"` // of the archived server, the one backed up
	From     string `json:"from"`      // file:pos: the snapshot
	To       string `json:"to"`        // file:pos: the binlogs' end when the data was done (BinlogEnd)
	// FromCreated is when the server created the snapshot's file (its
	// first event): the archive's file of that name must be the same one,
	// not another history's.
	FromCreated time.Time `json:"from_created,omitzero"`
	// Oldest is the oldest binlog the server had when the backup was
	// taken: a restore brings the archived files from there on back, as a
	// bundled backup brings all the server had (replicas behind the
	// snapshot resume from them).
	Oldest string `json:"oldest,omitempty"`
	Files  int    `json:"files"`
	Bytes  uint64 `json:"bytes"`
	// Proof is how the backup checked the stretch: "events" (every event
	// read, GTIDs followed, with the opening keys) or "index" (the index
	// and segment lists, every segment object present at its size).
	Proof string `json:"proof"`
	// StopGTID is the GTID position at To (events proof only).
	StopGTID     string `json:"stop_gtid,omitempty"`
	Transactions int    `json:"transactions,omitempty"`
}

// Object is one part of a v2 backup: a stored stream, in one S3 object
// or, when larger than one multipart upload holds at the part size, in
// Pieces (Key is then the first piece's).
type Object struct {
	Role      string  `json:"role"`
	Key       string  `json:"key"`
	Size      int64   `json:"size"`       // stored bytes
	SHA256    string  `json:"sha256"`     // of the stored bytes
	PlainSize int64   `json:"plain_size"` // before compression and encryption
	Pieces    []Piece `json:"pieces,omitempty"`
}

// Piece is one S3 object holding a stretch of a stored stream.
type Piece struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// StoredPieces are the S3 objects of o, in stream order.
func (o Object) StoredPieces() []Piece {
	if len(o.Pieces) == 0 {
		return []Piece{{Key: o.Key, Size: o.Size, SHA256: o.SHA256}}
	}
	return o.Pieces
}

// Object returns the object of role.
func (m *Manifest) Object(role string) (Object, bool) {
	for _, o := range m.Objects {
		if o.Role == role {
			return o, true
		}
	}
	return Object{}, false
}

// Check refuses a manifest that a restore could not use.
func (m *Manifest) Check() error {
	if m.FormatVersion > ManifestVersion {
		return fmt.Errorf("manifest written by a newer mysqlbackup (format_version %d; this one reads %d)", m.FormatVersion, ManifestVersion)
	}
	if m.FormatVersion < BundledVersion {
		return fmt.Errorf("manifest format_version %d, this mysqlbackup reads %d to %d", m.FormatVersion, BundledVersion, ManifestVersion)
	}
	roles := []string{RoleData, RoleBinlogs, RoleMyCnf}
	if a := m.BinlogArchive; a != nil {
		if _, ok := m.Object(RoleBinlogs); ok {
			return errors.New("manifest lists both a binlogs object and a binlog archive stretch")
		}
		if m.FormatVersion < ManifestVersion {
			return fmt.Errorf("manifest format_version %d names a binlog archive stretch (format_version %d)", m.FormatVersion, ManifestVersion)
		}
		if a.ServerID == 0 || a.Series == "" || !strings.Contains(a.From, ":") || !strings.Contains(a.To, ":") {
			return fmt.Errorf("manifest: binlog archive stretch without series, server_id, from or to (%+v)", *a)
		}
		roles = []string{RoleData, RoleMyCnf}
	}
	for _, role := range roles {
		o, ok := m.Object(role)
		if !ok {
			return fmt.Errorf("manifest lists no %s object", role)
		}
		if len(o.SHA256) != 64 || o.Key == "" {
			return fmt.Errorf("manifest: %s object without key or sha256", role)
		}
		var total int64
		for _, p := range o.StoredPieces() {
			total += p.Size
		}
		if total != o.Size {
			return fmt.Errorf("manifest: the pieces of the %s object add up to %d bytes, not %d", role, total, o.Size)
		}
	}
	if m.BinlogFile == "" {
		return errors.New("manifest has no binlog position")
	}
	return nil
}

// Started is the first object of a run: it makes a run that dies before
// its manifest visible (list shows it incomplete, prune removes it once
// it is dead). The running backup rewrites it every few minutes as its
// heartbeat, and deletes it once its manifest is written.
type Started struct {
	Run     string    `json:"run"`
	Host    string    `json:"host"`
	Machine string    `json:"machine,omitempty"` // /etc/machine-id
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	// Heartbeat is when the running backup last rewrote this object (by
	// its clock; prune goes by the store's time of the object).
	Heartbeat time.Time `json:"heartbeat,omitzero"`
}

// MaxJSON bounds what ReadJSON reads.
const MaxJSON = 4 << 20

// ReadJSON gets a small JSON object; one over MaxJSON bytes is an error.
func ReadJSON(ctx context.Context, st s3.Store, key string, v any) error {
	data, err := readSmall(ctx, st, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// PutJSON stores v as an indented JSON object.
func PutJSON(ctx context.Context, st s3.Store, key string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return st.Put(ctx, key, bytes.NewReader(append(data, '\n')), nil)
}

// v2KeyRe matches {date}/{port}/mysql-{port}.v2/{rest}.
var v2KeyRe = regexp.MustCompile(`^([^/]+)/([0-9]+)/mysql-([0-9]+)\.v2/(.+)$`)

type v2Group struct {
	date, port, prefix string
	manifest           *s3.Info
	runs               map[string][]s3.Info
}

// listV2 turns the v2 objects of objs into backups: the one a manifest
// commits, and an incomplete one per run directory it does not name.
func listV2(ctx context.Context, st s3.Store, objs []s3.Info, port string) []Backup {
	groups := map[string]*v2Group{}
	var order []string
	for _, o := range objs {
		m := v2KeyRe.FindStringSubmatch(o.Key)
		if m == nil || m[2] != m[3] || (port != "" && m[2] != port) {
			continue
		}
		prefix := V2Prefix(m[1], m[2])
		g := groups[prefix]
		if g == nil {
			g = &v2Group{date: m[1], port: m[2], prefix: prefix, runs: map[string][]s3.Info{}}
			groups[prefix] = g
			order = append(order, prefix)
		}
		if m[4] == ManifestName {
			g.manifest = &o
			continue
		}
		run, _, ok := strings.Cut(m[4], "/")
		if !ok {
			continue // not ours
		}
		g.runs[run] = append(g.runs[run], o)
	}
	var out []Backup
	for _, prefix := range order {
		out = append(out, groups[prefix].backups(ctx, st)...)
	}
	return out
}

// backups classifies a date's v2 objects. When its manifest cannot be
// read, no run of the date is known not to be the one it commits: they
// are all unknown.
func (g *v2Group) backups(ctx context.Context, st s3.Store) []Backup {
	var out []Backup
	committed, unknown := "", ""
	if g.manifest != nil {
		b, ok := g.committed(ctx, st)
		if ok {
			committed, unknown = b.Run, b.Unknown
			out = append(out, b)
		}
	}
	runs := make([]string, 0, len(g.runs))
	for run := range g.runs {
		if run != committed || unknown != "" {
			runs = append(runs, run)
		}
	}
	sort.Strings(runs)
	for _, run := range runs {
		b := g.run(ctx, st, run)
		if unknown != "" {
			b.Unknown = "may be the run of its date's manifest, which is unknown: " + unknown
		}
		out = append(out, b)
	}
	return out
}

// committed is the backup the manifest commits, unknown when the
// manifest cannot be read or used; false when it was removed since the
// listing.
func (g *v2Group) committed(ctx context.Context, st s3.Store) (Backup, bool) {
	b := Backup{Date: g.date, Port: g.port, Format: FormatV2, Key: g.prefix, Modified: g.manifest.Modified, Keys: []string{g.manifest.Key}}
	var m Manifest
	err := ReadJSON(ctx, st, g.manifest.Key, &m)
	if errors.Is(err, s3.ErrNotExist) {
		return Backup{}, false
	}
	if err == nil {
		err = m.Check()
	}
	if err != nil {
		b.Unknown = err.Error()
		return b, true
	}
	data, _ := m.Object(RoleData)
	b.Complete, b.Run, b.Host, b.Manifest = true, m.Run, m.Host, &m
	b.Size, b.Checksum = m.StoredBytes, "sha256:"+data.SHA256
	b.Position, b.GTID = fmt.Sprintf("%s:%d", m.BinlogFile, m.BinlogPos), m.GTID
	if m.BinlogArchive != nil {
		b.BinlogArchive = m.BinlogArchive.Series
	}
	for _, o := range g.runs[m.Run] {
		b.Keys = append(b.Keys, o.Key)
	}
	return b, true
}

// run is an incomplete backup: a run directory no manifest names, with
// its heartbeat (the listed time of its started.json) and who wrote it.
func (g *v2Group) run(ctx context.Context, st s3.Store, run string) Backup {
	b := Backup{Date: g.date, Port: g.port, Format: FormatV2, Key: g.prefix + run + "/", Run: run}
	for _, o := range g.runs[run] {
		b.Keys = append(b.Keys, o.Key)
		b.Size += o.Size
		if o.Modified.After(b.Modified) {
			b.Modified = o.Modified
		}
		if o.Key == b.Key+StartedName {
			b.Heartbeat = o.Modified
		}
	}
	if b.Heartbeat.IsZero() {
		return b
	}
	var s Started
	if err := ReadJSON(ctx, st, b.Key+StartedName, &s); err != nil {
		b.Problem = err.Error() // the heartbeat alone judges the run
	} else {
		b.Host, b.Machine, b.PID = s.Host, s.Machine, s.PID
	}
	return b
}

// PieceKey names piece i of the object key: the first piece is the key
// itself, the next ones key.0001, key.0002, …
func PieceKey(key string, i int) string {
	if i == 0 {
		return key
	}
	return fmt.Sprintf("%s.%04d", key, i)
}

// uploadCandidates are the keys a run in runDir may have an unfinished
// upload of: each object's first piece, and the piece after the last
// stored one.
func uploadCandidates(runDir string, keys []string) []string {
	var out []string
	for _, name := range ObjectNames {
		base, n := runDir+name, 0
		for _, k := range keys {
			if k == base || strings.HasPrefix(k, base+".") {
				n++
			}
		}
		for i := 0; i <= n; i++ {
			out = append(out, PieceKey(base, i))
		}
	}
	return out
}

// ErrNowComplete is returned by Remove for an incomplete v2 run that a
// manifest committed since it was listed: it is a backup now, and stays.
var ErrNowComplete = errors.New("completed since it was listed; kept")

// ErrReplaced is returned by Remove for a complete v2 backup whose date's
// manifest commits another run since it was listed: that manifest, a
// newer backup's, stays.
var ErrReplaced = errors.New("replaced by another backup of its date since it was listed; kept")

// Remove deletes a backup of either format. A v2 backup loses its manifest
// first, so a removal cut short never leaves a complete-looking backup
// with objects missing; unfinished uploads of its objects are aborted.
// The manifest is read again first, and the removal refused if it no
// longer says what the listing did. A backup of unknown state is refused.
func Remove(ctx context.Context, st s3.Store, b Backup) error {
	if b.Unknown != "" {
		return &UnknownError{Backups: []Backup{b}}
	}
	if b.Format != FormatV2 {
		if !b.Complete {
			if err := st.AbortUploads(ctx, b.Key); err != nil {
				return err
			}
		}
		// Beside objects (a temporary object's beat and probe) first, the
		// object they go with last: a removal cut short leaves an object
		// still listed, never an orphan.
		keys := b.Keys
		if !slices.Contains(keys, b.Key) {
			keys = append([]string{b.Key}, keys...)
		}
		for i := len(keys) - 1; i >= 0; i-- {
			if err := st.Delete(ctx, keys[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if err := b.recheck(ctx, st); err != nil {
		return err
	}
	if b.Run != "" {
		runDir := b.Key
		if b.Complete {
			runDir = b.Key + b.Run + "/"
		}
		for _, key := range uploadCandidates(runDir, b.Keys) {
			if err := st.AbortUploads(ctx, key); err != nil {
				return err
			}
		}
	}
	for _, k := range b.Keys {
		if err := st.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// recheck reads the manifest of a v2 backup's date again: it must still
// commit the complete backup's run, or not commit the incomplete one's.
func (b Backup) recheck(ctx context.Context, st s3.Store) error {
	key := strings.TrimSuffix(b.Key, b.Run+"/") + ManifestName
	if b.Complete {
		key = b.Key + ManifestName
	}
	var m Manifest
	err := ReadJSON(ctx, st, key, &m)
	switch {
	case errors.Is(err, s3.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("read %s again: %w", key, err)
	case b.Complete && m.Run != b.Run:
		return ErrReplaced
	case !b.Complete && b.Run != "" && m.Run == b.Run:
		return ErrNowComplete
	}
	return nil
}
