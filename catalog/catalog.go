// Package catalog knows which backups exist in the object store: it lists
// them per port (complete or not), picks the latest, and plans what a
// retention policy removes.
package catalog

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/s3"
)

// PartialSuffix names the temporary object a backup streams into before
// it is published; one that stays means a run died.
const PartialSuffix = ".partial"

// Metadata keys a backup of this tool adds beside the legacy "sha1".
const (
	MetaBinlogPos = "binlog-pos" // file:position of the snapshot
	MetaGTID      = "gtid"       // GTID position of the snapshot
)

// Backup is one backup in the store.
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
	Run      string    `json:"run,omitempty"`     // v2: the run directory
	Host     string    `json:"host,omitempty"`    // v2: the host that wrote it
	PID      int       `json:"pid,omitempty"`     // v2, incomplete: the process that wrote it
	Problem  string    `json:"problem,omitempty"` // why a manifest is unusable

	Keys     []string  `json:"-"` // every object, the manifest first
	Manifest *Manifest `json:"-"` // v2, complete
}

// keyRe matches {date}/{port}/mysql-{port}.tgz.des3[.partial].
var keyRe = regexp.MustCompile(`^([^/]+)/([0-9]+)/mysql-([0-9]+)\.tgz\.des3(\.partial)?$`)

// List returns the backups of port ("" = every port), oldest first, with
// the metadata of each complete one. It follows pagination to the end.
func List(ctx context.Context, st s3.Store, port string) ([]Backup, error) {
	objs, err := st.List(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []Backup
	for _, o := range objs {
		m := keyRe.FindStringSubmatch(o.Key)
		if m == nil || m[2] != m[3] || (port != "" && m[2] != port) {
			continue
		}
		b := Backup{Date: m[1], Port: m[2], Format: FormatLegacy, Key: o.Key, Keys: []string{o.Key}, Size: o.Size, Modified: o.Modified, Complete: m[4] == ""}
		if b.Complete {
			if err := b.readMetadata(ctx, st); err != nil {
				return nil, err
			}
		}
		out = append(out, b)
	}
	v2, err := listV2(ctx, st, objs, port)
	if err != nil {
		return nil, err
	}
	out = append(out, v2...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Modified.Before(out[j].Modified) })
	return out, nil
}

func (b *Backup) readMetadata(ctx context.Context, st s3.Store) error {
	info, err := st.Head(ctx, b.Key)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	switch {
	case info.Metadata["sha1"] != "":
		b.Checksum = "sha1:" + info.Metadata["sha1"]
	case info.Metadata["md5"] != "":
		b.Checksum = "md5:" + info.Metadata["md5"]
	}
	b.Position, b.GTID = info.Metadata[MetaBinlogPos], info.Metadata[MetaGTID]
	return nil
}

// LatestOf is the newest complete backup of port in st, if any.
func LatestOf(ctx context.Context, st s3.Store, port string) (Backup, bool, error) {
	bs, err := List(ctx, st, port)
	if err != nil {
		return Backup{}, false, err
	}
	b, ok := Latest(bs)
	return b, ok, nil
}

// Latest is the newest complete backup, if any.
func Latest(bs []Backup) (Backup, bool) {
	for i := len(bs) - 1; i >= 0; i-- {
		if bs[i].Complete {
			return bs[i], true
		}
	}
	return Backup{}, false
}

// Policy is a retention policy; a zero field is not a limit.
type Policy struct {
	Count int           // keep this many newest complete backups
	Age   time.Duration // remove complete backups older than this
	// PartialAge: temporary objects older than this belong to dead runs.
	PartialAge time.Duration
	// Dead, when set, says an incomplete backup's run is known to be
	// dead (its process is gone): it goes whatever its age.
	Dead func(Backup) bool
}

// Prune lists what the policy removes from bs (oldest first). A complete
// backup goes when every limit set says so: beyond the Count newest and
// older than Age. The newest complete backup is never removed.
func Prune(bs []Backup, p Policy, now time.Time) []Backup {
	var complete []Backup
	var out []Backup
	for _, b := range bs {
		switch {
		case b.Complete:
			complete = append(complete, b)
		case p.PartialAge > 0 && now.Sub(b.Modified) > p.PartialAge,
			p.Dead != nil && p.Dead(b):
			out = append(out, b)
		}
	}
	if p.Count == 0 && p.Age == 0 {
		return out
	}
	for i, b := range complete {
		fromNewest := len(complete) - 1 - i // 0 = the newest
		if fromNewest == 0 {
			break
		}
		beyondCount := p.Count == 0 || fromNewest >= p.Count
		tooOld := p.Age == 0 || now.Sub(b.Modified) > p.Age
		if beyondCount && tooOld {
			out = append(out, b)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Modified.Before(out[j].Modified) })
	return out
}

// Describe is a one-line summary of a backup.
func (b Backup) Describe() string {
	state := "complete"
	if !b.Complete {
		state = "INCOMPLETE"
	}
	parts := []string{b.Date, "port=" + b.Port, b.Format, fmt.Sprintf("size=%d", b.Size), state}
	if b.Checksum != "" {
		parts = append(parts, b.Checksum)
	}
	if b.Position != "" {
		parts = append(parts, "binlog="+b.Position)
	}
	if b.GTID != "" {
		parts = append(parts, "gtid="+b.GTID)
	}
	return strings.Join(parts, " ")
}
