package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// tempRunPrefix starts the name of every run's private directory of a
// port under backup_base, {backup_base}/mysqld-tmp-{port}-{random}: a
// temporary mysqld's socket, pid file and error log, and the credentials
// file of the tools. Each run has its own (ports share backup_base), and a
// run removes only its own port's, under the port's lock.
func tempRunPrefix(cfg *conf.Config) string {
	return filepath.Join(cfg.BackupBase, "mysqld-tmp-"+string(cfg.Port)+"-")
}

// newTempRunDir makes this run's private directory for a temporary
// mysqld's socket, pid file and error log, after removing what killed runs
// of this port left. The caller holds the port's lock and removes the
// directory at the end.
func newTempRunDir(app *App) (string, error) {
	cfg := app.Cfg
	if err := removeTempRunDirs(cfg); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(cfg.BackupBase, filepath.Base(tempRunPrefix(cfg)))
	if err != nil {
		return "", fmt.Errorf("temporary mysqld run dir: %w", err)
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		return "", err
	}
	return dir, chownTree(app.Log, dir, cfg.MySQLUser, cfg.MySQLUserGroup)
}

// removeTempRunDirs removes this port's temporary run directories. Only
// the holder of the port's lock calls it, so none of them is in use.
func removeTempRunDirs(cfg *conf.Config) error {
	dirs, err := filepath.Glob(tempRunPrefix(cfg) + "*")
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range dirs {
		errs = append(errs, os.RemoveAll(d))
	}
	return errors.Join(errs...)
}

// myCnfFor is the option file the servers on dataDir start with: the
// instance's mysql_my_cnf, found inside dataDir when it lives in the
// datadir (dataDir may be a restore's staging copy of it).
func myCnfFor(cfg *conf.Config, dataDir string) string {
	if !inside(cfg.MySQLDataDir, cfg.MySQLMyCnf) {
		return cfg.MySQLMyCnf
	}
	rel, _ := filepath.Rel(cfg.MySQLDataDir, cfg.MySQLMyCnf)
	return filepath.Join(dataDir, rel)
}

// serverBin is the instance's mysqld (mariadbd first).
func serverBin(cfg *conf.Config) (string, error) {
	return mysqld.FindBin(cfg.MySQLBase, "mariadbd", "mysqld")
}

// startTempMysqld starts the supervised temporary mysqld on dataDir with
// the instance's my.cnf, on a private socket in runDir. The caller stops it
// on every path.
func startTempMysqld(app *App, dataDir, runDir string, keepBinlog bool, extra ...string) (*mysqld.TempServer, error) {
	cfg := app.Cfg
	bin, err := serverBin(cfg)
	if err != nil {
		return nil, err
	}
	myCnf := myCnfFor(cfg, dataDir)
	if _, err := os.Stat(myCnf); err != nil {
		return nil, fmt.Errorf("mysql_my_cnf: %w", err)
	}
	return mysqld.StartTemp(app.Ctx, mysqld.TempOptions{
		Bin: bin, DefaultsFile: myCnf, DataDir: dataDir, RunDir: runDir,
		ExtraArgs: extra, KeepBinlog: keepBinlog, OwnDataDir: dataDir == cfg.MySQLDataDir,
		User: "root", Password: cfg.RootPassword.Reveal(), Log: app.Log,
	})
}
