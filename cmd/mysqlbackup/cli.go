package main

import (
	"io"
	"log/slog"

	"github.com/alecthomas/kong"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
)

// CLI is the legacy command line of mysqlbackup.py, unchanged: global
// options (accepted before or after the subcommand) and four subcommands.
type CLI struct {
	ConfPath string `name:"conf-path" placeholder:"PATH" help:"Per-port conf.yaml (legacy format)."`

	MySQLBase   *string `name:"mysql-base" placeholder:"DIR" help:"Override mysql_base." group:"Overrides"`
	Host        *string `name:"host" help:"Override host." group:"Overrides"`
	DataBase    *string `name:"data-base" placeholder:"DIR" help:"Override data_base." group:"Overrides"`
	BackupBase  *string `name:"backup-base" placeholder:"DIR" help:"Override backup_base." group:"Overrides"`
	Port        *string `name:"port" help:"Override port." group:"Overrides"`
	InstanceID  *string `name:"instance-id" placeholder:"ID" help:"Override instance_id." group:"Overrides"`
	DateStr     *string `name:"date-str" placeholder:"YYYY_MM_DD" help:"Override date_str: which day's backup to write or restore; 'latest' = the newest complete backup (restore, verify)." group:"Overrides"`
	S3Host      *string `name:"s3-host" placeholder:"HOST[:PORT]|URL" help:"Override s3_host." group:"Overrides"`
	S3Bucket    *string `name:"s3-bucket" placeholder:"NAME" help:"Override s3_bucket." group:"Overrides"`
	S3AccessKey *string `name:"s3-access-key" placeholder:"KEY" help:"Override s3_access_key." group:"Overrides"`
	S3SecretKey *string `name:"s3-secret-key" placeholder:"KEY" help:"Override s3_secret_key (prefer the file: argv is visible to every user)." group:"Overrides"`
	StoreDir    *string `name:"backup-store-dir" placeholder:"DIR" help:"Override backup_store_dir." group:"Overrides"`

	Verbose           int              `short:"v" type:"counter" help:"More log detail: -v debug and the effective config (secrets redacted)."`
	CleanAfterRestore *bool            `name:"clean-after-restore" negatable:"" help:"After a successful restore, remove the unpacked archive under backup_base (overrides clean_after_restore)."`
	When              string           `name:"when" enum:"no-data-dir,stopped," default:"" placeholder:"no-data-dir|stopped" help:"Run only if the data dir does not exist, is empty or holds an unfinished restore (no-data-dir), or the instance does not answer (stopped); otherwise exit 0 silently."`
	Version           kong.VersionFlag `help:"Print the version and exit."`

	Backup           BackupCmd           `cmd:"" help:"Back up the running instance: data, binlogs after it and my.cnf, to S3 or a local archive."`
	Restore          RestoreCmd          `cmd:"" help:"Rebuild a stopped, wiped instance from a backup and replay its binlog delta."`
	RestoreTest      RestoreTestCmd      `cmd:"" name:"restore-test" help:"Prove a backup restorable: restore it into a scratch datadir beside the serving instance, start it, check every table, its GTID position, its tables and sql_test_get_2."`
	Bootstrap        BootstrapCmd        `cmd:"" help:"Provision a new host in one command: when the data dir is absent, restore the latest backup (--date-str to choose), then catchup_binlog. Exit 3 when the port has no backup yet (a new group: start it empty); exit 0 doing nothing when the instance already runs."`
	CatchupBinlog    CatchupBinlogCmd    `cmd:"" name:"catchup_binlog" aliases:"catchup-binlog" help:"Fetch from every replication source what was written after the backup, under a temporary server-id."`
	SetupReplication SetupReplicationCmd `cmd:"" name:"setup_replication" aliases:"setup-replication" help:"Recreate one replication channel master-<id> per configured source."`

	BinlogArchive BinlogArchiveCmd `cmd:"" name:"binlog-archive" help:"Archive the instance's binary logs to S3 as they are written (every binlog_archive_interval), encrypted, resuming where the archive ends."`
	BinlogFetch   BinlogFetchCmd   `cmd:"" name:"binlog-fetch" help:"Write the archived binary logs into a directory, decoded and checked: the server's files, byte for byte, for mariadb-binlog / mysqlbinlog."`

	List   ListCmd   `cmd:"" help:"List the backups of the port (or --all-ports): date, size, checksum, position, complete or not."`
	Verify VerifyCmd `cmd:"" help:"Download the backup of --date-str (or latest) and check everything, writing nothing."`
	Remove RemoveCmd `cmd:"" help:"Remove the backup of --date-str."`
	Prune  PruneCmd  `cmd:"" help:"Remove the backups retention_count / retention_days do not keep (never the newest complete one)."`
	Keygen KeygenCmd `cmd:"" help:"Create an age key pair for archive_format v2: the secret key to --output, the public key (for encryption_recipients) to stdout."`

	Status     StatusCmd     `cmd:"" help:"Show replication per channel, identity, binlog position and process list of instances (legacy watch-slave.sh)."`
	CheckSlave CheckSlaveCmd `cmd:"" name:"check-slave" help:"Monitoring probe: role, slave_health or slave_behind of one instance (legacy check_mysql_slave.py)."`
}

// App is what every subcommand runs with.
type App struct {
	Cfg    *conf.Config
	Log    *slog.Logger
	Stdout io.Writer
	// Term is stderr when it is a terminal (live progress), else nil.
	Term io.Writer
	// CLI is the parsed command line, for commands that run without a config.
	CLI *CLI

	instance *instance.Instance
}

func (c *CLI) overrides() conf.Overrides {
	return conf.Overrides{
		MySQLBase: c.MySQLBase, Host: c.Host, DataBase: c.DataBase, BackupBase: c.BackupBase,
		Port: c.Port, InstanceID: c.InstanceID, DateStr: c.DateStr, S3Host: c.S3Host,
		S3Bucket: c.S3Bucket, S3AccessKey: c.S3AccessKey, S3SecretKey: c.S3SecretKey,
		BackupStoreDir: c.StoreDir, CleanAfterRestore: c.CleanAfterRestore,
	}
}

// inst is the instance the command's config describes, made once (its
// object store is built once for the command).
func (app *App) inst() *instance.Instance {
	if app.instance == nil || app.instance.Cfg != app.Cfg {
		app.instance = instance.New(app.Cfg, app.Log)
	}
	return app.instance
}
