package conf

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// MaxServerID is the largest server_id MySQL and MariaDB accept.
const MaxServerID = 4294967295

var safeDateStr = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z_.-]*$`)

// Validate checks what the derived configuration needs to be usable. The
// first problem found is returned as an *Error naming the key.
func (c *Config) Validate() error {
	checks := []func() error{
		c.checkRequired, c.checkPaths, c.checkNumbers, c.checkDateStr,
		c.checkS3, c.checkStoreDir, c.checkReplication, c.checkBackup, c.checkCatchup,
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) errKey(key, format string, args ...any) error {
	return &Error{File: c.Path, Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (c *Config) checkRequired() error {
	for _, r := range []struct{ key, v string }{
		{"host", c.Host}, {"data_base", c.DataBase}, {"backup_base", c.BackupBase},
		{"port", string(c.Port)}, {"instance_id", string(c.InstanceID)},
	} {
		if r.v == "" {
			return c.errKey(r.key, "required key is missing")
		}
	}
	return nil
}

func (c *Config) checkPaths() error {
	for _, p := range []struct{ key, v string }{
		{"data_base", c.DataBase}, {"backup_base", c.BackupBase},
		{"mysql_data_dir", c.MySQLDataDir}, {"mysql_my_cnf", c.MySQLMyCnf},
		{"mysql_socket", c.MySQLSocket}, {"mysql_pid_path", c.MySQLPidPath},
		{"backup_data_dir", c.BackupDataDir}, {"backup_binlog_dir", c.BackupBinlogDir},
		{"backup_tgz_des3", c.BackupTgzDes3}, {"backup_my_cnf", c.BackupMyCnf},
	} {
		if !filepath.IsAbs(p.v) {
			return c.errKey(p.key, "want an absolute path, got %q", p.v)
		}
	}
	if c.MySQLBase != "" && !filepath.IsAbs(c.MySQLBase) {
		return c.errKey("mysql_base", "want an absolute path, got %q", c.MySQLBase)
	}
	return c.checkStaging()
}

// checkStaging keeps the dirs a run empties (RemoveAll) away from the live
// datadir: the tails are one plain name each, the staging dirs lie
// strictly inside backup_base, apart from each other, and never are, hold
// or lie inside the datadir or its restore stage.
func (c *Config) checkStaging() error {
	for _, t := range []struct{ key, v string }{
		{"backup_data_tail", c.BackupDataTail}, {"backup_binlog_tail", c.BackupBinlogTail},
		{"backup_tgz_des3_tail", c.BackupTgzDes3Tail},
	} {
		if t.v == "" || t.v == "." || t.v == ".." || strings.ContainsAny(t.v, "/\\") || filepath.Clean(t.v) != t.v {
			return c.errKey(t.key, "want one plain file name, got %q", t.v)
		}
	}
	live := []struct{ name, dir string }{
		{"mysql_data_dir", filepath.Clean(c.MySQLDataDir)},
		{"the restore's staging datadir", filepath.Clean(c.MySQLDataDir) + ".restoring"},
	}
	staging := []struct{ key, dir string }{{"backup_data_dir", c.BackupDataDir}, {"backup_binlog_dir", c.BackupBinlogDir}}
	for _, st := range staging {
		if !within(c.BackupBase, st.dir) {
			return c.errKey(st.key, "%s is not inside backup_base %s: a run empties it", st.dir, c.BackupBase)
		}
		for _, l := range live {
			if overlap(st.dir, l.dir) {
				return c.errKey(st.key, "%s overlaps %s %s: a run empties it, which would destroy the datadir", st.dir, l.name, l.dir)
			}
		}
	}
	if overlap(c.BackupDataDir, c.BackupBinlogDir) {
		return c.errKey("backup_binlog_dir", "%s overlaps backup_data_dir %s", c.BackupBinlogDir, c.BackupDataDir)
	}
	return nil
}

// within says whether p lies strictly inside dir (both absolute).
func within(dir, p string) bool {
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(p))
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}

// overlap says whether a and b are the same dir or one holds the other.
func overlap(a, b string) bool {
	return filepath.Clean(a) == filepath.Clean(b) || within(a, b) || within(b, a)
}

func (c *Config) checkNumbers() error {
	if p, err := c.Port.Uint(); err != nil || p < 1 || p > 65535 {
		return c.errKey("port", "want a TCP port 1-65535, got %s", c.Port)
	}
	if id, err := c.TmpServerID.Uint(); err != nil || id < 1 || id > MaxServerID {
		return c.errKey("tmp_server_id", "%q (from {instance_id}00{port}) is not a server id 1-%d; set tmp_server_id", string(c.TmpServerID), uint64(MaxServerID))
	}
	return c.checkBinlogArchive()
}

// checkBinlogArchive checks binlog-archive's replica id (it must be no
// other server's: not tmp_server_id, no source's) and its interval.
func (c *Config) checkBinlogArchive() error {
	id, err := c.BinlogArchiveServerID.Uint()
	switch {
	case err != nil || id < 1 || id > MaxServerID:
		return c.errKey("binlog_archive_server_id", "%q (from {instance_id}01{port}) is not a server id 1-%d; set binlog_archive_server_id", string(c.BinlogArchiveServerID), uint64(MaxServerID))
	case string(c.BinlogArchiveServerID) == string(c.TmpServerID):
		return c.errKey("binlog_archive_server_id", "%s is also tmp_server_id", c.BinlogArchiveServerID)
	}
	for _, s := range c.SourcesResolved() {
		if string(s.ID) == string(c.BinlogArchiveServerID) {
			return c.errKey("binlog_archive_server_id", "%s is also the id of a replication source", c.BinlogArchiveServerID)
		}
	}
	if d, err := time.ParseDuration(c.BinlogArchiveInterval); err != nil || d < 100*time.Millisecond || d > time.Minute {
		return c.errKey("binlog_archive_interval", "want a duration from 100ms to 1m, got %q", c.BinlogArchiveInterval)
	}
	return nil
}

// BinlogArchiveEvery is binlog_archive_interval as a duration.
func (c *Config) BinlogArchiveEvery() time.Duration {
	d, _ := time.ParseDuration(c.BinlogArchiveInterval)
	return d
}

func (c *Config) checkDateStr() error {
	if !safeDateStr.MatchString(c.DateStr) {
		return c.errKey("date_str", "want letters, digits, '_', '-' or '.', got %q", c.DateStr)
	}
	return nil
}

func (c *Config) checkS3() error {
	if c.S3Bucket == "" {
		return nil
	}
	if c.S3Host == "" {
		return c.errKey("s3_host", "required when s3_bucket is set")
	}
	if _, err := c.S3Endpoint(); err != nil {
		return err
	}
	if (c.S3AccessKey == "") != (c.S3SecretKey == "") {
		return c.errKey("s3_access_key", "s3_access_key and s3_secret_key go together (leave both out for the AWS credential chain)")
	}
	if v := c.S3MaxUploadMBPerS; math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 0 && v < MinUploadMBPerS {
		return c.errKey("s3_max_upload_mb_per_s", "want 0 (no limit) or %g MiB/s or more, got %g", MinUploadMBPerS, c.S3MaxUploadMBPerS)
	}
	_, err := c.S3RootCAs()
	return err
}

// checkStoreDir keeps backup_store_dir apart from s3_bucket (one store),
// and from the dirs a run empties or restores into.
func (c *Config) checkStoreDir() error {
	d := c.BackupStoreDir
	switch {
	case d == "":
		return nil
	case c.S3Bucket != "":
		return c.errKey("backup_store_dir", "set backup_store_dir or s3_bucket, not both (one store holds the backups)")
	case !filepath.IsAbs(d):
		return c.errKey("backup_store_dir", "want an absolute path, got %q", d)
	}
	for _, o := range []struct{ key, dir string }{
		{"mysql_data_dir", c.MySQLDataDir}, {"backup_data_dir", c.BackupDataDir}, {"backup_binlog_dir", c.BackupBinlogDir},
	} {
		if overlap(d, o.dir) {
			return c.errKey("backup_store_dir", "%s overlaps %s %s, which a run empties or restores into", d, o.key, o.dir)
		}
	}
	return nil
}

// S3Endpoint returns the object store URL. As in the legacy tool a bare
// host means http://host:80; host:port and URLs with a scheme are new.
// With s3_ca_file the endpoint is https (a bare host: port 443), and an
// http:// URL is an error.
func (c *Config) S3Endpoint() (string, error) {
	h := c.S3Host
	if u, err := url.Parse(h); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		if u.Scheme == "http" && c.S3CAFile != "" {
			return "", c.errKey("s3_host", "%s is plain http, but s3_ca_file is set: use https:// or host[:port]", h)
		}
		return h, nil
	}
	scheme, port := "http", "80"
	if c.S3CAFile != "" {
		scheme, port = "https", "443"
	}
	host, p, err := net.SplitHostPort(h)
	if err != nil {
		host, p = h, port
	}
	if n, perr := strconv.Atoi(p); host == "" || perr != nil || n < 1 || n > 65535 {
		return "", c.errKey("s3_host", "want host, host:port or http(s)://host[:port], got %q", h)
	}
	return scheme + "://" + net.JoinHostPort(host, p), nil
}

// S3RootCAs is the pool that verifies the object store's certificate: the
// system's roots and every certificate in s3_ca_file; nil (the system's
// alone) without s3_ca_file. An unreadable file, or one with a block that
// is not a certificate or none at all, is an error naming the key.
func (c *Config) S3RootCAs() (*x509.CertPool, error) {
	if c.S3CAFile == "" {
		return nil, nil
	}
	path := c.CAFile()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, c.errKey("s3_ca_file", "%v", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	n := 0
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		cert, err := x509.ParseCertificate(block.Bytes)
		if block.Type != "CERTIFICATE" || err != nil {
			return nil, c.errKey("s3_ca_file", "%s: block %d (%s) is not a certificate", path, n+1, block.Type)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, c.errKey("s3_ca_file", "%s holds no PEM certificate", path)
	}
	return pool, nil
}

func (c *Config) checkReplication() error {
	r := c.Replication
	if r == nil {
		return nil
	}
	if r.GroupReplication != 0 && r.GroupReplication != 1 {
		return c.errKey("replication.group_replication", "want 0 or 1, got %d", r.GroupReplication)
	}
	ids := map[string]bool{}
	for i, s := range r.Source {
		key := fmt.Sprintf("replication.source[%d]", i)
		switch {
		case s.Host == "":
			return c.errKey(key+".host", "required key is missing")
		case s.Port == "":
			return c.errKey(key+".port", "required key is missing")
		case s.ID == "":
			return c.errKey(key+".id", "required key is missing")
		case ids[string(s.ID)]:
			return c.errKey(key+".id", "id %s is used by another source (channel names must differ)", s.ID)
		}
		if p, err := s.Port.Uint(); err != nil || p < 1 || p > 65535 {
			return c.errKey(key+".port", "want a TCP port 1-65535, got %s", s.Port)
		}
		ids[string(s.ID)] = true
	}
	return nil
}

var memorySize = regexp.MustCompile(`^[0-9]+[KMGkmg]?$`)

func (c *Config) checkBackup() error {
	switch {
	case c.Des3Digest != "md5" && c.Des3Digest != "sha256":
		return c.errKey("des3_digest", "want md5 or sha256, got %q", c.Des3Digest)
	case c.Parallel < 0 || c.Parallel > 256:
		return c.errKey("parallel", "want 0-256, got %d", c.Parallel)
	case c.PrepareMemory != "" && !memorySize.MatchString(c.PrepareMemory):
		return c.errKey("prepare_memory", "want a size like 512M or 2G, got %q", c.PrepareMemory)
	case *c.PurgeBinlogDays < 0:
		return c.errKey("purge_binlog_days", "want 0 (off) or more days, got %d", *c.PurgeBinlogDays)
	case c.S3PartSizeMB < 5 || c.S3PartSizeMB > 5120:
		return c.errKey("s3_part_size_mb", "want 5-5120 (S3 limits), got %d", c.S3PartSizeMB)
	case c.S3Concurrency < 1 || c.S3Concurrency > 64:
		return c.errKey("s3_concurrency", "want 1-64, got %d", c.S3Concurrency)
	case c.XtrabackupThrottle < 0:
		return c.errKey("xtrabackup_throttle", "want 0 (no limit) or more IO operations per second, got %d", c.XtrabackupThrottle)
	case c.ArchiveFormat != FormatLegacy && c.ArchiveFormat != FormatV2:
		return c.errKey("archive_format", "want legacy or v2, got %q", c.ArchiveFormat)
	case len(c.EncryptionRecipients) > 0 && c.EncryptionPassphraseFile != "":
		return c.errKey("encryption_passphrase_file", "set encryption_recipients or encryption_passphrase_file, not both (age encrypts to a passphrase alone)")
	case c.ArchiveFormat == FormatV2 && !c.HasStore():
		return c.errKey("archive_format", "v2 archives live in a backup store: set s3_bucket or backup_store_dir")
	case c.BackupBinlogs != BinlogsAuto && c.BackupBinlogs != BinlogsArchive && c.BackupBinlogs != BinlogsBundle:
		return c.errKey("backup_binlogs", "want auto, archive or bundle, got %q", c.BackupBinlogs)
	case c.BackupBinlogs == BinlogsArchive && c.ArchiveFormat != FormatV2:
		return c.errKey("backup_binlogs", "archive needs archive_format v2 (a legacy archive always holds its binlogs)")
	}
	for i, k := range c.BackupVerifyKeys {
		if !strings.HasPrefix(k, "ed25519:") {
			return c.errKey(fmt.Sprintf("backup_verify_keys[%d]", i), "want an ed25519 public key (ed25519:…, from keygen --signing), got %q", k)
		}
	}
	for i, r := range c.EncryptionRecipients {
		if !strings.HasPrefix(r, "age1") {
			return c.errKey(fmt.Sprintf("encryption_recipients[%d]", i), "want an age public key (age1…), got %q", r)
		}
	}
	return nil
}

// CatchupDeadline is catchup_timeout as a duration.
func (c *Config) CatchupDeadline() time.Duration {
	d, _ := time.ParseDuration(c.CatchupTimeout)
	return d
}

func (c *Config) checkCatchup() error {
	if d, err := time.ParseDuration(c.CatchupTimeout); err != nil || d <= 0 {
		return c.errKey("catchup_timeout", "want a duration like 90s, 30m or 1h, got %q", c.CatchupTimeout)
	}
	if c.RetentionCount < 0 || c.RetentionDays < 0 {
		return c.errKey("retention_count", "retention_count and retention_days must be 0 (no limit) or more")
	}
	if c.CatchupUnreachable != "fail" && c.CatchupUnreachable != "skip" {
		return c.errKey("catchup_unreachable", "want fail or skip, got %q", c.CatchupUnreachable)
	}
	return nil
}
