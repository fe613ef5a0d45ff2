package restore

import (
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

func TestVersionsRefuseAnotherFlavorLineOrADowngrade(t *testing.T) {
	backup, _ := mysqld.ParseVersion("10.11.6-MariaDB-0+deb12u1-log")
	ok := Installed{Server: "/usr/sbin/mariadbd", ServerVersion: "10.11.19-MariaDB-0+deb12u1", Engine: "mariabackup", EngineVersion: "10.11.19-MariaDB"}
	if err := refuseVersions(backup, ok); err != nil {
		t.Errorf("a newer patch of the same line: %v", err)
	}
	for want, inst := range map[string]Installed{
		"same major line (10.11) only":                  {Server: "mariadbd", ServerVersion: "11.4.2-MariaDB"},
		"a downgrade":                                   {Server: "mariadbd", ServerVersion: "10.11.2-MariaDB"},
		"same flavor only":                              {Server: "mysqld", ServerVersion: "8.0.36"},
		"prepares backups of its own major line (10.6)": {Server: "mariadbd", ServerVersion: "10.11.6-MariaDB", Engine: "mariabackup", EngineVersion: "10.6.21-MariaDB"},
	} {
		if err := refuseVersions(backup, inst); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want %q", inst, err, want)
		}
	}
	mysql8, _ := mysqld.ParseVersion("8.0.35")
	if err := refuseVersions(mysql8, Installed{Server: "mysqld", ServerVersion: "8.4.0", Engine: "xtrabackup", EngineVersion: "8.0.35"}); err == nil || !strings.Contains(err.Error(), "(8.0)") {
		t.Errorf("MySQL 8.0 into 8.4: %v", err)
	}
}

// The version lines the tools print, as recorded from each of them.
func TestToolVersionsReadFromWhatEachToolPrints(t *testing.T) {
	for text, want := range map[string]string{
		"/usr/sbin/mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)":                  "10.11.19-MariaDB-0+deb12u1",
		"/usr/sbin/mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)":                                "8.0.36",
		"/usr/sbin/mysqld  Ver 8.0.35-27 for Linux on x86_64 (Percona Server (GPL), Release '27', Revision '2ad7e9a1'$)": "8.0.35-27",
	} {
		if m := serverVersionRe.FindStringSubmatch(text); m == nil || m[1] != want {
			t.Errorf("server %q: %v, want %s", text, m, want)
		}
	}
	for text, want := range map[string]string{
		"mariabackup based on MariaDB server 10.11.19-MariaDB debian-linux-gnu (x86_64)":                   "10.11.19-MariaDB",
		"xtrabackup version 8.0.35-30 based on MySQL server 8.0.35 Linux (x86_64) (revision id: 6beb4b49)": "8.0.35",
		"xtrabackup version 2.4.29 based on MySQL server 5.7.44 Linux (x86_64) (revision id: 2e6c0951)":    "5.7.44",
	} {
		if m := engineVersionRe.FindStringSubmatch(text); m == nil || m[1] != want {
			t.Errorf("engine %q: %v, want %s", text, m, want)
		}
	}
}

func TestMyCnfDiffNamesEachOptionThatDiffers(t *testing.T) {
	backup := parseOptionFile([]byte("[mysqld]\nserver_id = 1\ndatadir=/data/mysql-3309\n# comment\ninnodb_buffer_pool_size = 8G\n[client]\nport=3309\n"))
	current := parseOptionFile([]byte("[mysqld]\nserver-id=2\ndatadir = /data/mysql-3309\ninnodb-buffer-pool-size=8G\nread_only\n[client]\nport=3309\n"))
	got := strings.Join(diffOptions(backup, current), "\n")
	want := "[mysqld] read-only: \"\" in this host's, not in the backup's\n[mysqld] server-id: \"1\" in the backup's, \"2\" in this host's"
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
}
