// Package catalog knows which backups exist in the object store: it lists
// them per port (complete, incomplete or of unknown state), picks the
// latest, and plans what a retention policy removes.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/s3"
)

// PartialSuffix names the temporary object a backup streams into before
// it is published; one that stays means a run died. Each run has its own,
// PartialKey: the members of a replication group share a port, so their
// nightly runs write the same final key at the same time. (Versions before
// this change used the bare suffix alone, which prune still recognises.)
const PartialSuffix = ".partial"

// PartialKey is the temporary object of run for the final key: the
// bare suffix and the run's name, which names its host.
func PartialKey(key, run string) string { return key + PartialSuffix + "." + run }

// Objects beside a legacy temporary object: its run's heartbeat (a
// Started rewritten every few minutes from the run's start to its end,
// through the upload and the copy), and the probe of the store's
// server-side copy. They go with it.
const (
	BeatSuffix      = ".beat"
	CopyCheckSuffix = ".copy-check"
)

// Metadata keys a backup of this tool adds beside the legacy "sha1".
const (
	MetaBinlogPos = "binlog-pos" // file:position of the snapshot
	MetaGTID      = "gtid"       // GTID position of the snapshot
	MetaEndGTID   = "gtid-end"   // GTID position at the binlogs' end (the snapshot's and the delta)
	MetaTestValue = "test-value" // what sql_test_insert wrote before the binlogs were listed
	MetaRun       = "run"        // the run that published the object (its temporary object's name)
)

// Backup is one backup in the store. It is in one of three states:
// complete; incomplete (a run without a manifest or a temporary object,
// whose run Liveness judges dead or maybe running); or, when Unknown is
// set, unknown: something that had to be read could not be, so it may
// be either, and nothing removes it or falls back past it.
type Backup struct {
	Date     string    `json:"date"`
	Port     string    `json:"port"`
	Format   string    `json:"format"` // "legacy" (tgz.des3) or "v2"
	Key      string    `json:"key"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	Checksum string    `json:"checksum,omitempty"` // "sha1:<hex>" or "md5:<hex>"
	Position string    `json:"binlog_position,omitempty"`
	GTID     string    `json:"gtid,omitempty"`
	Complete bool      `json:"complete"`
	// Unknown is why it is not known whether the backup is complete (a
	// manifest that could not be read, or that this version cannot use).
	Unknown string `json:"unknown,omitempty"`
	// Problem is a read error that left a detail out (a legacy object's
	// metadata, a run's started.json), not the backup's state.
	Problem string `json:"problem,omitempty"`
	// BinlogArchive (v2) is the binlog archive series that holds the
	// backup's binlogs, when it left them there (backup_binlogs).
	BinlogArchive string `json:"binlog_archive,omitempty"`
	Run           string `json:"run,omitempty"`  // v2: the run directory
	Host          string `json:"host,omitempty"` // the host that wrote it
	PID           int    `json:"pid,omitempty"`  // incomplete: the process that wrote it
	// Machine (incomplete) is the writing host's /etc/machine-id: two hosts
	// of one name (clones) are not taken for each other.
	Machine string `json:"machine,omitempty"`
	// Heartbeat (v2, incomplete) is when the run last wrote its
	// started.json, by the store's clock; zero when it has none.
	Heartbeat time.Time `json:"heartbeat,omitzero"`

	Keys     []string  `json:"-"` // every object, the manifest first
	Manifest *Manifest `json:"-"` // v2, complete
}

// Finished is when the backup's snapshot was taken at the latest: its
// manifest's end (v2), else when its object was stored.
func (b Backup) Finished() time.Time {
	if b.Manifest != nil && !b.Manifest.Finished.IsZero() {
		return b.Manifest.Finished
	}
	return b.Modified
}

// keyRe matches {date}/{port}/mysql-{port}.tgz.des3[.partial[.{run}]].
var keyRe = regexp.MustCompile(`^([^/]+)/([0-9]+)/mysql-([0-9]+)\.tgz\.des3(\.partial(?:\.[^/]+)?)?$`)

// List returns the backups of port ("" = every port), oldest first, with
// the metadata of each complete one. It follows pagination to the end.
// A listing that fails is an error; a backup that cannot be read is
// listed as unknown.
func List(ctx context.Context, st s3.Store, port string) ([]Backup, error) {
	objs, err := st.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	out := legacyBackups(ctx, st, objs, port)
	out = append(out, listV2(ctx, st, objs, port)...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Modified.Before(out[j].Modified) })
	return out, nil
}

// Partials are the temporary objects of the final legacy key: the runs
// uploading it now, and those that died doing so, with their host and pid.
func Partials(ctx context.Context, st s3.Store, key string) ([]Backup, error) {
	objs, err := st.List(ctx, key+PartialSuffix)
	if err != nil {
		return nil, err
	}
	var out []Backup
	for _, b := range legacyBackups(ctx, st, objs, "") {
		if !b.Complete && strings.HasPrefix(b.Key, key+PartialSuffix) {
			out = append(out, b)
		}
	}
	return out, nil
}

// legacyBackups are the legacy archives and temporary objects among objs,
// each temporary object with its heartbeat and copy probe.
func legacyBackups(ctx context.Context, st s3.Store, objs []s3.Info, port string) []Backup {
	present := map[string]bool{}
	beside := map[string][]s3.Info{} // temporary object's key → its beat and probe
	for _, o := range objs {
		present[o.Key] = true
		if base, ok := besideOf(o.Key); ok {
			beside[base] = append(beside[base], o)
		}
	}
	var out []Backup
	for _, o := range objs {
		// A beat or probe goes with its temporary object; without one (a
		// removal cut short between them), it is a leftover of its own,
		// dead an hour after its last write.
		base, side := besideOf(o.Key)
		if side && present[base] {
			continue
		}
		m := keyRe.FindStringSubmatch(o.Key)
		if m == nil || m[2] != m[3] || (port != "" && m[2] != port) {
			continue
		}
		b := Backup{Date: m[1], Port: m[2], Format: FormatLegacy, Key: o.Key, Keys: []string{o.Key}, Size: o.Size, Modified: o.Modified, Complete: m[4] == ""}
		for _, x := range beside[o.Key] {
			b.Keys = append(b.Keys, x.Key)
			if strings.HasSuffix(x.Key, BeatSuffix) {
				b.Heartbeat = x.Modified
			}
		}
		if side {
			b.Heartbeat = o.Modified
		}
		if b.readMetadata(ctx, st) {
			out = append(out, b)
		}
	}
	return out
}

// besideOf is the temporary object key is the beat or copy probe of.
func besideOf(key string) (string, bool) {
	for _, suffix := range []string{BeatSuffix, CopyCheckSuffix} {
		if base, ok := strings.CutSuffix(key, suffix); ok && strings.Contains(base, PartialSuffix+".") {
			return base, true
		}
	}
	return "", false
}

// Metadata keys of a legacy temporary object: the run that writes it.
const (
	MetaHost    = "host"
	MetaPID     = "pid"
	MetaMachine = "machine"
)

// readMetadata reads the checksum and position of a legacy archive, or
// the host and pid of a temporary object. It is false when the object is
// gone since the listing (published, or removed).
func (b *Backup) readMetadata(ctx context.Context, st s3.Store) bool {
	info, err := st.Head(ctx, b.Key)
	if errors.Is(err, s3.ErrNotExist) {
		return false
	}
	if err != nil {
		b.Problem = "metadata: " + err.Error()
		return true
	}
	switch {
	case !b.Complete:
		b.Host, b.Machine = info.Metadata[MetaHost], info.Metadata[MetaMachine]
		b.PID, _ = strconv.Atoi(info.Metadata[MetaPID])
	case info.Metadata["sha1"] != "":
		b.Checksum = "sha1:" + info.Metadata["sha1"]
	case info.Metadata["md5"] != "":
		b.Checksum = "md5:" + info.Metadata["md5"]
	}
	b.Position, b.GTID = info.Metadata[MetaBinlogPos], info.Metadata[MetaGTID]
	return true
}

// LatestOf is the newest complete backup of port in st, if any.
func LatestOf(ctx context.Context, st s3.Store, port string) (Backup, bool, error) {
	bs, err := List(ctx, st, port)
	if err != nil {
		return Backup{}, false, err
	}
	return Latest(bs)
}

// Latest is the newest complete backup, if any. A backup of unknown state
// newer than it is an *UnknownError: it may be the newest complete one,
// and an older one is not what was asked for.
func Latest(bs []Backup) (Backup, bool, error) {
	for i := len(bs) - 1; i >= 0; i-- {
		switch {
		case bs[i].Unknown != "":
			return Backup{}, false, &UnknownError{Backups: bs[i : i+1]}
		case bs[i].Complete:
			return bs[i], true, nil
		}
	}
	return Backup{}, false, nil
}

// UnknownError names backups whose state is unknown, which a decision
// (what to prune, which backup is the latest) could not be made about.
type UnknownError struct{ Backups []Backup }

func (e *UnknownError) Error() string {
	var parts []string
	for _, b := range e.Backups {
		parts = append(parts, fmt.Sprintf("%s (%s)", b.Key, b.Unknown))
	}
	return "could not classify: " + strings.Join(parts, "; ")
}

// Ages after which a run that left no other sign is dead.
const (
	// HeartbeatDeadAge: a v2 run rewrites its started.json every few
	// minutes while it goes (backup.HeartbeatInterval); one not rewritten
	// for this long is dead, whatever its start.
	HeartbeatDeadAge = time.Hour
	// PartialDeadAge: a legacy temporary object exists from the end of
	// its upload until its server-side copy to the final key ends. The
	// copy of a large archive takes hours, and the object has no
	// heartbeat: it is dead after a day, or at once when it names this
	// host and a process that is gone.
	PartialDeadAge = 24 * time.Hour
)

// Liveness judges whether the run of an incomplete backup is dead. A run
// is dead only when it is known to be: a v2 run without started.json
// (which a run writes first and deletes only after its manifest); one
// whose heartbeat is older than HeartbeatAge; a temporary object older
// than PartialAge; or a run whose record names this host and a process
// that is gone. A zero field is no rule.
type Liveness struct {
	Host         string             // this host's name
	Machine      string             // this host's machine id ("" if unknown)
	Alive        func(pid int) bool // whether a process of this host exists
	HeartbeatAge time.Duration
	PartialAge   time.Duration
}

// Dead says whether b's run is dead at now, and why it is or may not be.
// A complete backup or one of unknown state is never dead.
func (l Liveness) Dead(b Backup, now time.Time) (bool, string) {
	if b.Complete || b.Unknown != "" {
		return false, ""
	}
	sameMachine := b.Machine == "" || l.Machine == "" || b.Machine == l.Machine
	here := l.Alive != nil && l.Host != "" && b.Host == l.Host && sameMachine && b.PID > 0
	gone := here && !l.Alive(b.PID)
	if b.Format == FormatV2 {
		age := now.Sub(b.Heartbeat).Round(time.Second)
		switch {
		case b.Heartbeat.IsZero():
			return true, "no " + StartedName + ": a replaced run, or a removal cut short"
		case gone:
			return true, fmt.Sprintf("pid %d on %s is gone", b.PID, b.Host)
		case l.HeartbeatAge > 0 && age > l.HeartbeatAge:
			return true, fmt.Sprintf("last heartbeat %s ago", age)
		}
		return false, fmt.Sprintf("may be running: last heartbeat %s ago", age)
	}
	age := now.Sub(b.Modified).Round(time.Second)
	beat := now.Sub(b.Heartbeat).Round(time.Second)
	switch {
	case gone:
		return true, fmt.Sprintf("pid %d on %s is gone", b.PID, b.Host)
	case !b.Heartbeat.IsZero() && l.HeartbeatAge > 0 && beat > l.HeartbeatAge:
		// Before "runs here": after a reboot, another process may have
		// the dead run's pid.
		return true, fmt.Sprintf("last heartbeat %s ago", beat)
	case here:
		return false, fmt.Sprintf("pid %d runs on this host", b.PID)
	case !b.Heartbeat.IsZero():
		return false, fmt.Sprintf("may be running: last heartbeat %s ago", beat)
	case l.PartialAge > 0 && age > l.PartialAge:
		return true, fmt.Sprintf("temporary object %s old", age)
	}
	return false, fmt.Sprintf("may be uploading or copying: temporary object %s old", age)
}

// Policy is a retention policy; a zero Count or Age is not a limit.
type Policy struct {
	Count int           // keep the complete backups of this many newest dates
	Age   time.Duration // remove complete backups older than this
	Runs  Liveness      // incomplete backups go when their run is dead
}

// Plan is what Prune decides.
type Plan struct {
	Remove []Removal // oldest first
	// Unknown are the backups of unknown state: kept, and not counted
	// as complete.
	Unknown []Backup
}

// Removal is a backup to remove and why.
type Removal struct {
	Backup
	Why string
}

// Prune plans what the policy removes from bs: the incomplete backups
// whose run is dead, and the complete backups retention does not keep.
// Retention counts dates, so a legacy and a v2 backup of one date count
// once and go together: a date goes when every limit set says so, beyond
// the Count newest dates of its port and its newest backup older than
// Age. The newest date of each port is never removed, nor a backup of
// unknown state.
func Prune(bs []Backup, p Policy, now time.Time) Plan {
	var plan Plan
	var complete []Backup
	for _, b := range bs {
		switch dead, why := p.Runs.Dead(b, now); {
		case b.Unknown != "":
			plan.Unknown = append(plan.Unknown, b)
		case b.Complete:
			complete = append(complete, b)
		case dead:
			plan.Remove = append(plan.Remove, Removal{b, "dead run: " + why})
		}
	}
	plan.Remove = append(plan.Remove, p.expired(complete, now)...)
	sort.SliceStable(plan.Remove, func(i, j int) bool { return plan.Remove[i].Modified.Before(plan.Remove[j].Modified) })
	return plan
}

// retained is one date of one port: the unit retention counts.
type retained struct {
	newest time.Time
	bs     []Backup
}

// expired are the complete backups that retention does not keep.
func (p Policy) expired(complete []Backup, now time.Time) []Removal {
	if p.Count == 0 && p.Age == 0 {
		return nil
	}
	units := map[[2]string]*retained{}
	ports := map[string][]*retained{}
	for _, b := range complete {
		k := [2]string{b.Port, b.Date}
		u := units[k]
		if u == nil {
			u = &retained{}
			units[k] = u
			ports[b.Port] = append(ports[b.Port], u)
		}
		u.bs = append(u.bs, b)
		if b.Modified.After(u.newest) {
			u.newest = b.Modified
		}
	}
	var out []Removal
	for _, us := range ports {
		sort.SliceStable(us, func(i, j int) bool { return us[i].newest.After(us[j].newest) })
		for i, u := range us[1:] { // the newest date stays
			fromNewest := i + 1
			beyondCount := p.Count == 0 || fromNewest >= p.Count
			tooOld := p.Age == 0 || now.Sub(u.newest) > p.Age
			if beyondCount && tooOld {
				for _, b := range u.bs {
					out = append(out, Removal{b, "retention"})
				}
			}
		}
	}
	return out
}

// Describe is a one-line summary of a backup.
func (b Backup) Describe() string {
	parts := []string{b.Date, "port=" + b.Port, b.Format, fmt.Sprintf("size=%d", b.Size), b.State()}
	if b.Checksum != "" {
		parts = append(parts, b.Checksum)
	}
	if b.Position != "" {
		parts = append(parts, "binlog="+b.Position)
	}
	if b.GTID != "" {
		parts = append(parts, "gtid="+b.GTID)
	}
	if b.BinlogArchive != "" {
		parts = append(parts, "binlogs=archive:"+b.BinlogArchive)
	}
	return strings.Join(parts, " ")
}

// State is "complete", "INCOMPLETE" or "UNKNOWN (why)".
func (b Backup) State() string {
	switch {
	case b.Unknown != "":
		return "UNKNOWN (" + b.Unknown + ")"
	case b.Complete:
		return "complete"
	}
	return "INCOMPLETE"
}
