package mysqld

import "testing"

func TestParseVersionTellsFlavorAndPatch(t *testing.T) {
	for v, want := range map[string]Version{
		"10.11.19-MariaDB-0+deb12u1-log": {Flavor: MariaDB, Major: 10, Minor: 11, Patch: 19},
		"11.4.2-MariaDB":                 {Flavor: MariaDB, Major: 11, Minor: 4, Patch: 2},
		"5.7.13-log":                     {Flavor: MySQL, Major: 5, Minor: 7, Patch: 13},
		"8.0.36-28":                      {Flavor: MySQL, Major: 8, Minor: 0, Patch: 36}, // Percona Server
		"8.4":                            {Flavor: MySQL, Major: 8, Minor: 4},
	} {
		got, err := ParseVersion(v)
		want.Text = v
		if err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %+v, %v; want %+v", v, got, err, want)
		}
	}
	if _, err := ParseVersion("MariaDB"); err == nil {
		t.Error("a version without numbers was accepted")
	}
}

func TestAtLeastComparesFieldByField(t *testing.T) {
	v := Version{Major: 8, Minor: 0, Patch: 22}
	for _, c := range []struct {
		a, b, c int
		want    bool
	}{{8, 0, 22, true}, {8, 0, 23, false}, {5, 7, 99, true}, {8, 1, 0, false}} {
		if got := v.AtLeast(c.a, c.b, c.c); got != c.want {
			t.Errorf("8.0.22 AtLeast(%d.%d.%d) = %v", c.a, c.b, c.c, got)
		}
	}
}
