package conf

import (
	"path/filepath"
	"strconv"
	"time"
)

// Defaults of keys left unset.
const (
	DefaultS3Region              = "us-east-1"
	DefaultDes3Digest            = "md5"
	FormatLegacy                 = "legacy"
	FormatV2                     = "v2"
	DefaultPurgeBinlogDays       = 5
	DefaultS3PartSizeMB          = 16
	DefaultS3Concurrency         = 2
	DefaultCatchupTimeout        = "1h"
	DefaultBinlogArchiveInterval = "1s"
	DefaultCatchupUnreach        = "fail"
	BinlogsAuto                  = "auto"
	BinlogsArchive               = "archive"
	BinlogsBundle                = "bundle"
)

// derivation fills one derived key from keys before it in the list, so
// overriding a key in the file moves every key built from it.
type derivation struct {
	key   string
	field func(*Config) *string
	value func(*Config) string
}

// derivations holds legacy-tool.md §2 in evaluation order. Where the
// legacy template repeated a parent path ({data_base}/mysql-{port}/my.cnf)
// this one names the parent key ({mysql_data_dir}/my.cnf): the same value
// by default, and the right one when the parent is overridden.
var derivations = []derivation{
	{"mysql_user", func(c *Config) *string { return &c.MySQLUser }, func(c *Config) string { return "mysql-" + string(c.Port) }},
	{"mysql_user_group", func(c *Config) *string { return &c.MySQLUserGroup }, func(*Config) string { return "mysql" }},
	{"mysql_socket", func(c *Config) *string { return &c.MySQLSocket }, func(c *Config) string { return "/var/run/mysqld/mysqld-" + string(c.Port) + ".sock" }},
	{"mysql_pid_path", func(c *Config) *string { return &c.MySQLPidPath }, func(c *Config) string { return "/var/run/mysqld/mysqld-" + string(c.Port) + ".pid" }},
	{"mysql_data_dir", func(c *Config) *string { return &c.MySQLDataDir }, func(c *Config) string { return joinPath(c.DataBase, "mysql-"+string(c.Port)) }},
	{"mysql_my_cnf", func(c *Config) *string { return &c.MySQLMyCnf }, func(c *Config) string { return joinPath(c.MySQLDataDir, "my.cnf") }},
	{"tmp_server_id", func(c *Config) *string { return (*string)(&c.TmpServerID) }, func(c *Config) string { return string(c.InstanceID) + "00" + string(c.Port) }},
	{"binlog_archive_server_id", func(c *Config) *string { return (*string)(&c.BinlogArchiveServerID) }, func(c *Config) string { return string(c.InstanceID) + "01" + string(c.Port) }},
	{"backup_tgz_des3_tail", func(c *Config) *string { return &c.BackupTgzDes3Tail }, func(c *Config) string { return "mysql-" + string(c.Port) + ".tgz.des3" }},
	{"backup_data_tail", func(c *Config) *string { return &c.BackupDataTail }, func(c *Config) string { return "mysql-" + string(c.Port) + "-backup" }},
	{"backup_data_dir", func(c *Config) *string { return &c.BackupDataDir }, func(c *Config) string { return joinPath(c.BackupBase, c.BackupDataTail) }},
	{"backup_my_cnf", func(c *Config) *string { return &c.BackupMyCnf }, func(c *Config) string { return joinPath(c.BackupDataDir, "my.cnf") }},
	{"backup_tgz_des3", func(c *Config) *string { return &c.BackupTgzDes3 }, func(c *Config) string { return joinPath(c.BackupBase, c.BackupTgzDes3Tail) }},
	{"backup_binlog_tail", func(c *Config) *string { return &c.BackupBinlogTail }, func(c *Config) string { return "mysql-" + string(c.Port) + "-binlog" }},
	{"backup_binlog_dir", func(c *Config) *string { return &c.BackupBinlogDir }, func(c *Config) string { return joinPath(c.BackupBase, c.BackupBinlogTail) }},
	{"s3_key", func(c *Config) *string { return &c.S3Key }, func(c *Config) string { return c.DateStr + "/" + string(c.Port) + "/" + c.BackupTgzDes3Tail }},
	{"mes", func(c *Config) *string { return &c.Mes }, func(c *Config) string {
		return c.Host + ":" + string(c.Port) + " [" + string(c.InstanceID) + "] " + c.MySQLDataDir
	}},
}

// DateStr formats t as the legacy date_str, %Y_%m_%d in local time.
func DateStr(t time.Time) string { return t.Local().Format("2006_01_02") }

func (c *Config) derive(now time.Time) error {
	if c.DateStr == "" {
		c.DateStr = DateStr(now)
	}
	if c.S3Region == "" {
		c.S3Region = DefaultS3Region
	}
	if c.Des3Digest == "" {
		c.Des3Digest = DefaultDes3Digest
	}
	if c.BinlogArchiveInterval == "" {
		c.BinlogArchiveInterval = DefaultBinlogArchiveInterval
	}
	if c.ArchiveFormat == "" {
		c.ArchiveFormat = FormatLegacy
	}
	if c.BackupBinlogs == "" {
		c.BackupBinlogs = BinlogsBundle
	}
	if c.PurgeBinlogDays == nil {
		days := DefaultPurgeBinlogDays
		c.PurgeBinlogDays = &days
	}
	if c.S3PartSizeMB == 0 {
		c.S3PartSizeMB = DefaultS3PartSizeMB
	}
	if c.S3Concurrency == 0 {
		c.S3Concurrency = DefaultS3Concurrency
	}
	if c.CatchupTimeout == "" {
		c.CatchupTimeout = DefaultCatchupTimeout
	}
	if c.CatchupUnreachable == "" {
		c.CatchupUnreachable = DefaultCatchupUnreach
	}
	// A derived key needs its inputs; the required-key check in Validate
	// reports a missing one, so derive only what can be derived.
	if c.Port == "" {
		return &Error{File: c.Path, Key: "port", Msg: "required key is missing"}
	}
	for _, d := range derivations {
		if f := d.field(c); *f == "" {
			*f = d.value(c)
		}
	}
	return nil
}

// joinPath joins like filepath.Join but keeps an empty parent empty-rooted
// the way the legacy "{a}/{b}" template did, so a missing key shows up in
// validation rather than as a relative path.
func joinPath(dir, name string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, name)
}

func quote(s string) string { return strconv.Quote(s) }
