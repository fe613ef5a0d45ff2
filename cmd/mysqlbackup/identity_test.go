package main

import (
	"slices"
	"testing"
)

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

func TestMyCnfDiffMasksPasswordsAndIgnoresComments(t *testing.T) {
	own := []byte("[mysqld]\nserver-id=2\n# mine\n[client]\npassword=own-secret\n")
	peer := []byte("[mysqld]\nserver-id=1\n[client]\npassword=peer-secret\n")
	onlyOwn, onlyPeer := lineDiff(own, peer)
	if want := []string{"password=<redacted>", "server-id=2"}; !slices.Equal(onlyOwn, want) {
		t.Errorf("own only %q, want %q", onlyOwn, want)
	}
	if want := []string{"password=<redacted>", "server-id=1"}; !slices.Equal(onlyPeer, want) {
		t.Errorf("peer only %q, want %q", onlyPeer, want)
	}
}
