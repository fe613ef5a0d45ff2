package instance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// runPrefix starts the name of every run's private directory of a
// port under backup_base, {backup_base}/mysqld-tmp-{port}-{random}: a
// temporary mysqld's socket, pid file and error log, and the credentials
// file of the tools. Each run has its own (ports share backup_base), and a
// run removes only its own port's, under the port's lock.
func runPrefix(cfg *conf.Config) string {
	return filepath.Join(cfg.BackupBase, "mysqld-tmp-"+string(cfg.Port)+"-")
}

// NewRunDir makes this run's private directory (a temporary mysqld's
// socket, pid file and error log, the tools' credentials file), after
// removing what killed runs of this port left. The caller holds the
// port's lock and removes the directory at the end.
func (in *Instance) NewRunDir() (string, error) {
	cfg := in.Cfg
	if err := removeRunDirs(cfg); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(cfg.BackupBase, filepath.Base(runPrefix(cfg)))
	if err != nil {
		return "", fmt.Errorf("temporary mysqld run dir: %w", err)
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		return "", err
	}
	return dir, in.ChownToMySQL(dir)
}

// removeRunDirs removes this port's run directories. Only the holder of
// the port's lock calls it, so none of them is in use.
func removeRunDirs(cfg *conf.Config) error {
	dirs, err := filepath.Glob(runPrefix(cfg) + "*")
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range dirs {
		errs = append(errs, os.RemoveAll(d))
	}
	return errors.Join(errs...)
}

// MyCnfFor is the option file the servers on dataDir start with: the
// instance's mysql_my_cnf, found inside dataDir when it lives in the
// datadir (dataDir may be a restore's staging copy of it).
func (in *Instance) MyCnfFor(dataDir string) string {
	cfg := in.Cfg
	if !Inside(cfg.MySQLDataDir, cfg.MySQLMyCnf) {
		return cfg.MySQLMyCnf
	}
	rel, _ := filepath.Rel(cfg.MySQLDataDir, cfg.MySQLMyCnf)
	return filepath.Join(dataDir, rel)
}

// ServerBin is the instance's mysqld (mariadbd first).
func (in *Instance) ServerBin() (string, error) {
	return mysqld.Server.Find(in.Cfg.MySQLBase)
}

// StartTemp starts the supervised temporary mysqld on dataDir with the
// instance's my.cnf, on a private socket in runDir. The caller stops it on
// every path.
func (in *Instance) StartTemp(ctx context.Context, dataDir, runDir string, keepBinlog bool, extra ...string) (*mysqld.TempServer, error) {
	cfg := in.Cfg
	bin, err := in.ServerBin()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(in.MyCnfFor(dataDir)); err != nil {
		return nil, fmt.Errorf("mysql_my_cnf: %w", err)
	}
	myCnf, reduced, err := in.ServerOptionFile(dataDir, runDir)
	if err != nil {
		return nil, err
	}
	if reduced {
		// The reduced file names no plugin (belt and braces) and no user:
		// the server runs as the owner this tool gives the datadir.
		extra = append(extra, "--plugin-load=", "--user="+in.serverUser())
	}
	return mysqld.StartTemp(ctx, mysqld.TempOptions{
		Bin: bin, DefaultsFile: myCnf, DataDir: dataDir, RunDir: runDir,
		ExtraArgs: extra, KeepBinlog: keepBinlog, OwnDataDir: dataDir == cfg.MySQLDataDir,
		User: "root", Password: cfg.RootPassword.Reveal(), Log: in.Log,
	})
}
