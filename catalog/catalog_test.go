package catalog

import (
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func day(n int) time.Time { return now.Add(-time.Duration(n) * 24 * time.Hour) }

// history is one complete backup a day for ten days, and two dead runs.
func history() []Backup {
	var bs []Backup
	for d := 10; d >= 1; d-- {
		bs = append(bs, Backup{Date: day(d).Format("2006_01_02"), Modified: day(d), Complete: true})
	}
	bs = append(bs, Backup{Date: "dead-old", Modified: day(3), Complete: false}, Backup{Date: "dead-now", Modified: now.Add(-time.Minute), Complete: false})
	return bs
}

func dates(rs []Removal) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Date)
	}
	return strings.Join(out, " ")
}

func TestPruneKeepsWhatThePolicySays(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		want string
	}{
		{"count 3", Policy{Count: 3}, "2026_11_13 2026_11_14 2026_11_15 2026_11_16 2026_11_17 2026_11_18 2026_11_19"},
		{"days 7", Policy{Age: 7 * 24 * time.Hour}, "2026_11_13 2026_11_14 2026_11_15"},
		{"count 9 and days 7: both must agree", Policy{Count: 9, Age: 7 * 24 * time.Hour}, "2026_11_13"},
		{"no limit removes no complete backup", Policy{}, ""},
		{"temporary objects older than PartialAge", Policy{Runs: Liveness{PartialAge: time.Hour}}, "dead-old"},
	}
	for _, tt := range tests {
		if got := dates(Prune(history(), tt.p, now).Remove); got != tt.want {
			t.Errorf("%s: removes %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestPruneNeverRemovesTheNewestCompleteBackup(t *testing.T) {
	bs := []Backup{{Date: "only", Modified: day(400), Complete: true}, {Date: "dead", Modified: day(1), Complete: false}}
	for _, p := range []Policy{{Count: 1, Age: time.Hour}, {Age: time.Nanosecond}, {Count: 1}} {
		for _, b := range Prune(bs, p, now).Remove {
			if b.Date == "only" {
				t.Errorf("policy %+v removes the only complete backup", p)
			}
		}
	}
}

func TestLatestSkipsIncompleteBackups(t *testing.T) {
	b, ok, err := Latest(history())
	if !ok || err != nil || b.Date != "2026_11_22" {
		t.Errorf("latest %+v %v %v, want 2026_11_22", b, ok, err)
	}
	if _, ok, _ := Latest([]Backup{{Complete: false}}); ok {
		t.Error("an incomplete backup counted as latest")
	}
}

func TestPruneRemovesAV2RunWhosePidIsGoneHereOrWhoseHeartbeatIsStale(t *testing.T) {
	run := func(date string, pid int, beat time.Duration) Backup {
		return Backup{Date: date, Format: FormatV2, Host: "db1", PID: pid, Modified: now.Add(-3 * time.Hour), Heartbeat: now.Add(-beat)}
	}
	bs := append(history(),
		run("gone-pid", 10, time.Minute),
		run("live-pid", 11, time.Minute),
		run("stale-heartbeat", 11, 2*time.Hour),
		Backup{Date: "no-started-json", Format: FormatV2, Run: "r", Modified: now.Add(-time.Minute)})
	alive := func(pid int) bool { return pid != 10 }
	got := dates(Prune(bs, Policy{Runs: Liveness{Host: "db1", Alive: alive, HeartbeatAge: time.Hour, PartialAge: time.Hour}}, now).Remove)
	if got != "dead-old gone-pid stale-heartbeat no-started-json" {
		t.Errorf("removes %q, want the runs whose pid is gone, whose heartbeat is stale or that have no started.json, and the old temporary object", got)
	}
}

func TestUploadCandidatesNameEveryObjectAndThePieceAfterTheLastStored(t *testing.T) {
	dir := "d/1/mysql-1.v2/r/"
	data := dir + ObjectNames[RoleData]
	got := uploadCandidates(dir, []string{dir + StartedName, data, data + ".0001"})
	want := map[string]bool{data: true, data + ".0001": true, data + ".0002": true,
		dir + ObjectNames[RoleBinlogs]: true, dir + ObjectNames[RoleMyCnf]: true}
	if len(got) != len(want) {
		t.Fatalf("candidates %v, want %v", got, want)
	}
	for _, k := range got {
		if !want[k] {
			t.Errorf("unexpected candidate %s", k)
		}
	}
}

func TestManifestCheckRefusesAManifestARestoreCouldNotUse(t *testing.T) {
	sum := strings.Repeat("a", 64)
	stretch := ArchiveRange{Series: "binlog-archive/3306/1/", ServerID: 1, From: "mysql-bin.000001:400", To: "mysql-bin.000002:900", Proof: "index"}
	good := func() Manifest {
		return Manifest{FormatVersion: BundledVersion, BinlogFile: "mysql-bin.000001", Objects: []Object{
			{Role: RoleData, Key: "k/data", Size: 10, SHA256: sum, Pieces: []Piece{{Key: "k/data", Size: 4, SHA256: sum}, {Key: "k/data.0001", Size: 6, SHA256: sum}}},
			{Role: RoleBinlogs, Key: "k/b", Size: 1, SHA256: sum}, {Role: RoleMyCnf, Key: "k/c", Size: 1, SHA256: sum}}}
	}
	if m := good(); m.Check() != nil {
		t.Fatalf("a good manifest: %v", m.Check())
	}
	archived := good()
	archived.Objects = append(archived.Objects[:1], archived.Objects[2])
	archived.FormatVersion, archived.BinlogArchive = ManifestVersion, &stretch
	if err := archived.Check(); err != nil {
		t.Fatalf("a good manifest of a backup whose binlogs are in the archive: %v", err)
	}
	for name, breakIt := range map[string]func(*Manifest){
		"future version": func(m *Manifest) { m.FormatVersion = ManifestVersion + 1 },
		"version 1":      func(m *Manifest) { m.FormatVersion = 1 },
		"no my.cnf":      func(m *Manifest) { m.Objects = m.Objects[:2] },
		"no binlogs":     func(m *Manifest) { m.Objects = append(m.Objects[:1], m.Objects[2]) },
		"an archive stretch in a version 2 manifest": func(m *Manifest) {
			m.Objects = append(m.Objects[:1], m.Objects[2])
			m.BinlogArchive = &stretch
		},
		"both a binlogs object and an archive stretch": func(m *Manifest) {
			m.FormatVersion, m.BinlogArchive = ManifestVersion, &stretch
		},
		"an archive stretch without a server": func(m *Manifest) {
			m.Objects = append(m.Objects[:1], m.Objects[2])
			m.FormatVersion, m.BinlogArchive = ManifestVersion, &ArchiveRange{Series: stretch.Series, From: stretch.From, To: stretch.To}
		},
		"short sha256":    func(m *Manifest) { m.Objects[1].SHA256 = "ab" },
		"pieces mismatch": func(m *Manifest) { m.Objects[0].Size = 11 },
		"no position":     func(m *Manifest) { m.BinlogFile = "" },
	} {
		m := good()
		breakIt(&m)
		if m.Check() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestARunOfAnotherMachineWithThisHostsNameIsNotJudgedByThisHostsPids(t *testing.T) {
	clone := Backup{Date: "clone", Format: FormatV2, Host: "db1", Machine: "m-other", PID: 10, Modified: now, Heartbeat: now.Add(-time.Minute)}
	l := Liveness{Host: "db1", Machine: "m-this", Alive: func(int) bool { return false }, HeartbeatAge: time.Hour}
	if dead, why := l.Dead(clone, now); dead {
		t.Errorf("a fresh run of a clone named db1 judged dead here: %s", why)
	}
	same := clone
	same.Machine = "m-this"
	if dead, _ := l.Dead(same, now); !dead {
		t.Error("a run of this machine whose pid is gone is not dead")
	}
}
