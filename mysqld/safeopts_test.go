package mysqld

import (
	"strings"
	"testing"
)

func TestSafeOptionsKeepTheLayoutAndDropEverythingThatLoadsCodeOrWritesElsewhere(t *testing.T) {
	in := `# a backup's my.cnf, planted by whoever could write the bucket
!includedir /etc/mysql/conf.d
[client]
password = secret
[mysqld]
datadir = /data1/mysql-3309
server_id = 7
log-bin = mysql-bin
pid-file = /var/run/mysqld/mysqld-3309.pid
socket = "/var/run/mysqld/mysqld-3309.sock"
innodb_buffer_pool_size = 1G
innodb_data_file_path = ibdata1:12M:autoextend
plugin_dir = /data1/mysql-3309/evil
plugin-load-add = evil.so
loose_plugin_load_add = evil2.so
init_file = /data1/mysql-3309/evil.sql
init-connect = "DROP DATABASE app"
user = root
general_log_file = /root/.ssh/authorized_keys
skip-grant-tables
skip-name-resolve
tmpdir = /tmp
[mysqld-10.11]
enable-plugin-x = ON
[mariabackup]
open_files_limit = 100
`
	safe, dropped, err := SafeOptions([]byte(in), "/data1/mysql-3309")
	if err != nil {
		t.Fatal(err)
	}
	out := string(safe)
	for _, want := range []string{"[mysqld]\n", "datadir=/data1/mysql-3309\n", "server_id=7\n", "log-bin=mysql-bin\n",
		"pid-file=/var/run/mysqld/mysqld-3309.pid\n", "socket=/var/run/mysqld/mysqld-3309.sock\n",
		"innodb_buffer_pool_size=1G\n", "innodb_data_file_path=ibdata1:12M:autoextend\n", "skip-name-resolve\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the safe file lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"plugin", "init", "user", "general", "grant", "password", "open_files", "include", "tmpdir"} {
		if strings.Contains(out, bad) {
			t.Errorf("the safe file keeps %q:\n%s", bad, out)
		}
	}
	if got := strings.Join(dropped, ","); !strings.Contains(got, "plugin-dir") || !strings.Contains(got, "plugin-load-add") || !strings.Contains(got, "!includedir") || !strings.Contains(got, "user") {
		t.Errorf("dropped %s", got)
	}
}

func TestSafeOptionsRefuseDataOrBinlogsOutsideTheDatadir(t *testing.T) {
	for _, line := range []string{
		"log-bin = /binlog/3309/mysql-bin",
		"innodb_log_group_home_dir = /redo",
		"innodb_data_file_path = ibdata1:12M;/dev/sdb:10Gnewraw",
		"relay_log = ../elsewhere/relay",
		"innodb_data_home_dir = ..",
	} {
		_, _, err := SafeOptions([]byte("[mysqld]\n"+line+"\n"), "/data1/mysql-3309")
		if err == nil || !strings.Contains(err.Error(), "outside the datadir") {
			t.Errorf("%s: %v, want a refusal naming it", line, err)
		}
	}
}
