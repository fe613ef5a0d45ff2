package conf

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

// legacyReadme is the sample of the legacy README (without its invalid
// sql_test_* lines), plus the keys the legacy code reads but the README
// does not show.
const legacyReadme = `mysql_base: /usr/local/mysql-5.7.13
host: 127.0.0.1
data_base:   /data1
backup_base: /data1/backup
port: 3309
instance_id: 1
s3_host       : "s3.amazonaws.com"
s3_bucket     : "mysql-backup"
s3_access_key : "AKIAEXAMPLE"
s3_secret_key : "s3-secret-value"
root_password: "root-secret-value"
replication:
  user: replicator
  password: "repl-secret-value"
  source:
    - {host: 10.0.0.2, port: 3309, id: 2}
    - {host: 10.0.0.3, port: 3309, id: 3, user: other, password: "src3-secret-value"}
  group_replication: 0
`

var fixedNow = time.Date(2017, 3, 3, 12, 0, 0, 0, time.Local)

func writeConf(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "backup_conf.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t *testing.T, body string, o Overrides) (*Config, error) {
	t.Helper()
	return Load(Options{Path: writeConf(t, body), Overrides: o, Now: fixedNow})
}

func mustLoad(t *testing.T, body string, o Overrides) *Config {
	t.Helper()
	c, err := load(t, body, o)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

func TestLoadDerivesEveryLegacyKeyWithLegacyTemplates(t *testing.T) {
	c := mustLoad(t, legacyReadme, Overrides{})
	want := map[string]string{
		"date_str":             "2017_03_03",
		"mysql_user":           "mysql-3309",
		"mysql_user_group":     "mysql",
		"mysql_socket":         "/var/run/mysqld/mysqld-3309.sock",
		"mysql_pid_path":       "/var/run/mysqld/mysqld-3309.pid",
		"mysql_data_dir":       "/data1/mysql-3309",
		"mysql_my_cnf":         "/data1/mysql-3309/my.cnf",
		"tmp_server_id":        "1003309",
		"backup_tgz_des3_tail": "mysql-3309.tgz.des3",
		"backup_data_tail":     "mysql-3309-backup",
		"backup_data_dir":      "/data1/backup/mysql-3309-backup",
		"backup_my_cnf":        "/data1/backup/mysql-3309-backup/my.cnf",
		"backup_tgz_des3":      "/data1/backup/mysql-3309.tgz.des3",
		"backup_binlog_tail":   "mysql-3309-binlog",
		"backup_binlog_dir":    "/data1/backup/mysql-3309-binlog",
		"s3_key":               "2017_03_03/3309/mysql-3309.tgz.des3",
		"mes":                  "127.0.0.1:3309 [1] /data1/mysql-3309",
		"s3_region":            "us-east-1",
		"conf_base":            filepath.Dir(c.Path),
	}
	got := map[string]string{
		"date_str": c.DateStr, "mysql_user": c.MySQLUser, "mysql_user_group": c.MySQLUserGroup,
		"mysql_socket": c.MySQLSocket, "mysql_pid_path": c.MySQLPidPath, "mysql_data_dir": c.MySQLDataDir,
		"mysql_my_cnf": c.MySQLMyCnf, "tmp_server_id": string(c.TmpServerID),
		"backup_tgz_des3_tail": c.BackupTgzDes3Tail, "backup_data_tail": c.BackupDataTail,
		"backup_data_dir": c.BackupDataDir, "backup_my_cnf": c.BackupMyCnf, "backup_tgz_des3": c.BackupTgzDes3,
		"backup_binlog_tail": c.BackupBinlogTail, "backup_binlog_dir": c.BackupBinlogDir, "s3_key": c.S3Key,
		"mes": c.Mes, "s3_region": c.S3Region, "conf_base": c.ConfBase,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
}

func TestLoadReadsReplicationAndMergesSourceCredentials(t *testing.T) {
	c := mustLoad(t, legacyReadme, Overrides{})
	src := c.SourcesResolved()
	if len(src) != 2 {
		t.Fatalf("got %d sources, want 2", len(src))
	}
	if src[0].User != "replicator" || src[0].Password.Reveal() != "repl-secret-value" || src[0].Host != "10.0.0.2" || src[0].ID != "2" {
		t.Errorf("source 0 = %+v, want replicator/shared password from replication.*", src[0])
	}
	if src[1].User != "other" || src[1].Password.Reveal() != "src3-secret-value" {
		t.Errorf("source 1 = %+v, want its own user and password", src[1])
	}
}

func TestOverridingAKeyRederivesTheKeysBuiltFromIt(t *testing.T) {
	tests := []struct {
		name, extra string
		o           Overrides
		get         func(*Config) string
		want        string
	}{
		{"mysql_data_dir moves mysql_my_cnf", "mysql_data_dir: /srv/db\n", Overrides{}, func(c *Config) string { return c.MySQLMyCnf }, "/srv/db/my.cnf"},
		{"backup_data_dir moves backup_my_cnf", "backup_data_dir: /data1/backup/bk\n", Overrides{}, func(c *Config) string { return c.BackupMyCnf }, "/data1/backup/bk/my.cnf"},
		{"backup_tgz_des3_tail moves s3_key", "backup_tgz_des3_tail: a.tgz.des3\n", Overrides{}, func(c *Config) string { return c.S3Key }, "2017_03_03/3309/a.tgz.des3"},
		{"--port moves every port-named path", "", Overrides{Port: ptr("3310")}, func(c *Config) string { return c.MySQLMyCnf + " " + c.S3Key + " " + string(c.TmpServerID) }, "/data1/mysql-3310/my.cnf 2017_03_03/3310/mysql-3310.tgz.des3 1003310"},
		{"--data-base moves mysql_data_dir", "", Overrides{DataBase: ptr("/data2")}, func(c *Config) string { return c.MySQLDataDir }, "/data2/mysql-3309"},
		{"--date-str moves s3_key", "", Overrides{DateStr: ptr("2020_01_02")}, func(c *Config) string { return c.S3Key }, "2020_01_02/3309/mysql-3309.tgz.des3"},
		{"date_str in the file moves s3_key", "date_str: 2019_05_06\n", Overrides{}, func(c *Config) string { return c.S3Key }, "2019_05_06/3309/mysql-3309.tgz.des3"},
		{"explicit tmp_server_id wins", "tmp_server_id: 77\n", Overrides{}, func(c *Config) string { return string(c.TmpServerID) }, "77"},
		{"explicit mysql_my_cnf wins over mysql_data_dir", "mysql_data_dir: /srv/db\nmysql_my_cnf: /etc/my.cnf\n", Overrides{}, func(c *Config) string { return c.MySQLMyCnf }, "/etc/my.cnf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, legacyReadme+tt.extra, tt.o)
			if got := tt.get(c); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCommandLineOverridesTheFile(t *testing.T) {
	o := Overrides{
		MySQLBase: ptr("/opt/mysql"), Host: ptr("db7"), BackupBase: ptr("/bk"), InstanceID: ptr("4"),
		S3Host: ptr("minio:9000"), S3Bucket: ptr("b2"), S3AccessKey: ptr("ak2"), S3SecretKey: ptr("sk2"),
	}
	c := mustLoad(t, legacyReadme, o)
	got := fmt.Sprintf("%s %s %s %s %s %s %s %s", c.MySQLBase, c.Host, c.BackupBase, c.InstanceID, c.S3Host, c.S3Bucket, c.S3AccessKey, c.S3SecretKey.Reveal())
	if want := "/opt/mysql db7 /bk 4 minio:9000 b2 ak2 sk2"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if c.TmpServerID != "4003309" {
		t.Errorf("tmp_server_id = %s, want 4003309 from the overridden instance_id", c.TmpServerID)
	}
}

func TestCleanAfterRestoreFromFileIsHonouredUnlessTheFlagSaysOtherwise(t *testing.T) {
	tests := []struct {
		file string
		flag *bool
		want bool
	}{
		{"", nil, false},
		{"clean_after_restore: true\n", nil, true},
		{"clean_after_restore: true\n", ptr(false), false},
		{"clean_after_restore: false\n", ptr(true), true},
	}
	for _, tt := range tests {
		c := mustLoad(t, legacyReadme+tt.file, Overrides{CleanAfterRestore: tt.flag})
		if c.CleanAfterRestore != tt.want {
			t.Errorf("file %q flag %v: clean_after_restore = %v, want %v", tt.file, tt.flag, c.CleanAfterRestore, tt.want)
		}
	}
}

func TestBackupKeysHaveLegacyCompatibleDefaults(t *testing.T) {
	c := mustLoad(t, legacyReadme, Overrides{})
	if c.Des3Digest != "md5" || *c.PurgeBinlogDays != 5 || c.S3PartSizeMB != 16 || c.S3Concurrency != 2 || c.Parallel != 0 || c.XtrabackupBin != "" {
		t.Errorf("defaults: digest %q purge %d part %d conc %d parallel %d bin %q", c.Des3Digest, *c.PurgeBinlogDays, c.S3PartSizeMB, c.S3Concurrency, c.Parallel, c.XtrabackupBin)
	}
	c = mustLoad(t, legacyReadme+"purge_binlog_days: 0\n", Overrides{})
	if *c.PurgeBinlogDays != 0 {
		t.Errorf("purge_binlog_days: 0 read as %d, want 0 (off)", *c.PurgeBinlogDays)
	}
}

func TestPortAndInstanceIDAcceptIntsAndDigitStrings(t *testing.T) {
	body := strings.Replace(legacyReadme, "port: 3309\ninstance_id: 1", "port: \"3309\"\ninstance_id: '1'", 1)
	c := mustLoad(t, body, Overrides{})
	if c.Port != "3309" || c.InstanceID != "1" || c.TmpServerID != "1003309" {
		t.Errorf("port %q instance_id %q tmp_server_id %q", c.Port, c.InstanceID, c.TmpServerID)
	}
}

func TestLegacyForcedKeysAreAcceptedAndIgnored(t *testing.T) {
	c := mustLoad(t, legacyReadme+"cwd: /tmp\ndes3_password_fn: x\nbackup_tgz_des3_meta: {}\n", Overrides{})
	if got := strings.Join(c.Ignored, ","); got != "cwd,des3_password_fn,backup_tgz_des3_meta" {
		t.Errorf("Ignored = %q", got)
	}
}

func TestNullValueLeavesKeyUnset(t *testing.T) {
	c := mustLoad(t, strings.Replace(legacyReadme, `s3_bucket     : "mysql-backup"`, "s3_bucket:", 1), Overrides{})
	if c.S3Bucket != "" {
		t.Errorf("s3_bucket = %q, want unset", c.S3Bucket)
	}
}

func TestBackupStoreDirIsAStoreWithoutS3(t *testing.T) {
	body := strings.Replace(legacyReadme, `s3_bucket     : "mysql-backup"`, "backup_store_dir: /mnt/backups/mysql\narchive_format: v2", 1)
	c := mustLoad(t, body, Overrides{})
	if !c.HasStore() || c.StoreName() != "directory /mnt/backups/mysql" || c.S3Key != "2017_03_03/3309/mysql-3309.tgz.des3" {
		t.Errorf("has store %v, %s, s3_key %s; want the directory, keys in the bucket's layout", c.HasStore(), c.StoreName(), c.S3Key)
	}
	if c := mustLoad(t, strings.Replace(legacyReadme, `s3_bucket     : "mysql-backup"`, "s3_bucket:", 1), Overrides{}); c.HasStore() {
		t.Error("no s3_bucket, no backup_store_dir: HasStore is true")
	}
}

func TestS3EndpointAcceptsHostHostPortAndURL(t *testing.T) {
	for host, want := range map[string]string{
		"s3.example.com":           "http://s3.example.com:80",
		"127.0.0.1:9000":           "http://127.0.0.1:9000",
		"https://s3.example.com":   "https://s3.example.com",
		"http://127.0.0.1:9000":    "http://127.0.0.1:9000",
		"[::1]:9000":               "http://[::1]:9000",
		"https://s3.example.com:8": "https://s3.example.com:8",
	} {
		c := mustLoad(t, legacyReadme, Overrides{S3Host: ptr(host)})
		if got, err := c.S3Endpoint(); err != nil || got != want {
			t.Errorf("s3_host %q: endpoint %q, %v; want %q", host, got, err, want)
		}
	}
}

func TestS3CAFileMakesTheEndpointHTTPSAndItsPoolTrustsTheCA(t *testing.T) {
	path := writeConf(t, legacyReadme+"s3_ca_file: ca.crt\n") // relative: in conf_base
	ca := testbed.NewTestCA(t, filepath.Dir(path))
	for host, want := range map[string]string{
		"s3.example.com":          "https://s3.example.com:443",
		"127.0.0.1:9000":          "https://127.0.0.1:9000",
		"https://s3.example.com/": "https://s3.example.com/",
	} {
		c, err := Load(Options{Path: path, Overrides: Overrides{S3Host: ptr(host)}, Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.S3Endpoint(); err != nil || got != want {
			t.Errorf("s3_host %q with s3_ca_file: endpoint %q, %v; want %q", host, got, err, want)
		}
	}
	c, err := Load(Options{Path: path, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := c.S3RootCAs()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseCert(t, ca.CertFile).Verify(x509.VerifyOptions{Roots: pool}); err != nil {
		t.Errorf("the pool from s3_ca_file does not verify the server certificate the CA signed: %v", err)
	}
}

func parseCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestLoadErrorsNameTheKey(t *testing.T) {
	drop := func(key string) string {
		var out []string
		for _, l := range strings.Split(legacyReadme, "\n") {
			if !strings.HasPrefix(strings.ReplaceAll(l, " ", ""), key+":") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	tests := []struct {
		name, body string
		o          Overrides
		want       string
	}{
		{"unknown key with its line", legacyReadme + "s3_bukcet: x\n", Overrides{}, ":19: s3_bukcet: unknown key"},
		{"unknown nested key", strings.Replace(legacyReadme, "  user: replicator", "  usr: replicator", 1), Overrides{}, ":13: replication.usr: unknown key"},
		{"duplicate key", legacyReadme + "port: 3310\n", Overrides{}, ":19: port: key appears twice"},
		{"port not a number", strings.Replace(legacyReadme, "port: 3309", "port: abc", 1), Overrides{}, `:5: port: want a whole number, got "abc"`},
		{"bool of wrong type", legacyReadme + "clean_after_restore: maybe\n", Overrides{}, `clean_after_restore: want true or false, got "maybe"`},
		{"string given a mapping", legacyReadme + "host2: 1\n", Overrides{}, "host2: unknown key"},
		{"host given a list", strings.Replace(legacyReadme, "host: 127.0.0.1", "host: [a, b]", 1), Overrides{}, ":2: host: want a string, got a list"},
		{"source list is a mapping", strings.Replace(legacyReadme, "  source:\n", "  source: {}\n  x:\n", 1), Overrides{}, "replication.source: want a list, got a mapping"},
		{"source port wrong type", strings.Replace(legacyReadme, "port: 3309, id: 2", "port: x, id: 2", 1), Overrides{}, `replication.source[0].port: want a whole number, got "x"`},
		{"missing host", drop("host"), Overrides{}, "host: required key is missing"},
		{"missing data_base", drop("data_base"), Overrides{}, "data_base: required key is missing"},
		{"missing backup_base", drop("backup_base"), Overrides{}, "backup_base: required key is missing"},
		{"missing port", drop("port"), Overrides{}, "port: required key is missing"},
		{"missing instance_id", drop("instance_id"), Overrides{}, "instance_id: required key is missing"},
		{"tmp_server_id too large", legacyReadme, Overrides{InstanceID: ptr("99999")}, `tmp_server_id: "99999003309" (from {instance_id}00{port}) is not a server id 1-4294967295`},
		{"tmp_server_id zero", legacyReadme + "tmp_server_id: 0\n", Overrides{}, `tmp_server_id: "0"`},
		{"port out of range", legacyReadme, Overrides{Port: ptr("70000")}, "port: want a TCP port 1-65535, got 70000"},
		{"--port not a number", legacyReadme, Overrides{Port: ptr("33x")}, `--port: want a whole number, got "33x"`},
		{"relative data_base", legacyReadme, Overrides{DataBase: ptr("data")}, `data_base: want an absolute path, got "data"`},
		{"date_str with a slash", legacyReadme, Overrides{DateStr: ptr("2020/01")}, `date_str: want letters, digits`},
		{"bad s3_host", legacyReadme, Overrides{S3Host: ptr("h:99999")}, `s3_host: want host, host:port or http(s)://host[:port], got "h:99999"`},
		{"s3_bucket without s3_host", drop("s3_host"), Overrides{}, "s3_host: required when s3_bucket is set"},
		{"access key without secret", drop("s3_secret_key"), Overrides{}, "s3_access_key: s3_access_key and s3_secret_key go together (leave both out for the AWS credential chain)"},
		{"secret without access key", drop("s3_access_key"), Overrides{}, "s3_access_key: s3_access_key and s3_secret_key go together"},
		{"negative upload limit", legacyReadme + "s3_max_upload_mb_per_s: -1\n", Overrides{}, "s3_max_upload_mb_per_s: want 0 (no limit) or 0.1 MiB/s or more, got -1"},
		{"upload limit not a rate", legacyReadme + "s3_max_upload_mb_per_s: .nan\n", Overrides{}, "s3_max_upload_mb_per_s: want 0 (no limit) or 0.1 MiB/s or more, got NaN"},
		{"upload limit that holds the lock for days", legacyReadme + "s3_max_upload_mb_per_s: 1e-9\n", Overrides{}, "s3_max_upload_mb_per_s: want 0 (no limit) or 0.1 MiB/s or more, got 1e-09"},
		{"upload limit not a number", legacyReadme + "s3_max_upload_mb_per_s: fast\n", Overrides{}, `s3_max_upload_mb_per_s: want a number, got "fast"`},
		{"negative engine throttle", legacyReadme + "xtrabackup_throttle: -5\n", Overrides{}, "xtrabackup_throttle: want 0 (no limit) or more IO operations per second, got -5"},
		{"plain http endpoint with a CA file", legacyReadme + "s3_ca_file: /etc/ca.pem\n", Overrides{S3Host: ptr("http://s3.example.com")}, "s3_host: http://s3.example.com is plain http, but s3_ca_file is set: use https:// or host[:port]"},
		{"missing CA file", legacyReadme + "s3_ca_file: /nonexistent/ca.pem\n", Overrides{}, "s3_ca_file: open /nonexistent/ca.pem: no such file or directory"},
		{"source without id", strings.Replace(legacyReadme, ", id: 2}", "}", 1), Overrides{}, "replication.source[0].id: required key is missing"},
		{"two sources, same id", strings.Replace(legacyReadme, "id: 3,", "id: 2,", 1), Overrides{}, "replication.source[1].id: id 2 is used by another source"},
		{"group_replication not 0/1", strings.Replace(legacyReadme, "group_replication: 0", "group_replication: 2", 1), Overrides{}, "replication.group_replication: want 0 or 1, got 2"},
		{"des3_digest unknown", legacyReadme + "des3_digest: sha1\n", Overrides{}, `des3_digest: want md5 or sha256, got "sha1"`},
		{"negative purge days", legacyReadme + "purge_binlog_days: -1\n", Overrides{}, "purge_binlog_days: want 0 (off) or more days, got -1"},
		{"part size under S3 minimum", legacyReadme + "s3_part_size_mb: 4\n", Overrides{}, "s3_part_size_mb: want 5-5120"},
		{"bad prepare_memory", legacyReadme + "prepare_memory: lots\n", Overrides{}, `prepare_memory: want a size like 512M or 2G, got "lots"`},
		{"parallel negative", legacyReadme + "parallel: -2\n", Overrides{}, "parallel: want 0-256, got -2"},
		{"catchup_timeout not a duration", legacyReadme + "catchup_timeout: soon\n", Overrides{}, `catchup_timeout: want a duration like 90s, 30m or 1h, got "soon"`},
		{"catchup_unreachable unknown", legacyReadme + "catchup_unreachable: retry\n", Overrides{}, `catchup_unreachable: want fail or skip, got "retry"`},
		{"archive_format unknown", legacyReadme + "archive_format: v3\n", Overrides{}, `archive_format: want legacy or v2, got "v3"`},
		{"backup_binlogs unknown", legacyReadme + "backup_binlogs: never\n", Overrides{}, `backup_binlogs: want auto, archive or bundle, got "never"`},
		{"backup_binlogs archive with the legacy format", legacyReadme + "backup_binlogs: archive\n", Overrides{}, "backup_binlogs: archive needs archive_format v2"},
		{"v2 without a store", strings.Replace(drop("s3_bucket"), "s3_access_key", "archive_format: v2\ns3_access_key", 1), Overrides{}, "archive_format: v2 archives live in a backup store: set s3_bucket or backup_store_dir"},
		{"store dir and bucket both", legacyReadme + "backup_store_dir: /mnt/backups/mysql\n", Overrides{}, "backup_store_dir: set backup_store_dir or s3_bucket, not both"},
		{"store dir and --s3-bucket", drop("s3_bucket") + "backup_store_dir: /mnt/backups/mysql\n", Overrides{S3Bucket: ptr("b")}, "set backup_store_dir or s3_bucket, not both"},
		{"relative store dir", drop("s3_bucket"), Overrides{BackupStoreDir: ptr("backups")}, `backup_store_dir: want an absolute path, got "backups"`},
		{"store dir holds the datadir", drop("s3_bucket") + "backup_store_dir: /data1\n", Overrides{}, "backup_store_dir: /data1 overlaps mysql_data_dir /data1/mysql-3309"},
		{"store dir in a staging dir", drop("s3_bucket") + "backup_store_dir: /data1/backup/mysql-3309-binlog/store\n", Overrides{}, "overlaps backup_binlog_dir"},
		{"recipients and passphrase", legacyReadme + "encryption_recipients: [age1abc]\nencryption_passphrase_file: pass\n", Overrides{}, "set encryption_recipients or encryption_passphrase_file, not both"},
		{"recipient not an age key", legacyReadme + "encryption_recipients:\n  - ssh-ed25519 AAAA\n", Overrides{}, `encryption_recipients[0]: want an age public key (age1…), got "ssh-ed25519 AAAA"`},
		{"staging dir is the live datadir", legacyReadme + "backup_data_tail: mysql-3309\n", Overrides{BackupBase: ptr("/data1")}, "backup_data_dir: /data1/mysql-3309 overlaps mysql_data_dir /data1/mysql-3309"},
		{"staging dir holds the datadir", legacyReadme + "backup_binlog_dir: /data1\n", Overrides{BackupBase: ptr("/")}, "backup_binlog_dir: /data1 overlaps mysql_data_dir"},
		{"staging dir is the restore's stage", legacyReadme + "backup_data_tail: mysql-3309.restoring\n", Overrides{BackupBase: ptr("/data1")}, "overlaps the restore's staging datadir"},
		{"staging dir outside backup_base", legacyReadme + "backup_binlog_dir: /tmp/binlogs\n", Overrides{}, "backup_binlog_dir: /tmp/binlogs is not inside backup_base /data1/backup"},
		{"staging dir is backup_base", legacyReadme + "backup_data_dir: /data1/backup\n", Overrides{}, "is not inside backup_base"},
		{"tail with a slash", legacyReadme + "backup_data_tail: x/../../mysql-3309\n", Overrides{}, `backup_data_tail: want one plain file name, got "x/../../mysql-3309"`},
		{"tail that climbs", legacyReadme + "backup_binlog_tail: ..\n", Overrides{}, `backup_binlog_tail: want one plain file name`},
		{"two staging dirs in one", legacyReadme + "backup_binlog_tail: mysql-3309-backup\n", Overrides{}, "backup_binlog_dir: /data1/backup/mysql-3309-backup overlaps backup_data_dir"},
		{"verify key not ed25519", legacyReadme + "backup_verify_keys: [age1abc]\n", Overrides{}, `backup_verify_keys[0]: want an ed25519 public key`},
		{"not YAML", "port: [\n", Overrides{}, "not valid YAML"},
		{"empty file", "", Overrides{}, "file is empty"},
		{"top level is a list", "- a\n", Overrides{}, "want a mapping of keys, got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.body, tt.o)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *conf.Error containing %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestLoadReportsAMissingFile(t *testing.T) {
	_, err := Load(Options{Path: "/nonexistent/backup_conf.yaml"})
	if err == nil || err.Error() != "config /nonexistent/backup_conf.yaml: no such file or directory" {
		t.Errorf("got %v", err)
	}
}

func TestLoadWithoutFileTakesEverythingFromOverrides(t *testing.T) {
	c, err := Load(Options{Now: fixedNow, Overrides: Overrides{
		Host: ptr("h"), DataBase: ptr("/d"), BackupBase: ptr("/b"), Port: ptr("3306"), InstanceID: ptr("2"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if c.MySQLDataDir != "/d/mysql-3306" || c.ConfBase != "" {
		t.Errorf("mysql_data_dir %q conf_base %q", c.MySQLDataDir, c.ConfBase)
	}
}

func TestRedactedDumpShowsEveryKeyButNoSecret(t *testing.T) {
	c := mustLoad(t, legacyReadme, Overrides{})
	dump := c.Redacted()
	for _, secret := range []string{"s3-secret-value", "root-secret-value", "repl-secret-value", "src3-secret-value"} {
		if strings.Contains(dump, secret) {
			t.Errorf("dump contains secret %q:\n%s", secret, dump)
		}
	}
	for _, key := range []string{"s3_secret_key: <redacted>", "root_password: <redacted>", "password: <redacted>", "mysql_my_cnf: /data1/mysql-3309/my.cnf", "port: 3309", "tmp_server_id: 1003309"} {
		if !strings.Contains(dump, key) {
			t.Errorf("dump lacks %q:\n%s", key, dump)
		}
	}
	if s := fmt.Sprintf("%v %s %#v", c.RootPassword, c.RootPassword, c.RootPassword); strings.Contains(s, "root-secret") {
		t.Errorf("fmt shows the secret: %s", s)
	}
}

func FuzzLoadNeverPanics(f *testing.F) {
	f.Add(legacyReadme)
	f.Add("replication: {source: [{host: a, port: 1, id: 1}]}\n")
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(Options{Path: p, Now: fixedNow})
		var ce *Error
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("non-config error %T: %v", err, err)
		}
		if err == nil && c.Validate() != nil {
			t.Fatal("Load returned a config that does not validate")
		}
	})
}
