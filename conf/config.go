package conf

import "path/filepath"

// Config is the effective configuration of one instance (one port). Field
// tags are the YAML keys of the legacy conf.yaml; the keys under "derived"
// are computed from the others when the file does not set them.
type Config struct {
	MySQLBase         string       `yaml:"mysql_base"`
	Host              string       `yaml:"host"`
	DataBase          string       `yaml:"data_base"`
	BackupBase        string       `yaml:"backup_base"`
	Port              Number       `yaml:"port"`
	InstanceID        Number       `yaml:"instance_id"`
	DateStr           string       `yaml:"date_str"`
	S3Host            string       `yaml:"s3_host"`
	S3Bucket          string       `yaml:"s3_bucket"`
	S3AccessKey       string       `yaml:"s3_access_key"`
	S3SecretKey       Secret       `yaml:"s3_secret_key"`
	S3Region          string       `yaml:"s3_region"`
	RootPassword      Secret       `yaml:"root_password"`
	Replication       *Replication `yaml:"replication,omitempty"`
	ConfBase          string       `yaml:"conf_base"`
	CleanAfterRestore bool         `yaml:"clean_after_restore"`
	SQLTestInsert     string       `yaml:"sql_test_insert,omitempty"`
	SQLTestGet2       string       `yaml:"sql_test_get_2,omitempty"`

	// new in mysqlbackup (not read by the legacy tool)
	XtrabackupBin   string `yaml:"xtrabackup_bin"`    // backup tool; "" = chosen by server flavor
	Parallel        int    `yaml:"parallel"`          // engine copy threads; 0 = tool default
	PrepareMemory   string `yaml:"prepare_memory"`    // --use-memory of prepare, e.g. 1G
	Des3Digest      string `yaml:"des3_digest"`       // md5 (legacy archives) or sha256
	PurgeBinlogDays *int   `yaml:"purge_binlog_days"` // PURGE BINARY LOGS before N days; 0 = off
	S3PartSizeMB    int    `yaml:"s3_part_size_mb"`   // multipart part size in MiB
	S3Concurrency   int    `yaml:"s3_concurrency"`    // parts uploaded at once
	BackupStoreDir  string `yaml:"backup_store_dir"`  // a directory (disk, NFS) holding the backups in the bucket's layout, instead of s3_bucket
	RestoreMove     bool   `yaml:"restore_move"`      // --move-back instead of --copy-back
	// S3CAFile is a PEM file of the CA(s) that sign the object store's TLS
	// certificate, trusted beside the system's; it makes the endpoint https.
	S3CAFile string `yaml:"s3_ca_file"`
	// S3MaxUploadMBPerS bounds the bytes per second sent to the object
	// store, in MiB/s (fractions allowed); 0 = no limit.
	S3MaxUploadMBPerS float64 `yaml:"s3_max_upload_mb_per_s"`
	// XtrabackupThrottle is the engine's --throttle: IO operations per
	// second of its copy (each a read and a write); 0 = no limit.
	XtrabackupThrottle int `yaml:"xtrabackup_throttle"`

	ArchiveFormat            string   `yaml:"archive_format"`             // legacy (tgz.des3) or v2 (xbstream, zstd, age)
	EncryptionRecipients     []string `yaml:"encryption_recipients"`      // v2: age public keys the backups are encrypted to
	EncryptionIdentityFile   string   `yaml:"encryption_identity_file"`   // v2: age secret keys, for restore and verify
	EncryptionPassphraseFile string   `yaml:"encryption_passphrase_file"` // v2: a passphrase instead of keys (both ways)
	BackupSigningKey         string   `yaml:"backup_signing_key"`         // v2: ed25519 secret key file that signs manifests (backup hosts)
	BackupVerifyKeys         []string `yaml:"backup_verify_keys"`         // v2: pinned ed25519 public keys; restore and verify require a signature by one
	// BackupBinlogs says where a v2 backup's binlogs come from: bundle
	// (the default: always in the backup, as the legacy format does),
	// auto (the binlog archive when it holds them, else bundled) or
	// archive (always the archive: the backup fails when it does not hold
	// them).
	BackupBinlogs string `yaml:"backup_binlogs"`

	BinlogArchiveInterval string `yaml:"binlog_archive_interval"` // binlog-archive: the longest an archived event waits to be durable, e.g. 1s
	// BinlogArchiveSemiSync makes binlog-archive a semi-synchronous replica
	// that acknowledges a transaction once it is durable in S3.
	BinlogArchiveSemiSync bool `yaml:"binlog_archive_semisync"`

	MetricsFile        string `yaml:"metrics_file"`        // Prometheus textfile for backup/restore outcomes
	RetentionCount     int    `yaml:"retention_count"`     // prune keeps this many newest backups (0 = no limit)
	RetentionDays      int    `yaml:"retention_days"`      // prune removes backups older than this (0 = no limit)
	CatchupTimeout     string `yaml:"catchup_timeout"`     // bound of the catch-up wait, e.g. 1h
	CatchupUnreachable string `yaml:"catchup_unreachable"` // fail or skip an unreachable source

	// derived (legacy-tool.md §2), each overridable in the file
	MySQLUser      string `yaml:"mysql_user"`
	MySQLUserGroup string `yaml:"mysql_user_group"`
	MySQLSocket    string `yaml:"mysql_socket"`
	MySQLPidPath   string `yaml:"mysql_pid_path"`
	MySQLDataDir   string `yaml:"mysql_data_dir"`
	MySQLMyCnf     string `yaml:"mysql_my_cnf"`
	TmpServerID    Number `yaml:"tmp_server_id"`
	// BinlogArchiveServerID is binlog-archive's server id as a replica.
	BinlogArchiveServerID Number `yaml:"binlog_archive_server_id"`
	BackupTgzDes3Tail     string `yaml:"backup_tgz_des3_tail"`
	BackupDataTail        string `yaml:"backup_data_tail"`
	BackupDataDir         string `yaml:"backup_data_dir"`
	BackupMyCnf           string `yaml:"backup_my_cnf"`
	BackupTgzDes3         string `yaml:"backup_tgz_des3"`
	BackupBinlogTail      string `yaml:"backup_binlog_tail"`
	BackupBinlogDir       string `yaml:"backup_binlog_dir"`
	S3Key                 string `yaml:"s3_key"`
	Mes                   string `yaml:"mes"`

	// Path is the file the configuration was read from ("" without --conf-path).
	Path string `yaml:"-"`
	// FromPort, set by restore --from-port, is the port whose backups and
	// binlog archive a restore reads into this one: a copy of another
	// instance (the config's --port and --data-base say where).
	FromPort Number `yaml:"-"`
	// Ignored lists the legacy keys present in the file that the legacy tool
	// itself overwrote (cwd, des3_password_fn, backup_tgz_des3_meta).
	Ignored []string `yaml:"-"`
}

// Replication is the `replication` mapping: the credentials every channel
// uses and the list of sources this instance replicates from.
type Replication struct {
	User             string   `yaml:"user"`
	Password         Secret   `yaml:"password"`
	Source           []Source `yaml:"source"`
	GroupReplication int      `yaml:"group_replication"`
}

// Source is one replication source. User and Password, when set, replace
// replication.user and replication.password for this source only.
type Source struct {
	Host     string `yaml:"host"`
	Port     Number `yaml:"port"`
	ID       Number `yaml:"id"`
	User     string `yaml:"user,omitempty"`
	Password Secret `yaml:"password,omitempty"`
}

// legacyForcedKeys are keys the legacy tool always overwrote after loading
// the file, so a value in the file never had any effect. They are accepted
// and ignored so that old files keep loading.
var legacyForcedKeys = map[string]bool{
	"cwd":                  true,
	"des3_password_fn":     true,
	"backup_tgz_des3_meta": true,
}

// IdentityFile is encryption_identity_file, relative to conf_base unless absolute.
func (c *Config) IdentityFile() string { return c.confPath(c.EncryptionIdentityFile) }

// SigningKeyFile is backup_signing_key, relative to conf_base unless absolute.
func (c *Config) SigningKeyFile() string { return c.confPath(c.BackupSigningKey) }

// CAFile is s3_ca_file, relative to conf_base unless absolute.
func (c *Config) CAFile() string { return c.confPath(c.S3CAFile) }

// PassphraseFile is encryption_passphrase_file, relative to conf_base unless absolute.
func (c *Config) PassphraseFile() string { return c.confPath(c.EncryptionPassphraseFile) }

func (c *Config) confPath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.ConfBase, p)
}

// Des3PasswordFile is the file whose first line is the des3 password.
func (c *Config) Des3PasswordFile() string { return joinPath(c.ConfBase, "des3_password") }

// SourcesResolved returns the replication sources with the shared
// credentials filled in where a source does not set its own.
func (c *Config) SourcesResolved() []Source {
	if c.Replication == nil {
		return nil
	}
	out := make([]Source, len(c.Replication.Source))
	for i, s := range c.Replication.Source {
		if s.User == "" {
			s.User = c.Replication.User
		}
		if s.Password == "" {
			s.Password = c.Replication.Password
		}
		out[i] = s
	}
	return out
}

// HasStore says whether a backup store is configured: s3_bucket or
// backup_store_dir. Without one, backup and restore use the single local
// archive backup_tgz_des3.
func (c *Config) HasStore() bool { return c.S3Bucket != "" || c.BackupStoreDir != "" }

// StoreName names the configured store in messages: "bucket NAME" or
// "directory PATH".
func (c *Config) StoreName() string {
	if c.BackupStoreDir != "" {
		return "directory " + c.BackupStoreDir
	}
	return "bucket " + c.S3Bucket
}

// PartSize is s3_part_size_mb in bytes: the multipart part size, and the
// unit of a v2 object's pieces in any store.
func (c *Config) PartSize() int64 { return int64(c.S3PartSizeMB) << 20 }

// LatestDate is the date_str that names the newest complete backup.
const LatestDate = "latest"

// S3KeyFor is the legacy archive's key of the backup of date d: s3_key
// when it was set, else the key derived from d as from date_str.
func (c *Config) S3KeyFor(d string) string {
	derived := c.S3Key == c.DateStr+"/"+string(c.Port)+"/"+c.BackupTgzDes3Tail
	switch {
	case !derived:
		return c.S3Key
	case c.FromPort != "":
		return d + "/" + string(c.FromPort) + "/mysql-" + string(c.FromPort) + ".tgz.des3"
	}
	return d + "/" + string(c.Port) + "/" + c.BackupTgzDes3Tail
}

// SourcePort is the port whose backups and binlog archive a restore
// reads: port, or FromPort for a copy restored into another one.
func (c *Config) SourcePort() string {
	if c.FromPort != "" {
		return string(c.FromPort)
	}
	return string(c.Port)
}

// MinUploadMBPerS is the smallest s3_max_upload_mb_per_s: below it a
// backup would hold its port's lock for days.
const MinUploadMBPerS = 0.1
