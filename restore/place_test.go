package restore

import "testing"

func TestIndexPrefixIsTheFormTheServerWritesItsIndexIn(t *testing.T) {
	for logBin, want := range map[string]string{
		"mysql-bin":                   "./",
		"binlogs/mysql-bin":           "./binlogs/",
		"/data1/mysql-3309/mysql-bin": "/data1/mysql-3309/",
		"/binlog/3309/mysql-bin":      "/binlog/3309/",
	} {
		if got := indexPrefix(logBin); got != want {
			t.Errorf("log-bin=%s: index entries start %q, want %q", logBin, got, want)
		}
	}
}
