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
