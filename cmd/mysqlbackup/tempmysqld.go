package main

import (
	"os"
	"path/filepath"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// tempRunDir holds the temporary mysqld's socket, pid file and error log.
func tempRunDir(cfg *conf.Config) string { return filepath.Join(cfg.BackupBase, "mysqld-tmp") }

// startTempMysqld starts the supervised temporary mysqld on dataDir with
// the my.cnf found there (the one restored with the backup, as the legacy
// tool used), on a private socket. The caller stops it on every path.
func startTempMysqld(app *App, dataDir string, keepBinlog bool, extra ...string) (*mysqld.TempServer, error) {
	cfg := app.Cfg
	runDir := tempRunDir(cfg)
	if err := os.RemoveAll(runDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(runDir, 0o750); err != nil {
		return nil, err
	}
	if err := chownTree(app.Log, runDir, cfg.MySQLUser, cfg.MySQLUserGroup); err != nil {
		return nil, err
	}
	bin, err := mysqld.FindBin(cfg.MySQLBase, "mariadbd", "mysqld")
	if err != nil {
		return nil, err
	}
	return mysqld.StartTemp(app.Ctx, mysqld.TempOptions{
		Bin: bin, DefaultsFile: filepath.Join(dataDir, "my.cnf"), DataDir: dataDir, RunDir: runDir,
		ExtraArgs: extra, KeepBinlog: keepBinlog,
		User: "root", Password: cfg.RootPassword.Reveal(), Log: app.Log,
	})
}
