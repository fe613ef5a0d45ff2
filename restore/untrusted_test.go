package restore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
)

func TestTheEnginesOptionFileLosesWhatWouldMakePrepareLoadCode(t *testing.T) {
	dir := t.TempDir()
	planted := "[mysqld]\ninnodb_page_size=16384\ninnodb_undo_directory=./\nplugin_load=evil\nplugin_dir=.\n"
	if err := os.WriteFile(filepath.Join(dir, engineOptionFile), []byte(planted), 0o644); err != nil {
		t.Fatal(err)
	}
	in := instance.New(&conf.Config{}, quiet.Log)
	if err := reduceEngineOptions(in, dir); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, engineOptionFile))
	if strings.Contains(string(got), "plugin") || !strings.Contains(string(got), "innodb_page_size=16384") {
		t.Errorf("reduced %s:\n%s", engineOptionFile, got)
	}
}

func TestABackupWithATableStoredOutsideTheDatadirIsRefused(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "app"), 0o700)
	isl := filepath.Join(dir, "app", "evil.isl")
	os.WriteFile(isl, []byte("/data1/mysql-3309/app/evil.ibd\n"), 0o600)
	if err := refuseRemoteTablespaces(dir, "/data1/mysql-3309"); err != nil {
		t.Errorf("an .isl inside the datadir: %v", err)
	}
	os.WriteFile(isl, []byte("/etc/cron.d/evil\n"), 0o600)
	err := refuseRemoteTablespaces(dir, "/data1/mysql-3309")
	if err == nil || !strings.Contains(err.Error(), "app/evil.isl, a table stored at /etc/cron.d/evil outside the datadir") {
		t.Errorf("an .isl pointing at /etc/cron.d: %v", err)
	}
}
