package mysqld

import (
	"strings"
	"testing"
)

func TestRelocateMovesEverythingTheOriginalOwnsAndStopsReplication(t *testing.T) {
	cnf := `[client]
socket = /run/mysqld/mysqld-3309.sock
port = 3309

[mysqld]
datadir = /data/mysql-3309
port=3309
socket=/run/mysqld/mysqld-3309.sock
pid-file = /run/mysqld/mysqld-3309.pid
log_bin = /binlog/3309/mysql-bin
relay-log = /data/mysql-3309/relay/relay-bin
log-error = "/var/log/mysql/3309.err"
innodb_log_group_home_dir = /data/mysql-3309/redo
server-id = 7
log-slave-updates
`
	r := Relocation{DataDir: "/scratch/mysql-3399", Socket: "/run/mysqld/mysqld-3399.sock", PidFile: "/run/mysqld/mysqld-3399.pid", Port: 3399}
	out, changed, err := Relocate([]byte(cnf), r)
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{
		"socket = /run/mysqld/mysqld-3399.sock\nport = 3399\n", // the clients' group
		"datadir = /scratch/mysql-3399", "port = 3399", "pid-file = /run/mysqld/mysqld-3399.pid",
		"log_bin = /scratch/mysql-3399/mysql-bin", "relay-log = /scratch/mysql-3399/relay/relay-bin",
		"log-error = /scratch/mysql-3399/3309.err", "innodb_log_group_home_dir = /scratch/mysql-3399/redo",
		"server-id = 7", "log-slave-updates\n", "skip-slave-start",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("relocated my.cnf lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "3309.sock") || strings.Contains(got, "/data/mysql-3309") || strings.Contains(got, "/binlog/3309") {
		t.Errorf("the copy still names the original's places:\n%s", got)
	}
	if len(changed) != 10 {
		t.Errorf("changed %d options, want 10: %v", len(changed), changed)
	}
}

func TestRelocateRefusesIncludesAndDataOutsideTheDatadir(t *testing.T) {
	r := Relocation{DataDir: "/scratch/d", Socket: "/s", PidFile: "/p", Port: 1}
	for cnf, want := range map[string]string{
		"[mysqld]\ndatadir=/d\n!includedir /etc/mysql/conf.d\n":    "includes other files",
		"[mysqld]\ndatadir=/d\ninnodb_data_home_dir=/ssd/ibdata\n": "outside its datadir",
		"[mysqld]\nport=3306\n":                                    "names no datadir",
	} {
		if _, _, err := Relocate([]byte(cnf), r); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", cnf, err, want)
		}
	}
}

func TestRelocateLeavesTheCopyNothingOfTheOriginals(t *testing.T) {
	cnf := `[mysqld]
datadir = /data/mysql-3309
aria_log_dir_path = /data/mysql-3309
log-tc = /data/mysql-3309/tc.log
master_info_file = /var/lib/mysql-3309/master.info
innodb_data_file_path = /data/mysql-3309/ibdata1:12M:autoextend
extra_port = 3310
log-bin = ../binlog-3309/mysql-bin
relay_log = relay-bin

[mysqld_safe]
socket = /run/mysqld/mysqld-3309.sock
pid-file = /run/mysqld/mysqld-3309.pid
log-error = /var/log/mysql/3309.err
`
	r := Relocation{DataDir: "/scratch/c", Socket: "/run/mysqld/mysqld-3399.sock", PidFile: "/run/mysqld/mysqld-3399.pid", Port: 3399}
	out, _, err := Relocate([]byte(cnf), r)
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{
		"aria_log_dir_path = /scratch/c\n", "log-tc = /scratch/c/tc.log", "master_info_file = /scratch/c/master.info",
		"innodb_data_file_path = /scratch/c/ibdata1:12M:autoextend", "# mysqlbackup: not for a copy beside the instance: extra_port = 3310",
		"log-bin = /scratch/c/mysql-bin", "relay_log = relay-bin",
		"socket = /run/mysqld/mysqld-3399.sock\npid-file = /run/mysqld/mysqld-3399.pid\nlog-error = /scratch/c/3309.err",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("relocated my.cnf lacks %q:\n%s", want, got)
		}
	}
	if _, _, err := Relocate([]byte("[mysqld]\ndatadir=/d\ninnodb_data_file_path=/ssd/ibdata1:12M\n"), r); err == nil {
		t.Error("an InnoDB system tablespace outside the datadir was relocated, not refused")
	}
}
