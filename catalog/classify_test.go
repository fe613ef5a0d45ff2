package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/s3"
	"github.com/mysqlbackup/mysqlbackup/s3/s3test"
)

// bucket is an in-memory store of port 3306's backups whose clock the
// test sets: what it stores is stamped with that time.
type bucket struct {
	t     *testing.T
	mem   *s3test.Mem
	clock time.Time
}

func newBucket(t *testing.T) *bucket {
	b := &bucket{t: t, mem: &s3test.Mem{}}
	b.mem.Now = func() time.Time { return b.clock }
	return b
}

// at sets the store's clock to ago before now.
func (b *bucket) at(ago time.Duration) *bucket {
	b.clock = now.Add(-ago)
	return b
}

func (b *bucket) put(key string, body []byte, meta map[string]string) {
	b.t.Helper()
	if err := b.mem.Put(b.t.Context(), key, bytes.NewReader(body), meta); err != nil {
		b.t.Fatal(err)
	}
}

func (b *bucket) putJSON(key string, v any) {
	b.t.Helper()
	if err := PutJSON(b.t.Context(), b.mem, key, v); err != nil {
		b.t.Fatal(err)
	}
}

// v2 stores a complete v2 backup of date: run's objects, then the
// manifest naming them.
func (b *bucket) v2(date, run string) Manifest {
	b.t.Helper()
	prefix := V2Prefix(date, "3306")
	m := Manifest{FormatVersion: ManifestVersion, Date: date, Port: "3306", Run: run, BinlogFile: "mysql-bin.000001", BinlogPos: 4}
	for _, role := range []string{RoleData, RoleBinlogs, RoleMyCnf} {
		key := prefix + run + "/" + ObjectNames[role]
		b.put(key, []byte(role), nil)
		m.Objects = append(m.Objects, Object{Role: role, Key: key, Size: int64(len(role)), SHA256: strings.Repeat("a", 64)})
	}
	b.putJSON(prefix+ManifestName, m)
	return m
}

// started stores (or, as a heartbeat, rewrites) the started.json of run.
func (b *bucket) started(date, run, host string, pid int) string {
	b.t.Helper()
	key := V2Prefix(date, "3306") + run + "/" + StartedName
	b.putJSON(key, Started{Run: run, Host: host, PID: pid, Started: b.clock})
	return key
}

// legacy stores a legacy archive of date, or its temporary object.
func (b *bucket) legacy(date string, partial bool, meta map[string]string) string {
	b.t.Helper()
	key := date + "/3306/mysql-3306.tgz.des3"
	if partial {
		key += PartialSuffix
	}
	b.put(key, []byte("archive"), meta)
	return key
}

// failGet makes every GET of key fail as a store under load does.
func (b *bucket) failGet(key string) {
	b.mem.Fail = func(op, k string) error {
		if op == "get" && k == key {
			return s3test.Fault
		}
		return nil
	}
}

func (b *bucket) list() []Backup {
	b.t.Helper()
	bs, err := List(b.t.Context(), b.mem, "3306")
	if err != nil {
		b.t.Fatal(err)
	}
	return bs
}

const (
	thisHost = "db1"
	livePID  = 4242 // alive on this host; any other pid is gone
)

// policy is prune's, on thisHost, keeping count dates.
func policy(count int) Policy {
	return Policy{Count: count, Runs: Liveness{Host: thisHost, Alive: func(pid int) bool { return pid == livePID },
		HeartbeatAge: HeartbeatDeadAge, PartialAge: PartialDeadAge}}
}

func keys(rs []Removal) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Key+" ("+r.Why+")")
	}
	return strings.Join(out, ", ")
}

func TestPruneNeverRemovesAV2BackupWhoseManifestCannotBeRead(t *testing.T) {
	oversized := func(b *bucket, key string) {
		var m Manifest
		data, _ := b.mem.Get(t.Context(), key, 0)
		json.NewDecoder(data).Decode(&m)
		m.SlaveInfo = strings.Repeat("x", MaxJSON)
		b.putJSON(key, m)
	}
	newer := func(b *bucket, key string) {
		var m map[string]any
		data, _ := b.mem.Get(t.Context(), key, 0)
		json.NewDecoder(data).Decode(&m)
		m["format_version"] = ManifestVersion + 1
		b.putJSON(key, m)
	}
	for _, c := range []struct {
		name  string
		spoil func(b *bucket, key string)
		want  string
	}{
		{"a 503 on its GET", func(b *bucket, key string) { b.failGet(key) }, "503 SlowDown"},
		{"over the read limit", oversized, "over the 4 MiB"},
		{"a newer format_version", newer, "written by a newer mysqlbackup"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBucket(t)
			b.at(72*time.Hour).legacy("2026_11_20", false, map[string]string{"sha1": "00"})
			b.at(48*time.Hour).v2("2026_11_21", "r1")
			// Killed after its manifest, before deleting its started.json:
			// its heartbeat is two days old, and the manifest commits it.
			b.started("2026_11_21", "r1", thisHost, 7)
			manifest := V2Prefix("2026_11_21", "3306") + ManifestName
			c.spoil(b, manifest)
			plan := Prune(b.list(), policy(5), now)
			if len(plan.Remove) != 0 {
				t.Errorf("removes %s; want nothing (retention keeps 5 dates)", keys(plan.Remove))
			}
			if len(plan.Unknown) != 2 || !strings.Contains(plan.Unknown[0].Unknown+plan.Unknown[1].Unknown, c.want) {
				t.Errorf("unknown: %+v; want the manifest (%q) and its run", plan.Unknown, c.want)
			}
			if _, _, err := Latest(b.list()); !errors.As(err, new(*UnknownError)) || !strings.Contains(err.Error(), V2Prefix("2026_11_21", "3306")) {
				t.Errorf("latest: %v; want an error naming the unreadable newest backup", err)
			}
		})
	}
}

func TestLatestFailsOnAnUnreadableNewestBackupInsteadOfTakingAnOlderOne(t *testing.T) {
	b := newBucket(t)
	b.at(72*time.Hour).legacy("2026_11_20", false, map[string]string{"sha1": "00"})
	b.at(48*time.Hour).v2("2026_11_21", "r1")
	if got, ok, err := LatestOf(t.Context(), b.mem, "3306"); !ok || err != nil || got.Date != "2026_11_21" {
		t.Fatalf("latest %s %v %v; want 2026_11_21", got.Key, ok, err)
	}
	b.failGet(V2Prefix("2026_11_21", "3306") + ManifestName)
	got, ok, err := LatestOf(t.Context(), b.mem, "3306")
	if ok || err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("latest %q %v %v; want an error naming the 503 on 2026_11_21's manifest", got.Key, ok, err)
	}
}

func TestPruneKeepsARunStartedHoursAgoWhileItsHeartbeatIsFresh(t *testing.T) {
	b := newBucket(t)
	b.at(72*time.Hour).legacy("2026_11_20", false, map[string]string{"sha1": "00"})
	// Started three hours ago on another host; its data object is a
	// multipart upload under way, not yet an object.
	b.at(3*time.Hour).started("2026_11_23", "live", "db2", 7)
	b.at(2*time.Minute).started("2026_11_23", "live", "db2", 7) // the last heartbeat
	b.at(3*time.Hour).started("2026_11_23", "stale", "db2", 8)
	if plan := Prune(b.list(), policy(5), now); keys(plan.Remove) != V2Prefix("2026_11_23", "3306")+"stale/ (dead run: last heartbeat 3h0m0s ago)" {
		t.Errorf("removes %s; want only the run whose heartbeat is three hours old", keys(plan.Remove))
	}
}

func TestPruneJudgesARunByItsHeartbeatWhenItsStartedJSONCannotBeRead(t *testing.T) {
	b := newBucket(t)
	fresh := b.at(time.Minute).started("2026_11_23", "fresh", thisHost, 9)
	b.at(2*time.Hour).started("2026_11_23", "stale", thisHost, livePID)
	b.mem.Fail = func(op, key string) error {
		if op == "get" && strings.HasSuffix(key, StartedName) {
			return s3test.Fault
		}
		return nil
	}
	plan := Prune(b.list(), policy(5), now)
	if keys(plan.Remove) != V2Prefix("2026_11_23", "3306")+"stale/ (dead run: last heartbeat 2h0m0s ago)" {
		t.Errorf("removes %s; want only the run whose heartbeat is stale (pid 9 is unknown, not gone)", keys(plan.Remove))
	}
	for _, bk := range b.list() {
		if bk.Key+StartedName == fresh && !strings.Contains(bk.Problem, "503") {
			t.Errorf("the fresh run shows no read problem: %+v", bk)
		}
	}
}

func TestPruneRemovesARunOfThisHostWhosePidIsGoneAtOnceAndNoOtherHostsRun(t *testing.T) {
	b := newBucket(t)
	b.at(time.Minute).started("2026_11_23", "gone", thisHost, 9)
	b.started("2026_11_23", "alive", thisHost, livePID)
	b.started("2026_11_23", "elsewhere", "db2", 9)
	want := V2Prefix("2026_11_23", "3306") + "gone/ (dead run: pid 9 on db1 is gone)"
	if got := keys(Prune(b.list(), policy(5), now).Remove); got != want {
		t.Errorf("removes %s; want %s", got, want)
	}
}

func TestPruneRemovesARunWithoutStartedJSONThatTheManifestDoesNotCommit(t *testing.T) {
	b := newBucket(t)
	b.at(2*time.Minute).v2("2026_11_23", "replaced")
	b.at(time.Minute).v2("2026_11_23", "committed") // its removal of the replaced run failed
	want := V2Prefix("2026_11_23", "3306") + "replaced/ (dead run: no started.json: a replaced run, or a removal cut short)"
	if got := keys(Prune(b.list(), policy(5), now).Remove); got != want {
		t.Errorf("removes %s; want %s", got, want)
	}
}

func TestPruneKeepsALegacyTemporaryObjectWhileItsCopyMayRun(t *testing.T) {
	b := newBucket(t)
	meta := func(host string, pid string) map[string]string {
		return map[string]string{MetaHost: host, MetaPID: pid}
	}
	b.at(3*time.Hour).legacy("2026_11_19", true, meta("db2", "7"))        // another host's copy, for hours
	b.at(30*time.Hour).legacy("2026_11_20", true, meta(thisHost, "4242")) // a live process here
	b.at(time.Minute).legacy("2026_11_21", true, meta(thisHost, "9"))     // a process here that is gone
	b.at(30*time.Hour).legacy("2026_11_22", true, nil)                    // a day old, nobody's
	got := keys(Prune(b.list(), policy(5), now).Remove)
	want := "2026_11_22/3306/mysql-3306.tgz.des3.partial (dead run: temporary object 30h0m0s old), " +
		"2026_11_21/3306/mysql-3306.tgz.des3.partial (dead run: pid 9 on db1 is gone)"
	if got != want {
		t.Errorf("removes %s;\nwant %s", got, want)
	}
}

func TestPruneCountsALegacyAndAV2BackupOfOneDateOnce(t *testing.T) {
	b := newBucket(t)
	b.at(96*time.Hour).legacy("2026_11_19", false, map[string]string{"sha1": "00"})
	b.at(72*time.Hour).legacy("2026_11_20", false, map[string]string{"sha1": "00"})
	b.at(71*time.Hour).v2("2026_11_20", "r1")
	b.at(48*time.Hour).legacy("2026_11_21", false, map[string]string{"sha1": "00"})
	want := "2026_11_19/3306/mysql-3306.tgz.des3 (retention)"
	if got := keys(Prune(b.list(), policy(2), now).Remove); got != want {
		t.Errorf("retention_count 2 removes %s; want only %s", got, want)
	}
	want = "2026_11_19/3306/mysql-3306.tgz.des3 (retention), 2026_11_20/3306/mysql-3306.tgz.des3 (retention), " +
		V2Prefix("2026_11_20", "3306") + " (retention)"
	if got := keys(Prune(b.list(), policy(1), now).Remove); got != want {
		t.Errorf("retention_count 1 removes %s; want %s: a date's backups go together", got, want)
	}
}

func TestRemoveKeepsAV2BackupWhoseManifestChangedSinceTheListing(t *testing.T) {
	b := newBucket(t)
	b.at(48*time.Hour).v2("2026_11_21", "r1")
	listed := b.list()[0]
	b.at(time.Minute).v2("2026_11_21", "r2") // a second backup of the date
	if err := Remove(t.Context(), b.mem, listed); !errors.Is(err, ErrReplaced) {
		t.Fatalf("remove: %v; want ErrReplaced", err)
	}
	if got, ok, err := LatestOf(t.Context(), b.mem, "3306"); !ok || err != nil || got.Run != "r2" {
		t.Errorf("after remove: latest %+v %v %v; want the backup of run r2, whole", got, ok, err)
	}
}

func TestRemoveDeletesNothingWhenTheManifestCannotBeReadAgain(t *testing.T) {
	b := newBucket(t)
	b.at(48*time.Hour).v2("2026_11_21", "r1")
	listed := b.list()[0]
	manifest := V2Prefix("2026_11_21", "3306") + ManifestName
	b.failGet(manifest)
	if err := Remove(t.Context(), b.mem, listed); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("remove: %v; want the 503 of reading the manifest again", err)
	}
	unknown := b.list()[0]
	if err := Remove(t.Context(), b.mem, unknown); !errors.As(err, new(*UnknownError)) {
		t.Errorf("remove of a backup of unknown state: %v; want it refused", err)
	}
	if objs, _ := b.mem.List(t.Context(), ""); len(objs) != 4 {
		t.Errorf("%d objects left, want the manifest and the run's 3", len(objs))
	}
}

func TestListShowsALegacyArchiveWhoseMetadataCannotBeReadAsComplete(t *testing.T) {
	b := newBucket(t)
	key := b.at(time.Hour).legacy("2026_11_21", false, map[string]string{"sha1": "00"})
	b.mem.Fail = func(op, k string) error {
		if op == "head" {
			return s3test.Fault
		}
		return nil
	}
	bs := b.list()
	if len(bs) != 1 || !bs[0].Complete || bs[0].Key != key || !strings.Contains(bs[0].Problem, "503") {
		t.Errorf("list: %+v; want the archive, complete, with the 503 as a problem", bs)
	}
}

func TestListFailsWhenTheListingFails(t *testing.T) {
	b := newBucket(t)
	b.mem.Fail = func(op, _ string) error {
		if op == "list" {
			return s3test.Fault
		}
		return nil
	}
	if _, err := List(t.Context(), b.mem, "3306"); err == nil || errors.Is(err, s3.ErrNotExist) {
		t.Errorf("list: %v; want the listing's error", err)
	}
}

func TestPartialsAreEveryRunsTemporaryObjectOfOneKeyWithItsRun(t *testing.T) {
	// Members of a group upload one key at once, each to a temporary
	// object of its own; an older version's bare one counts too.
	b := newBucket(t)
	final := b.legacy("2026_11_21", false, map[string]string{"sha1": "ab"})
	b.put(PartialKey(final, "db2.7.00ff"), nil, map[string]string{MetaHost: "db2", MetaPID: "7"})
	b.put(PartialKey(final, "db3.8.0a0b"), []byte("uploaded"), map[string]string{MetaHost: "db3", MetaPID: "8", MetaMachine: "m3"})
	b.legacy("2026_11_21", true, nil)
	b.put(PartialKey("2026_11_22/3306/mysql-3306.tgz.des3", "db2.9.0000"), nil, nil) // another date's
	got, err := Partials(t.Context(), b.mem, final)
	if err != nil {
		t.Fatal(err)
	}
	var desc []string
	for _, p := range got {
		desc = append(desc, fmt.Sprintf("%s host=%s pid=%d machine=%s complete=%v", strings.TrimPrefix(p.Key, final), p.Host, p.PID, p.Machine, p.Complete))
	}
	want := ".partial host= pid=0 machine= complete=false; .partial.db2.7.00ff host=db2 pid=7 machine= complete=false; .partial.db3.8.0a0b host=db3 pid=8 machine=m3 complete=false"
	if strings.Join(desc, "; ") != want {
		t.Errorf("partials:\n%s\nwant\n%s", strings.Join(desc, "; "), want)
	}
	// The catalog lists them as the date's incomplete runs beside its archive.
	if n := len(b.list()); n != 5 {
		t.Errorf("catalog lists %d backups, want 5 (an archive, four temporary objects)", n)
	}
}

func TestPruneJudgesALegacyRunWithAHeartbeatByItsLastBeat(t *testing.T) {
	// A day-long upload (a large archive under a throttle) beats: it lives
	// while its beat is fresh, however old its temporary object; a run
	// whose beat stopped is dead after an hour, with its beat and probe.
	b := newBucket(t)
	meta := map[string]string{MetaHost: "db2", MetaPID: "7"}
	long := PartialKey("2026_11_20/3306/mysql-3306.tgz.des3", "db2.7.0a")
	b.at(30*time.Hour).put(long, nil, meta)
	b.at(5*time.Minute).putJSON(long+BeatSuffix, Started{Run: "db2.7.0a"})
	stopped := PartialKey("2026_11_21/3306/mysql-3306.tgz.des3", "db3.8.0b")
	b.at(3*time.Hour).put(stopped, nil, map[string]string{MetaHost: "db3", MetaPID: "8"})
	b.at(2*time.Hour).putJSON(stopped+BeatSuffix, Started{Run: "db3.8.0b"})
	b.at(2*time.Hour).put(stopped+CopyCheckSuffix, nil, nil)
	plan := Prune(b.list(), policy(5), now)
	if got, want := keys(plan.Remove), stopped+" (dead run: last heartbeat 2h0m0s ago)"; got != want {
		t.Errorf("removes %s; want %s", got, want)
	}
	if len(plan.Remove) == 1 && len(plan.Remove[0].Keys) != 3 {
		t.Errorf("the dead run's objects: %v, want it, its beat and its probe", plan.Remove[0].Keys)
	}
	if n := len(b.list()); n != 2 {
		t.Errorf("catalog lists %d backups, want the two runs (beats and probes are theirs)", n)
	}
}

func TestPruneRemovesABeatOrProbeWhoseTemporaryObjectIsGone(t *testing.T) {
	// A removal cut short between the temporary object and its beat or
	// probe leaves them alone: dead an hour after their last write.
	b := newBucket(t)
	beat := PartialKey("2026_11_20/3306/mysql-3306.tgz.des3", "db2.7.0a") + BeatSuffix
	b.at(48*time.Hour).putJSON(beat, Started{Run: "db2.7.0a"})
	probe := PartialKey("2026_11_19/3306/mysql-3306.tgz.des3", "db2.8.0b") + CopyCheckSuffix
	b.at(48*time.Hour).put(probe, nil, nil)
	fresh := PartialKey("2026_11_21/3306/mysql-3306.tgz.des3", "db2.9.0c") + BeatSuffix
	b.at(10*time.Minute).putJSON(fresh, Started{Run: "db2.9.0c"})
	got := keys(Prune(b.list(), policy(5), now).Remove)
	want := probe + " (dead run: last heartbeat 48h0m0s ago), " + beat + " (dead run: last heartbeat 48h0m0s ago)"
	if got != want {
		t.Errorf("removes %s;\nwant %s", got, want)
	}
}

func TestALegacyRunOfThisHostWhoseBeatStoppedIsDeadThoughItsPidLives(t *testing.T) {
	// After a reboot another process may have the dead run's pid.
	b := newBucket(t)
	tmp := PartialKey("2026_11_20/3306/mysql-3306.tgz.des3", "db1.4242.0a")
	b.at(50*time.Hour).put(tmp, nil, map[string]string{MetaHost: thisHost, MetaPID: strconv.Itoa(livePID)})
	b.at(48*time.Hour).putJSON(tmp+BeatSuffix, Started{Run: "db1.4242.0a"})
	bs := b.list()
	if len(bs) != 1 {
		t.Fatalf("listed %d", len(bs))
	}
	if dead, why := policy(5).Runs.Dead(bs[0], now); !dead || why != "last heartbeat 48h0m0s ago" {
		t.Errorf("dead %v (%s), want dead by its heartbeat", dead, why)
	}
}
