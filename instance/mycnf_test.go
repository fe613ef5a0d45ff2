package instance

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

func TestMyCnfDiffShowsIdentityAndMasksEveryOtherValue(t *testing.T) {
	own := []byte("[mysqld]\nserver-id=2\ngtid_domain_id=2\n# mine\nloose-wsrep_sst_auth=sst:own-secret\n[client]\npassword=own-secret\n")
	peer := []byte("[mysqld]\nserver-id=1\ngtid_domain_id=1\nloose-file_key_management_filekey = peer-key\n[client]\npassword=peer-secret\n")
	onlyOwn, onlyPeer := lineDiff(own, peer)
	if want := []string{"gtid_domain_id=2", "loose-wsrep_sst_auth=<redacted>", "password=<redacted>", "server-id=2"}; !slices.Equal(onlyOwn, want) {
		t.Errorf("own only %q, want %q", onlyOwn, want)
	}
	if want := []string{"gtid_domain_id=1", "loose-file_key_management_filekey=<redacted>", "password=<redacted>", "server-id=1"}; !slices.Equal(onlyPeer, want) {
		t.Errorf("peer only %q, want %q", onlyPeer, want)
	}
}

func TestMyCnfForFollowsMysqlMyCnfIntoAStagedDatadir(t *testing.T) {
	cfg := &conf.Config{MySQLDataDir: "/data1/mysql-3309", MySQLMyCnf: "/data1/mysql-3309/my.cnf"}
	if got := New(cfg, nil).MyCnfFor("/data1/mysql-3309.restoring"); got != "/data1/mysql-3309.restoring/my.cnf" {
		t.Errorf("in-datadir my.cnf for the stage: %s", got)
	}
	cfg.MySQLMyCnf = "/etc/mysql/3309.cnf"
	if got := New(cfg, nil).MyCnfFor("/data1/mysql-3309.restoring"); got != "/etc/mysql/3309.cnf" {
		t.Errorf("an overridden mysql_my_cnf outside the datadir must be used as it is: %s", got)
	}
	cfg.MySQLMyCnf = "/data1/mysql-3309-etc/my.cnf" // a sibling with a common prefix is outside
	if got := New(cfg, nil).MyCnfFor("/stage"); got != cfg.MySQLMyCnf {
		t.Errorf("sibling dir taken for inside: %s", got)
	}
}

func TestInstallOwnMyCnfKeepsTheBackupsAndNeverReplacesAnOutsideOne(t *testing.T) {
	dir := t.TempDir()
	confBase, data := filepath.Join(dir, "conf"), filepath.Join(dir, "data")
	for _, d := range []string{confBase, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	own, peer := "[mysqld]\nserver-id=2\n", "[mysqld]\nserver-id=1\n"
	os.WriteFile(filepath.Join(confBase, "my.cnf"), []byte(own), 0o640)
	os.WriteFile(filepath.Join(data, "my.cnf"), []byte(peer), 0o644)
	cfg := &conf.Config{ConfBase: confBase, MySQLDataDir: data, MySQLMyCnf: filepath.Join(data, "my.cnf"), MySQLUser: "no-such-user-here"}
	log := slog.New(slog.DiscardHandler)
	if changed, err := New(cfg, log).InstallOwnMyCnf(data, FromBackupSuffix); err != nil || !changed {
		t.Fatalf("install: changed %v, err %v", changed, err)
	}
	if got, _ := os.ReadFile(filepath.Join(data, "my.cnf")); string(got) != own {
		t.Errorf("datadir my.cnf %q, want the own one", got)
	}
	if fi, err := os.Stat(filepath.Join(data, "my.cnf")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("installed my.cnf mode %v (%v), want the own file's 0640", fi.Mode().Perm(), err)
	}
	if got, _ := os.ReadFile(filepath.Join(data, "my.cnf"+FromBackupSuffix)); string(got) != peer {
		t.Errorf("my.cnf.from-backup %q, want the peer's", got)
	}
	if changed, _ := New(cfg, log).InstallOwnMyCnf(data, FromBackupSuffix); changed {
		t.Error("a second install changed an identical my.cnf")
	}
	cfg.MySQLMyCnf = filepath.Join(dir, "etc.cnf")
	os.WriteFile(cfg.MySQLMyCnf, []byte(peer), 0o644)
	if changed, err := New(cfg, log).InstallOwnMyCnf(data, FromBackupSuffix); err != nil || changed {
		t.Errorf("mysql_my_cnf outside the datadir: changed %v, err %v; want it left alone", changed, err)
	}
}

func TestInsideSeesThroughASymlinkedDatadir(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "disk1", "mysql-3309")
	if err := os.MkdirAll(real, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "mysql-3309")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if !Inside(link, filepath.Join(real, "mysql-bin")) || !Inside(real, filepath.Join(link, "sub", "mysql-bin")) {
		t.Error("a path through the symlink or its target is not seen inside the datadir")
	}
	if Inside(link, filepath.Join(dir, "disk1", "mysql-3309-binlog", "mysql-bin")) {
		t.Error("a sibling is seen inside")
	}
}

func TestRelayDirExistsRefusesAMissingDirectoryOutsideTheDatadir(t *testing.T) {
	dir := t.TempDir()
	ok := mysqld.Options{"relay-log": filepath.Join(dir, "relay-bin"), "relay-log-index": ""}
	if err := RelayDirExists(ok, "/data1/mysql-3309", "my.cnf"); err != nil {
		t.Errorf("existing relay dir: %v", err)
	}
	missing := mysqld.Options{"relay-log": filepath.Join(dir, "nope", "relay-bin")}
	if err := RelayDirExists(missing, "/data1/mysql-3309", "my.cnf"); err == nil || !strings.Contains(err.Error(), "puts relay-log in "+filepath.Join(dir, "nope")) {
		t.Errorf("missing relay dir: %v", err)
	}
	inDatadir := mysqld.Options{"relay-log": "/data1/mysql-3309/relay/relay-bin"}
	if err := RelayDirExists(inDatadir, "/data1/mysql-3309", "my.cnf"); err != nil {
		t.Errorf("a relay dir inside the datadir is the restore's to make: %v", err)
	}
}
