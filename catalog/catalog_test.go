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

func dates(bs []Backup) string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Date)
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
		{"dead runs older than an hour", Policy{PartialAge: time.Hour}, "dead-old"},
	}
	for _, tt := range tests {
		if got := dates(Prune(history(), tt.p, now)); got != tt.want {
			t.Errorf("%s: removes %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestPruneNeverRemovesTheNewestCompleteBackup(t *testing.T) {
	bs := []Backup{{Date: "only", Modified: day(400), Complete: true}, {Date: "dead", Modified: day(1), Complete: false}}
	for _, p := range []Policy{{Count: 1, Age: time.Hour}, {Age: time.Nanosecond}, {Count: 1}} {
		for _, b := range Prune(bs, p, now) {
			if b.Date == "only" {
				t.Errorf("policy %+v removes the only complete backup", p)
			}
		}
	}
}

func TestLatestSkipsIncompleteBackups(t *testing.T) {
	b, ok := Latest(history())
	if !ok || b.Date != "2026_11_22" {
		t.Errorf("latest %+v %v, want 2026_11_22", b, ok)
	}
	if _, ok := Latest([]Backup{{Complete: false}}); ok {
		t.Error("an incomplete backup counted as latest")
	}
}

func TestPruneRemovesRunsKnownDeadAtOnceAndOthersAfterAnHour(t *testing.T) {
	bs := append(history(),
		Backup{Date: "dead-v2", Format: FormatV2, Host: "db1", PID: 10, Modified: now.Add(-time.Minute)},
		Backup{Date: "live-v2", Format: FormatV2, Host: "db1", PID: 11, Modified: now.Add(-time.Minute)})
	dead := func(b Backup) bool { return b.PID == 10 }
	got := dates(Prune(bs, Policy{PartialAge: time.Hour, Dead: dead}, now))
	if got != "dead-old dead-v2" {
		t.Errorf("removes %q, want the old dead run and the v2 run known dead only", got)
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
	good := func() Manifest {
		return Manifest{FormatVersion: ManifestVersion, BinlogFile: "mysql-bin.000001", Objects: []Object{
			{Role: RoleData, Key: "k/data", Size: 10, SHA256: sum, Pieces: []Piece{{Key: "k/data", Size: 4, SHA256: sum}, {Key: "k/data.0001", Size: 6, SHA256: sum}}},
			{Role: RoleBinlogs, Key: "k/b", Size: 1, SHA256: sum}, {Role: RoleMyCnf, Key: "k/c", Size: 1, SHA256: sum}}}
	}
	if m := good(); m.Check() != nil {
		t.Fatalf("a good manifest: %v", m.Check())
	}
	for name, breakIt := range map[string]func(*Manifest){
		"future version":  func(m *Manifest) { m.FormatVersion = 3 },
		"no my.cnf":       func(m *Manifest) { m.Objects = m.Objects[:2] },
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
