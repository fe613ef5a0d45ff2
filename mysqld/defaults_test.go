package mysqld

import (
	"os"
	"path/filepath"
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

// fakeTools makes dir/bin holding an executable for each name.
func fakeTools(t *testing.T, dir string, names ...string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(bin, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

func TestToolsOfMySQLBaseWinOverMariaDBNamesOnPath(t *testing.T) {
	base := t.TempDir() // a MySQL installation: the MySQL names only
	baseBin := fakeTools(t, base, "mysqld", "mysql", "mysqlbinlog")
	pathBin := fakeTools(t, t.TempDir(), "mariadbd", "mariadb", "mariadb-binlog", "mysqld", "mysql", "mysqlbinlog")
	t.Setenv("PATH", pathBin)
	for _, tool := range []Tool{Server, Client, Binlog} {
		if p, err := tool.Find(base); err != nil || p != filepath.Join(baseBin, tool.MySQL) {
			t.Errorf("%s with mysql_base %s: got %q, %v; want %s of mysql_base", tool.MySQL, base, p, err, filepath.Join(baseBin, tool.MySQL))
		}
		if p, err := tool.Find(""); err != nil || p != filepath.Join(pathBin, tool.MariaDB) {
			t.Errorf("%s without mysql_base: got %q, %v; want %s on PATH", tool.MariaDB, p, err, filepath.Join(pathBin, tool.MariaDB))
		}
	}
}

func TestToolsOfAMariaDBBaseAreItsMariaDBNames(t *testing.T) {
	base := t.TempDir() // a MariaDB installation: both names
	baseBin := fakeTools(t, base, "mariadbd", "mysqld", "mariadb-binlog", "mysqlbinlog")
	t.Setenv("PATH", fakeTools(t, t.TempDir(), "mysqld", "mysqlbinlog"))
	for _, tool := range []Tool{Server, Binlog} {
		if p, err := tool.Find(base); err != nil || p != filepath.Join(baseBin, tool.MariaDB) {
			t.Errorf("got %q, %v; want %s", p, err, filepath.Join(baseBin, tool.MariaDB))
		}
	}
}

func TestToolMissingFromMySQLBaseIsTakenFromPath(t *testing.T) {
	base := t.TempDir()
	fakeTools(t, base, "mysqld")
	pathBin := fakeTools(t, t.TempDir(), "mysqlbinlog")
	t.Setenv("PATH", pathBin)
	if p, err := Binlog.Find(base); err != nil || p != filepath.Join(pathBin, "mysqlbinlog") {
		t.Errorf("got %q, %v; want %s", p, err, filepath.Join(pathBin, "mysqlbinlog"))
	}
	if _, err := FindBin(base, "no-such-tool-xyz"); err == nil || !strings.Contains(err.Error(), "no-such-tool-xyz") {
		t.Errorf("missing tool: %v", err)
	}
}
