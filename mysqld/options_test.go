package mysqld

import (
	"os"
	"strings"
	"testing"
)

func readFixture(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// The fixtures are `mariadbd --defaults-file=F --verbose --help` of
// MariaDB 10.11, from the variable table on, for a my.cnf with
// pid-file=…/run/mysqld-3611.pid and a bare log-bin, and for one with a
// bare log-bin, log-basename=db3309 and no pid-file.
func TestParseOptionsReadsTheServersComputedFileNames(t *testing.T) {
	for _, c := range []struct {
		fixture string
		want    FileNames
	}{
		{"mariadb-10.11-verbose-help-bare-log-bin.txt", FileNames{PidFileBase: "mysqld-3611.pid", LogBasename: "vm", LogBin: "mysqld-3611-bin"}},
		{"mariadb-10.11-verbose-help-log-basename.txt", FileNames{
			PidFileBase: "db3309.pid", LogBasename: "db3309", LogBin: "db3309-bin", LogBinIndex: "db3309-bin.index",
			RelayLog: "db3309-relay-bin", RelayLogIndex: "db3309-relay-bin.index",
		}},
	} {
		o := ParseOptions(readFixture(t, c.fixture))
		if got := o.FileNames(); got != c.want {
			t.Errorf("%s: file names %+v, want %+v", c.fixture, got, c.want)
		}
		if len(o) < 500 {
			t.Errorf("%s: %d options parsed, want the whole table", c.fixture, len(o))
		}
	}
}

func TestParseOptionsMapsNoDefaultValueToEmptyAndStopsAtTheTablesEnd(t *testing.T) {
	o := ParseOptions(readFixture(t, "mariadb-10.11-verbose-help-bare-log-bin.txt"))
	if v, ok := o["relay-log"]; !ok || v != "" {
		t.Errorf("relay-log = %q (present %v), want present and empty", v, ok)
	}
	if v := o["datadir"]; v != "/tmp/exp/d/data/" {
		t.Errorf("datadir = %q", v)
	}
	for k := range o {
		if strings.HasPrefix(k, "To") || strings.Contains(k, "'") {
			t.Errorf("text after the table parsed as option %q", k)
		}
	}
}

func TestParseOptionsReadsMySQLsTableOfTheSameShape(t *testing.T) {
	// Written after the shape MySQL 8.0's `mysqld --verbose --help`
	// documents (no MySQL server can be installed here to record one):
	// underscores in some names, the same header and rule.
	text := `mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)

Variables (--variable-name=value)
and boolean options {FALSE|TRUE}                             Value (after reading options)
------------------------------------------------------------ -------------
admin-address                                                (No default value)
log-bin                                                      binlog
log-bin-index                                                (No default value)
pid-file                                                     /var/lib/mysql/db1.pid
relay-log                                                    db1-relay-bin
relay_log_index                                              db1-relay-bin.index

To see what values a running MySQL server is using, type
'mysqladmin variables' instead of 'mysqld --verbose --help'.
`
	got := ParseOptions(text).FileNames()
	want := FileNames{PidFileBase: "db1.pid", LogBin: "binlog", RelayLog: "db1-relay-bin", RelayLogIndex: "db1-relay-bin.index"}
	if got != want {
		t.Errorf("file names %+v, want %+v", got, want)
	}
}

func TestFileNamesDiffNamesEachDifference(t *testing.T) {
	a := FileNames{PidFileBase: "mysqld-3309.pid", LogBin: "mysql-bin"}
	b := FileNames{PidFileBase: "mysqld.pid", LogBin: "mysql-bin"}
	d := a.Diff(b)
	if len(d) != 1 || !strings.Contains(d[0], `pid-file base name "mysqld-3309.pid" != "mysqld.pid"`) {
		t.Errorf("diff %q", d)
	}
	if d := a.Diff(a); len(d) != 0 {
		t.Errorf("diff of equal names %q", d)
	}
}

func TestBinlogBasenameIsRelativeToTheDatadir(t *testing.T) {
	for _, c := range []struct {
		o    Options
		dir  string
		want string
	}{
		{Options{"log-bin": "mysql-bin", "datadir": "/data1/mysql-3309/"}, "", "/data1/mysql-3309/mysql-bin"},
		{Options{"log-bin": "mysql-bin", "datadir": "/data1/mysql-3309/"}, "/stage", "/stage/mysql-bin"},
		{Options{"log-bin": "/binlog/3309/mysql-bin"}, "/stage", "/binlog/3309/mysql-bin"},
		{Options{"log-bin": ""}, "/stage", ""},
	} {
		if got := c.o.BinlogBasename(c.dir); got != c.want {
			t.Errorf("%v in %q: %q, want %q", c.o, c.dir, got, c.want)
		}
	}
}

func TestRedactOptionValuesKeepsTheNameOnly(t *testing.T) {
	in := `mariadbd: exit status 7: [ERROR] mariadbd: unknown variable 'file_key_management_filekey=filekey-secret-3' | unknown option '--wsrep-sst-auth=sst:pw' | unknown variable 'filekey=it's SECRET5' | Error while setting value 'SECRET2' to 'binlog_format'`
	got := RedactOptionValues(in)
	if !strings.Contains(got, "setting value '<redacted>' to 'binlog_format'") {
		t.Errorf("the option a bad value was for is lost: %q", got)
	}
	for _, secret := range []string{"filekey-secret-3", "sst:pw", "SECRET5", "SECRET2"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q still holds %q", got, secret)
		}
	}
	if !strings.Contains(got, "'file_key_management_filekey=<redacted>'") || !strings.Contains(got, "'--wsrep-sst-auth=<redacted>'") {
		t.Errorf("option names lost: %q", got)
	}
}
