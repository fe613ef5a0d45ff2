package xtrabackup

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

func TestCommandLinesOfEachEngineStyle(t *testing.T) {
	mysql57 := mysqld.Version{Flavor: mysqld.MySQL, Major: 5, Minor: 7}
	xb, _ := Choose(mysql57, "/usr/bin/xtrabackup")
	ibx, _ := Choose(mysql57, "/opt/percona/bin/innobackupex")
	mb, _ := Choose(mysqld.Version{Flavor: mysqld.MariaDB, Major: 10, Minor: 11}, "/usr/bin/mariabackup")
	opts := BackupOptions{DefaultsFile: "/etc/c.cnf", TargetDir: "/bk/mysql-3309-backup", Parallel: 4}
	tests := []struct {
		name string
		got  []string
		want string
	}{
		{"xtrabackup backup", xb.BackupArgs(opts), "--defaults-file=/etc/c.cnf --backup --slave-info --target-dir=/bk/mysql-3309-backup --parallel=4"},
		{"mariabackup backup", mb.BackupArgs(BackupOptions{DefaultsFile: "/etc/c.cnf", TargetDir: "/bk/d"}), "--defaults-file=/etc/c.cnf --backup --slave-info --target-dir=/bk/d"},
		{"innobackupex backup (legacy)", ibx.BackupArgs(opts), "--defaults-file=/etc/c.cnf --slave-info --no-timestamp --parallel=4 /bk/mysql-3309-backup"},
		{"xtrabackup stream", xb.BackupArgs(BackupOptions{DefaultsFile: "/etc/c.cnf", TargetDir: "/bk/t", Parallel: 2, Stream: true}), "--defaults-file=/etc/c.cnf --backup --slave-info --target-dir=/bk/t --stream=xbstream --parallel=2"},
		{"mariabackup throttled", mb.BackupArgs(BackupOptions{DefaultsFile: "/etc/c.cnf", TargetDir: "/bk/d", Parallel: 2, Throttle: 40, Stream: true}), "--defaults-file=/etc/c.cnf --backup --slave-info --target-dir=/bk/d --stream=xbstream --parallel=2 --throttle=40"},
		{"innobackupex throttled", ibx.BackupArgs(BackupOptions{DefaultsFile: "/etc/c.cnf", TargetDir: "/bk/t", Throttle: 100}), "--defaults-file=/etc/c.cnf --slave-info --no-timestamp --throttle=100 /bk/t"},
		{"innobackupex stream", ibx.BackupArgs(BackupOptions{DefaultsFile: "/etc/c.cnf", TargetDir: "/bk/t", Stream: true}), "--defaults-file=/etc/c.cnf --slave-info --no-timestamp --stream=xbstream /bk/t"},
		{"xtrabackup prepare", xb.PrepareArgs("/bk/d", "1G"), "--prepare --target-dir=/bk/d --use-memory=1G"},
		{"innobackupex apply-log", ibx.PrepareArgs("/bk/d", ""), "--apply-log /bk/d"},
		{"xtrabackup copy-back", xb.CopyBackArgs("/bk/d/my.cnf", "/bk/d", "/data1/mysql-3309.restoring", false), "--defaults-file=/bk/d/my.cnf --copy-back --target-dir=/bk/d --datadir=/data1/mysql-3309.restoring"},
		{"mariabackup move-back", mb.CopyBackArgs("/bk/d/my.cnf", "/bk/d", "/x", true), "--defaults-file=/bk/d/my.cnf --move-back --target-dir=/bk/d --datadir=/x"},
		{"innobackupex copy-back", ibx.CopyBackArgs("/bk/d/my.cnf", "/bk/d", "/x", false), "--defaults-file=/bk/d/my.cnf --datadir=/x --copy-back /bk/d"},
	}
	for _, tt := range tests {
		if got := strings.Join(tt.got, " "); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
	if mb.StreamTool() != "mbstream" || xb.StreamTool() != "xbstream" {
		t.Error("stream tools")
	}
}

func TestChooseWithoutAToolNamesWhatItLookedFor(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Choose(mysqld.Version{Flavor: mysqld.MySQL, Major: 8}, "")
	if err == nil || !strings.Contains(err.Error(), "xtrabackup") || !strings.Contains(err.Error(), "xtrabackup_bin") {
		t.Errorf("got %v", err)
	}
}

func TestParseBinlogInfoOnRecordedFiles(t *testing.T) {
	for file, want := range map[string]BinlogInfo{
		"mariadb-10.11.xtrabackup_binlog_info":        {File: "mysql-bin.000001", Pos: 916, GTID: "3-3-3,7-3-1"},
		"mysql-5.7-multi-uuid.xtrabackup_binlog_info": {File: "mysql-bin.000003", Pos: 1232, GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,4e11fa47-71ca-11e1-9e33-c80aa9429562:1-3"},
		"mysql-8.0-gtid-off.xtrabackup_binlog_info":   {File: "binlog.000002", Pos: 156},
	} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseBinlogInfo(string(data))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, %v; want %+v", file, got, err, want)
		}
	}
}

func TestParseBinlogInfoRejectsMalformedFiles(t *testing.T) {
	for _, bad := range []string{"", "mysql-bin.000001", "mysql-bin.000001\tabc", "../etc/passwd\t4", "\t4\tx"} {
		if got, err := ParseBinlogInfo(bad); err == nil {
			t.Errorf("ParseBinlogInfo(%q) = %+v, want an error", bad, got)
		}
	}
}

func TestReadBinlogInfoAcceptsTheMariaDB11Name(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mariadb_backup_binlog_info"), []byte("mysql-bin.000009\t4\t0-1-9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadBinlogInfo(dir); err != nil || got.File != "mysql-bin.000009" {
		t.Errorf("%+v %v", got, err)
	}
	if _, err := ReadBinlogInfo(t.TempDir()); err == nil || !strings.Contains(err.Error(), "binary logging off") {
		t.Errorf("empty dir: %v", err)
	}
}

func TestReadServerOnRecordedInfoFiles(t *testing.T) {
	for file, want := range map[string]mysqld.Flavor{"mariadb-10.11.xtrabackup_info": mysqld.MariaDB, "mysql-5.7.xtrabackup_info": mysqld.MySQL} {
		dir := t.TempDir()
		data, _ := os.ReadFile(filepath.Join("testdata", file))
		os.WriteFile(filepath.Join(dir, "xtrabackup_info"), data, 0o644)
		if got, err := ReadServer(dir); err != nil || got.Flavor != want {
			t.Errorf("%s: %+v, %v; want %s", file, got, err, want)
		}
	}
}

func FuzzParseBinlogInfo(f *testing.F) {
	for _, name := range []string{"mariadb-10.11.xtrabackup_binlog_info", "mysql-5.7-multi-uuid.xtrabackup_binlog_info"} {
		data, _ := os.ReadFile(filepath.Join("testdata", name))
		f.Add(string(data))
	}
	f.Fuzz(func(t *testing.T, s string) {
		info, err := ParseBinlogInfo(s)
		if err == nil && (info.File == "" || strings.ContainsAny(info.File, "/\\")) {
			t.Fatalf("accepted %q as %+v", s, info)
		}
	})
}
