package binlogarchive

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/s3"
)

// Need is what the oldest kept backup needs of the archive: everything
// after its snapshot.
type Need struct {
	Backup string    // its date, for the record
	Time   time.Time // when its snapshot was taken (no later)
	// GTID is the snapshot's GTID position: a MariaDB list (0-1-100,1-2-7)
	// or a MySQL set (uuid:1-100). Without one nothing is removed: the
	// files cannot be told to be before it.
	GTID string
	// File is the snapshot's binlog file: it stays, whatever it holds (a
	// point-in-time restore from the backup starts in it).
	File string
}

// PruneResult says what a prune removed (or, dry, would remove).
type PruneResult struct {
	Files   []string // removed from the index, oldest first
	Objects int      // objects deleted
	Kept    string   // the first file kept
	Why     string   // why nothing (more) is removed
}

// Prune removes from the series the longest run of oldest files that the
// backup in need does not need: closed, never the last, every event at
// or before its snapshot's time and every GTID in its snapshot. The index
// goes first (a compare-and-swap: a concurrent archiver's write makes it
// read again), then the files' objects, with any a cut-short prune left.
func Prune(ctx context.Context, st s3.Store, s Series, need Need, dryRun bool) (PruneResult, error) {
	for try := 0; ; try++ {
		ix, err := ReadIndex(ctx, st, s)
		if err != nil {
			return PruneResult{}, err
		}
		res := ix.prunable(need)
		if len(res.Files) == 0 || dryRun {
			return res, nil
		}
		ix.dropBefore(res.Kept)
		ix.Pruned = &Pruned{Before: res.Kept, At: time.Now().UTC(), Backup: need.Backup, GTID: need.GTID}
		err = ix.write(ctx, st)
		if errors.Is(err, s3.ErrChanged) && try < 5 {
			continue // the archiver wrote meanwhile: again, over its version
		}
		if err != nil {
			return PruneResult{}, err
		}
		res.Objects, err = deleteBefore(ctx, st, s, res.Kept)
		return res, err
	}
}

// prunable is the run of oldest files need does not need.
func (ix *Index) prunable(need Need) PruneResult {
	have, err := parseGTIDs(need.GTID)
	res := PruneResult{}
	switch {
	case need.GTID == "":
		res.Why = "the oldest kept backup (" + need.Backup + ") records no GTID position"
	case err != nil:
		res.Why = fmt.Sprintf("the oldest kept backup's GTID position %q: %v", need.GTID, err)
	}
	for i, f := range ix.Files {
		if res.Why != "" {
			break
		}
		last := f.LastEvent
		if last.IsZero() {
			last = f.Created
		}
		switch {
		case f.Name == need.File:
			res.Why = f.Name + " holds the oldest kept backup's snapshot"
		case i == len(ix.Files)-1 || !f.Closed:
			res.Why = f.Name + " is the archive's last file"
		case last.IsZero() || last.After(need.Time):
			res.Why = fmt.Sprintf("%s has events after the oldest kept backup (%s)", f.Name, need.Backup)
		case !have.hold(f.GTIDs):
			res.Why = fmt.Sprintf("%s has transactions the oldest kept backup (%s, %s) does not hold", f.Name, need.Backup, need.GTID)
		default:
			res.Files = append(res.Files, f.Name)
			continue
		}
		res.Kept = f.Name
	}
	return res
}

// dropBefore removes the files before kept, and the gaps before it.
func (ix *Index) dropBefore(kept string) {
	for i, f := range ix.Files {
		if f.Name == kept {
			ix.Files = ix.Files[i:]
			break
		}
	}
	var gaps []Gap
	for _, g := range ix.Gaps {
		if file, _, _ := strings.Cut(g.After, ":"); num(file) >= num(kept) {
			gaps = append(gaps, g)
		}
	}
	ix.Gaps = gaps
}

// deleteBefore deletes the objects of the series' files before kept.
func deleteBefore(ctx context.Context, st s3.Store, s Series, kept string) (int, error) {
	objs, err := st.List(ctx, s.Prefix())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, o := range objs {
		file, _, ok := strings.Cut(strings.TrimPrefix(o.Key, s.Prefix()), "/")
		if !ok || num(file) < 0 || num(file) >= num(kept) {
			continue
		}
		if err := st.Delete(ctx, o.Key); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// gtidSet is a GTID position: per MariaDB domain the last sequence number,
// or per MySQL source uuid its intervals.
type gtidSet map[string][][2]uint64

// parseGTIDs reads a MariaDB GTID list or a MySQL GTID set.
func parseGTIDs(s string) (gtidSet, error) {
	set := gtidSet{}
	for _, part := range strings.Split(strings.Join(strings.Fields(s), ""), ",") {
		if part == "" {
			continue
		}
		if uuid, ivs, ok := strings.Cut(part, ":"); ok { // MySQL uuid:1-5:7-9
			for _, iv := range strings.Split(ivs, ":") {
				lo, hi, isRange := strings.Cut(iv, "-")
				if !isRange {
					hi = lo
				}
				a, err1 := strconv.ParseUint(lo, 10, 64)
				b, err2 := strconv.ParseUint(hi, 10, 64)
				if err1 != nil || err2 != nil || a > b {
					return nil, fmt.Errorf("bad interval %q", iv)
				}
				set[strings.ToLower(uuid)] = append(set[strings.ToLower(uuid)], [2]uint64{a, b})
			}
			continue
		}
		f := strings.Split(part, "-") // MariaDB domain-server-seq
		if len(f) != 3 {
			return nil, fmt.Errorf("bad GTID %q", part)
		}
		seq, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad GTID %q", part)
		}
		set[f[0]] = [][2]uint64{{0, seq}}
	}
	return set, nil
}

// hold says whether every range of a file's GTIDs (per domain or uuid,
// "first..last" as the archiver records them) is in the set.
func (set gtidSet) hold(ranges map[string]string) bool {
	for key, r := range ranges {
		lo, hi, _ := strings.Cut(r, "..")
		a, err1 := strconv.ParseUint(lastField(lo), 10, 64)
		b, err2 := strconv.ParseUint(lastField(hi), 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		in := false
		for _, iv := range set[strings.ToLower(key)] {
			in = in || (iv[0] <= a && b <= iv[1])
		}
		if !in {
			return false
		}
	}
	return true
}

// lastField is a MariaDB GTID's sequence number (or a bare number).
func lastField(s string) string {
	return s[strings.LastIndex(s, "-")+1:]
}
