package mysqld

import (
	"os"
	"strings"
	"testing"
)

func TestClientDefaultsFileIsPrivateAndQuotesTheValues(t *testing.T) {
	dir := t.TempDir()
	p, remove, err := WriteClientDefaults(dir, Conn{Socket: "/run/m.sock", User: "root", Password: `p"a\ss word#1`}, "/data1/mysql-3309/my.cnf")
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(p)
	want := "!include /data1/mysql-3309/my.cnf\n[client]\nuser=\"root\"\nsocket=\"/run/m.sock\"\npassword=\"p\\\"a\\\\ss word#1\"\n"
	if string(data) != want {
		t.Errorf("file:\n%s\nwant:\n%s", data, want)
	}
	remove()
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Error("remove left the file")
	}
}

func TestFindBinPrefersMySQLBase(t *testing.T) {
	base := t.TempDir()
	os.MkdirAll(base+"/bin", 0o755)
	os.WriteFile(base+"/bin/mysqlbinlog", []byte("#!/bin/sh\n"), 0o755)
	if p, err := FindBin(base, "mysqlbinlog"); err != nil || p != base+"/bin/mysqlbinlog" {
		t.Errorf("got %q, %v", p, err)
	}
	if _, err := FindBin(base, "no-such-tool-xyz"); err == nil || !strings.Contains(err.Error(), "no-such-tool-xyz") {
		t.Errorf("missing tool: %v", err)
	}
}
