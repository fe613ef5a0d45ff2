// Package replication sets up and follows replication channels on both
// flavors: GTID sets (MariaDB domain-server-seq positions, MySQL
// uuid:interval sets), the SQL that (re)creates channels master-<id>,
// replica status, and the wait for a goal position.
package replication

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// Flavor is the SQL dialect of a server.
type Flavor = mysqld.Flavor

// The two flavors.
const (
	MariaDB = mysqld.MariaDB
	MySQL   = mysqld.MySQL
)

// Behind counts the transactions in goal that have does not hold yet: for
// MariaDB the sum over domains of the sequence-number gap, for MySQL the
// number of GTIDs of goal missing from have.
func Behind(f Flavor, have, goal string) (uint64, error) {
	if f == MariaDB {
		h, err := ParseMariaDB(have)
		if err != nil {
			return 0, err
		}
		g, err := ParseMariaDB(goal)
		if err != nil {
			return 0, err
		}
		return h.Behind(g), nil
	}
	h, err := ParseMySQL(have)
	if err != nil {
		return 0, err
	}
	g, err := ParseMySQL(goal)
	if err != nil {
		return 0, err
	}
	return g.Minus(h).Count(), nil
}

// MariaDBPos is a MariaDB GTID position: the last sequence number per
// replication domain (with the server that wrote it).
type MariaDBPos map[uint32]MariaDBGTID

// MariaDBGTID is one domain-server-seq triple.
type MariaDBGTID struct {
	Domain, Server uint32
	Seq            uint64
}

// ParseMariaDB reads "0-1-100,1-2-5" (spaces and newlines ignored). Two
// entries of one domain keep the higher sequence number.
func ParseMariaDB(s string) (MariaDBPos, error) {
	pos := MariaDBPos{}
	for _, part := range strings.Split(strings.Join(strings.Fields(s), ""), ",") {
		if part == "" {
			continue
		}
		f := strings.Split(part, "-")
		if len(f) != 3 {
			return nil, fmt.Errorf("MariaDB GTID %q: want domain-server-seq", part)
		}
		d, err1 := strconv.ParseUint(f[0], 10, 32)
		sv, err2 := strconv.ParseUint(f[1], 10, 32)
		seq, err3 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("MariaDB GTID %q: want three numbers", part)
		}
		if old, ok := pos[uint32(d)]; !ok || seq > old.Seq {
			pos[uint32(d)] = MariaDBGTID{uint32(d), uint32(sv), seq}
		}
	}
	return pos, nil
}

// Behind sums, over the domains of goal, how far p is behind it.
func (p MariaDBPos) Behind(goal MariaDBPos) uint64 {
	var n uint64
	for d, g := range goal {
		if have := p[d].Seq; have < g.Seq {
			n += g.Seq - have
		}
	}
	return n
}

// String writes the position in domain order.
func (p MariaDBPos) String() string {
	doms := make([]int, 0, len(p))
	for d := range p {
		doms = append(doms, int(d))
	}
	sort.Ints(doms)
	parts := make([]string, len(doms))
	for i, d := range doms {
		g := p[uint32(d)]
		parts[i] = fmt.Sprintf("%d-%d-%d", g.Domain, g.Server, g.Seq)
	}
	return strings.Join(parts, ",")
}

// MySQLSet is a MySQL GTID set: per source uuid, sorted disjoint intervals.
type MySQLSet map[string][]Interval

// Interval is an inclusive range of transaction numbers.
type Interval struct{ Start, End uint64 }

// ParseMySQL reads "uuid:1-5:7,uuid2:3" (case-insensitive uuids; spaces and
// newlines, as in SHOW SLAVE STATUS and xtrabackup_binlog_info, ignored).
func ParseMySQL(s string) (MySQLSet, error) {
	set := MySQLSet{}
	for _, part := range strings.Split(strings.Join(strings.Fields(s), ""), ",") {
		if part == "" {
			continue
		}
		f := strings.Split(part, ":")
		uuid := strings.ToLower(f[0])
		if len(f) < 2 || len(uuid) != 36 || strings.Count(uuid, "-") != 4 {
			return nil, fmt.Errorf("MySQL GTID set element %q: want uuid:interval[:interval…]", part)
		}
		for _, iv := range f[1:] {
			a, b, found := strings.Cut(iv, "-")
			start, err1 := strconv.ParseUint(a, 10, 64)
			end, err2 := start, error(nil)
			if found {
				end, err2 = strconv.ParseUint(b, 10, 64)
			}
			if err1 != nil || err2 != nil || start == 0 || end < start {
				return nil, fmt.Errorf("MySQL GTID set element %q: bad interval %q", part, iv)
			}
			set[uuid] = append(set[uuid], Interval{start, end})
		}
	}
	for u := range set {
		set[u] = normalize(set[u])
	}
	return set, nil
}

func normalize(ivs []Interval) []Interval {
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].Start < ivs[j].Start })
	out := ivs[:0]
	for _, iv := range ivs {
		if n := len(out); n > 0 && iv.Start <= out[n-1].End+1 {
			out[n-1].End = max(out[n-1].End, iv.End)
			continue
		}
		out = append(out, iv)
	}
	return out
}

// Minus returns the GTIDs of s that are not in o.
func (s MySQLSet) Minus(o MySQLSet) MySQLSet {
	out := MySQLSet{}
	for u, ivs := range s {
		for _, iv := range ivs {
			rest := []Interval{iv}
			for _, cut := range o[u] {
				rest = subtract(rest, cut)
			}
			out[u] = append(out[u], rest...)
		}
		if len(out[u]) == 0 {
			delete(out, u)
		}
	}
	return out
}

func subtract(ivs []Interval, cut Interval) []Interval {
	var out []Interval
	for _, iv := range ivs {
		if cut.End < iv.Start || cut.Start > iv.End {
			out = append(out, iv)
			continue
		}
		if iv.Start < cut.Start {
			out = append(out, Interval{iv.Start, cut.Start - 1})
		}
		if iv.End > cut.End {
			out = append(out, Interval{cut.End + 1, iv.End})
		}
	}
	return out
}

// Count is the number of GTIDs in the set.
func (s MySQLSet) Count() uint64 {
	var n uint64
	for _, ivs := range s {
		for _, iv := range ivs {
			n += iv.End - iv.Start + 1
		}
	}
	return n
}

// String writes the set as MySQL does: uuids sorted, intervals a-b or a.
func (s MySQLSet) String() string {
	uuids := make([]string, 0, len(s))
	for u := range s {
		uuids = append(uuids, u)
	}
	sort.Strings(uuids)
	parts := make([]string, len(uuids))
	for i, u := range uuids {
		b := strings.Builder{}
		b.WriteString(u)
		for _, iv := range s[u] {
			if iv.Start == iv.End {
				fmt.Fprintf(&b, ":%d", iv.Start)
			} else {
				fmt.Fprintf(&b, ":%d-%d", iv.Start, iv.End)
			}
		}
		parts[i] = b.String()
	}
	return strings.Join(parts, ",")
}
