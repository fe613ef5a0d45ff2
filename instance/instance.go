// Package instance is one configured port on this host: its admin
// connection and lock, the private run directories of its commands, its
// my.cnf (this host's own, installed into a restored datadir), temporary
// servers that name their files as the normal start does, the proof that
// a datadir starts, and the marker of a pending catch-up.
package instance

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/internal/lock"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/replication"
	"github.com/mysqlbackup/mysqlbackup/s3"
	"github.com/mysqlbackup/mysqlbackup/s3/dirstore"
)

// Instance is the port a config describes, with the log of the command
// working on it.
type Instance struct {
	Cfg *conf.Config
	Log *slog.Logger

	storeOnce sync.Once
	store     s3.Store
	storeErr  error

	throttleOnce sync.Once
	throttle     *s3.Throttle
}

// New is the instance cfg describes.
func New(cfg *conf.Config, log *slog.Logger) *Instance { return &Instance{Cfg: cfg, Log: log} }

// Admin is the root connection over the instance's socket that the legacy
// tool used for every local query.
func (in *Instance) Admin() mysqld.Conn {
	return mysqld.Conn{Socket: in.Cfg.MySQLSocket, User: "root", Password: in.Cfg.RootPassword.Reveal()}
}

// s3Config is the S3 bucket of the config; an error names the key
// that is wrong.
func (in *Instance) s3Config() (s3.Config, error) {
	cfg := in.Cfg
	if cfg.S3Bucket == "" {
		return s3.Config{}, &conf.Error{File: cfg.Path, Key: "s3_bucket", Msg: "no S3 bucket is configured"}
	}
	endpoint, err := cfg.S3Endpoint()
	if err != nil {
		return s3.Config{}, err
	}
	roots, err := cfg.S3RootCAs()
	if err != nil {
		return s3.Config{}, err
	}
	return s3.Config{
		Endpoint: endpoint, Region: cfg.S3Region, Bucket: cfg.S3Bucket,
		AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey.Reveal(), RootCAs: roots,
		PartSize: cfg.PartSize(), Concurrency: cfg.S3Concurrency,
		Upload: in.uploadThrottle(),
	}, nil
}

// uploadThrottle is s3_max_upload_mb_per_s (MiB/s) as one throttle that
// every store of the command shares, or nil for no limit.
func (in *Instance) uploadThrottle() *s3.Throttle {
	in.throttleOnce.Do(func() {
		if mib := in.Cfg.S3MaxUploadMBPerS; mib > 0 {
			in.throttle = s3.NewThrottle(mib * (1 << 20))
		}
	})
	return in.throttle
}

// Store is the backup store, built once for the command: the directory
// backup_store_dir, or the S3 bucket.
func (in *Instance) Store() (s3.Store, error) {
	in.storeOnce.Do(func() {
		if dir := in.Cfg.BackupStoreDir; dir != "" {
			d, err := dirstore.Open(dir)
			if err != nil {
				in.storeErr = fmt.Errorf("backup_store_dir: %w", err)
				return
			}
			in.store = d
			return
		}
		sc, err := in.s3Config()
		if err != nil {
			in.storeErr = err
			return
		}
		in.store = s3.New(sc)
	})
	return in.store, in.storeErr
}

// Lock takes the port's lock, {backup_base}/mysql-{port}.lock, creating
// backup_base on a fresh host: backup, restore, catchup_binlog and a
// setup_replication that starts a temporary mysqld never overlap.
func (in *Instance) Lock() (*lock.Lock, error) {
	cfg := in.Cfg
	if err := os.MkdirAll(cfg.BackupBase, 0o750); err != nil {
		return nil, fmt.Errorf("backup_base: %w", err)
	}
	return lock.Acquire(filepath.Join(cfg.BackupBase, "mysql-"+string(cfg.Port)+".lock"))
}

// ChownToMySQL gives root and everything below it to mysql_user:mysql_user_group.
func (in *Instance) ChownToMySQL(root string) error {
	return Chown(in.Log, root, in.Cfg.MySQLUser, in.Cfg.MySQLUserGroup)
}

// Chown gives root and everything below it to user:group, as the
// legacy tool's `chown -R mysql-<port>:mysql` did. Where that user does
// not exist on this host the files keep their owner, with a warning.
func Chown(log *slog.Logger, root, userName, groupName string) error {
	u, err := user.Lookup(userName)
	if err != nil {
		log.Warn("user not on this host; files keep their owner", "user", userName, "dir", root)
		return nil
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if g, err := user.LookupGroup(groupName); err == nil {
		gid, _ = strconv.Atoi(g.Gid)
	}
	return filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", p, err)
		}
		return nil
	})
}

// ProcessAlive says whether a process with this pid exists on this host
// (one that exists but is not ours counts as alive: the safe answer).
func ProcessAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// MachineID is this host's /etc/machine-id ("" if unknown): unlike the
// host name, it tells apart clones of one image.
func MachineID() string {
	data, err := os.ReadFile("/etc/machine-id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// Hostname is this host's name ("" if unknown): the host a run records
// as its own, and that prune compares with.
func Hostname() string {
	h, _ := os.Hostname()
	return h
}

// RunLiveness judges runs by the rules prune uses: a run recorded with
// this host's name and machine and a pid no process has is dead at once;
// elsewhere, after catalog.HeartbeatDeadAge without a heartbeat (v2) or
// catalog.PartialDeadAge (a legacy temporary object).
func RunLiveness() catalog.Liveness {
	return catalog.Liveness{Host: Hostname(), Machine: MachineID(), Alive: ProcessAlive,
		HeartbeatAge: catalog.HeartbeatDeadAge, PartialAge: catalog.PartialDeadAge}
}

// RunName names one run of this process in the store's keys: the host,
// the pid and random digits, so that runs of the members of a group,
// which share a port and a date, never share an object.
func RunName() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	host := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, Hostname())
	if host == "" {
		host = "unknown"
	}
	return fmt.Sprintf("%s.%d.%x", host, os.Getpid(), b)
}

// SealingKeys are the keys v2 objects and archived binlogs are encrypted
// to: encryption_recipients, or the passphrase.
func (in *Instance) SealingKeys() (archive.V2Keys, error) {
	cfg := in.Cfg
	switch {
	case len(cfg.EncryptionRecipients) > 0:
		return archive.RecipientKeys(cfg.EncryptionRecipients)
	case cfg.EncryptionPassphraseFile != "":
		return archive.PassphraseFile(cfg.PassphraseFile())
	}
	return archive.V2Keys{}, &conf.Error{File: cfg.Path, Key: "encryption_recipients", Msg: "archive_format v2 and binlog-archive need age public keys here (or encryption_passphrase_file)"}
}

// OpeningKeys are the keys that open v2 objects and archived binlogs:
// encryption_identity_file, or the passphrase.
func (in *Instance) OpeningKeys() (archive.V2Keys, error) {
	cfg := in.Cfg
	switch {
	case cfg.EncryptionIdentityFile != "":
		return archive.IdentityFile(cfg.IdentityFile())
	case cfg.EncryptionPassphraseFile != "":
		return archive.PassphraseFile(cfg.PassphraseFile())
	}
	return archive.V2Keys{}, &conf.Error{File: cfg.Path, Key: "encryption_identity_file",
		Msg: "v2 backups and archived binlogs are read with the age secret key (encryption_identity_file) or the passphrase (encryption_passphrase_file); neither is set"}
}

// Sources are the configured replication sources, credentials merged.
func (in *Instance) Sources() ([]replication.Source, error) {
	cfg := in.Cfg
	srcs := cfg.SourcesResolved()
	if len(srcs) == 0 {
		return nil, &conf.Error{File: cfg.Path, Key: "replication.source", Msg: "no source configured"}
	}
	out := make([]replication.Source, len(srcs))
	for i, s := range srcs {
		out[i] = replication.Source{ID: string(s.ID), Host: s.Host, Port: s.Port.Int(), User: s.User, Password: s.Password.Reveal()}
	}
	return out, nil
}

// SetupChannels sets up replication from sources over one session and
// logs each channel: all started when start, but those in noStart.
func (in *Instance) SetupChannels(ctx context.Context, conn *sql.Conn, v mysqld.Version, sources []replication.Source, start bool, noStart []string) error {
	group := in.Cfg.Replication != nil && in.Cfg.Replication.GroupReplication == 1
	o := replication.InstanceOptions{Group: group, Start: start, NoStart: noStart}
	if err := replication.SetupInstance(ctx, conn, v, sources, o); err != nil || group {
		return err
	}
	for _, s := range sources {
		started := start && !slices.Contains(noStart, s.Channel())
		in.Log.Info("channel set up", "channel", s.Channel(), "source", fmt.Sprintf("%s:%d", s.Host, s.Port), "started", started)
	}
	return nil
}
