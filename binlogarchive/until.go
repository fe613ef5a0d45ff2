package binlogarchive

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Target is where a point-in-time restore stops.
type Target struct {
	Kind string    // "time", "gtid", "pos" or "latest"
	Time time.Time // time: every transaction at or before it (second resolution, as binlogs record)
	GTID string    // gtid: up to and including these GTIDs
	gtid gtidSet
	File string // pos: every event before File:Pos, a transaction boundary
	Pos  uint64
}

// String is the target as the command line gives it.
func (t Target) String() string {
	switch t.Kind {
	case "time":
		return t.Time.UTC().Format(time.RFC3339)
	case "gtid":
		return "gtid:" + t.GTID
	case "pos":
		return fmt.Sprintf("pos:%s:%d", t.File, t.Pos)
	}
	return t.Kind
}

// ParseTarget reads --until: an RFC 3339 time (2026-11-30T12:00:00Z or
// with an offset), a local time with its zone named
// ("2026-11-30 12:00:00 Europe/Paris"), gtid:<GTID list or set>,
// pos:<file>:<pos>, or latest.
func ParseTarget(s string) (Target, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "latest":
		return Target{Kind: "latest"}, nil
	case strings.HasPrefix(s, "gtid:"):
		set, err := parseGTIDs(s[5:])
		if err == nil && len(set) == 0 {
			err = errors.New("no GTID")
		}
		if err != nil {
			return Target{}, fmt.Errorf("--until %s: %w", s, err)
		}
		return Target{Kind: "gtid", GTID: s[5:], gtid: set}, nil
	case strings.HasPrefix(s, "pos:"):
		i := strings.LastIndexByte(s, ':')
		pos, err := strconv.ParseUint(s[i+1:], 10, 64)
		if i <= 4 || err != nil || pos < 4 || num(s[4:i]) < 0 {
			return Target{}, fmt.Errorf("--until %s: want pos:<binlog file, e.g. mysql-bin.000042>:<position>", s)
		}
		return Target{Kind: "pos", File: s[4:i], Pos: pos}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return Target{Kind: "time", Time: t}, nil
	}
	if i := strings.LastIndexByte(s, ' '); i > 0 {
		if loc, err := time.LoadLocation(s[i+1:]); err == nil && s[i+1:] != "Local" {
			if t, err := time.ParseInLocation(time.DateTime, s[:i], loc); err == nil {
				return Target{Kind: "time", Time: t}, nil
			}
		}
	}
	return Target{}, fmt.Errorf("--until %q: want an RFC 3339 time with its zone (2026-11-30T12:00:00Z, …+01:00), \"2026-11-30 12:00:00 Europe/Paris\", gtid:<list>, pos:<file>:<pos> or latest", s)
}

// Reached says whether the GTID position pos (a MariaDB list or a MySQL
// set) is at or after the target's GTIDs in every domain it names.
func (t Target) reachedBy(last map[string]uint64) bool {
	for key, ivs := range t.gtid {
		if len(ivs) == 0 || last[key] < ivs[len(ivs)-1][1] {
			return false
		}
	}
	return true
}

// Includes says whether a backup whose snapshot is at gtid and position
// (file:pos), taken by finished, is before the target: the target is
// reachable from it.
func (t Target) Includes(gtid, position string, finished time.Time) bool {
	switch t.Kind {
	case "pos":
		file, posText, _ := strings.Cut(position, ":")
		pos, err := strconv.ParseUint(posText, 10, 64)
		if err != nil {
			return false
		}
		return num(file) < num(t.File) || (num(file) == num(t.File) && pos <= t.Pos)
	case "time":
		// Binlogs record seconds: every transaction of the backup has a
		// timestamp no later than the second it finished in.
		return !finished.IsZero() && !finished.Truncate(time.Second).After(t.Time)
	case "gtid":
		snap, err := parseGTIDs(gtid)
		if err != nil || gtid == "" {
			return false
		}
		for key, ivs := range snap {
			want, ok := t.gtid[key]
			if !ok {
				continue // a domain the target leaves free
			}
			if len(ivs) == 0 || len(want) == 0 || ivs[len(ivs)-1][1] > want[len(want)-1][1] {
				return false
			}
		}
		return true
	}
	return true // latest
}

// gtidText is a GTID position as text: per domain its last GTID,
// in domain order.
func gtidText(last map[string]string) string {
	keys := make([]string, 0, len(last))
	for k := range last {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = last[k]
	}
	return strings.Join(out, ",")
}
