package instance

import (
	"bytes"
	"fmt"
	"os"
	"os/user"
	"path/filepath"

	"github.com/mysqlbackup/mysqlbackup/internal/atomicfile"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// A backup's my.cnf is data from the bucket, never code: whoever can
// write the bucket could plant plugin_dir + plugin-load-add or init_file
// in it, and `mariadbd --verbose --help` alone loads plugins. So no server
// and no engine runs here with a backup's my.cnf as it is; they get its
// safe reduction (mysqld.SafeOptions), written into the run's private
// directory. This host's own my.cnf ({conf_base}/my.cnf) and a
// mysql_my_cnf outside the datadir (the operator's) are trusted.

// SafeFileName is the name of a backup's my.cnf reduced for a temporary
// server, in a run's private directory.
const SafeFileName = "my.cnf.safe"

// FromBackup says whether the option file myCnf (the datadir's, or its
// staging copy's) is a backup's: a restore without an own my.cnf leaves
// the backup's there, with an identical copy beside it named
// my.cnf.from-backup; once an operator edits it, it is theirs.
func (in *Instance) FromBackup(myCnf string) bool {
	if !Inside(in.Cfg.MySQLDataDir, in.Cfg.MySQLMyCnf) {
		return false
	}
	kept, err := os.ReadFile(myCnf + FromBackupSuffix)
	if err != nil {
		return false
	}
	have, err := os.ReadFile(myCnf)
	return err == nil && bytes.Equal(have, kept)
}

// ServerOptionFile is the option file a server on dataDir starts, or is
// asked for its options, with: the instance's my.cnf, or the safe
// reduction of it, in runDir, when it is a backup's.
func (in *Instance) ServerOptionFile(dataDir, runDir string) (path string, reduced bool, err error) {
	myCnf := in.MyCnfFor(dataDir)
	if !in.FromBackup(myCnf) {
		return myCnf, false, nil
	}
	path, err = in.SafeOptionFile(myCnf, runDir)
	return path, err == nil, err
}

// CopyBackOptionFile is the option file the engine copies a backup back
// with (it reads the InnoDB layout from it): this host's own my.cnf, or
// the operator's outside the datadir, else the safe reduction of the
// backup's, backupMyCnf.
func (in *Instance) CopyBackOptionFile(backupMyCnf, runDir string) (string, error) {
	if own := in.OwnMyCnf(); own != "" {
		return own, nil
	}
	if !Inside(in.Cfg.MySQLDataDir, in.Cfg.MySQLMyCnf) {
		return in.Cfg.MySQLMyCnf, nil
	}
	return in.SafeOptionFile(backupMyCnf, runDir)
}

// SafeOptionFile writes the safe reduction of the untrusted option file
// src into runDir and returns its path. Options left out are logged by
// name; a file whose data or binlogs live outside the datadir is refused.
func (in *Instance) SafeOptionFile(src, runDir string) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("the backup's my.cnf: %w", err)
	}
	safe, dropped, err := mysqld.SafeOptions(data, in.Cfg.MySQLDataDir)
	if err != nil {
		return "", fmt.Errorf("the backup's my.cnf %s: %w; put this host's own my.cnf at %s", src, err, filepath.Join(in.Cfg.ConfBase, "my.cnf"))
	}
	if len(dropped) > 0 {
		in.Log.Warn("the backup's my.cnf is used without these options (a backup's my.cnf never loads code here; an own my.cnf in conf_base is used as it is)", "file", src, "left_out", dropped)
	}
	path := filepath.Join(runDir, SafeFileName)
	if err := atomicfile.WriteFile(path, safe, 0o640); err != nil {
		return "", err
	}
	return path, in.ChownToMySQL(path)
}

// serverUser is who a temporary server on a reduced option file runs as:
// mysql_user when it exists here (ChownToMySQL gives it the datadir),
// else the user running this tool (the files then keep their owner).
func (in *Instance) serverUser() string {
	if _, err := user.Lookup(in.Cfg.MySQLUser); err == nil {
		return in.Cfg.MySQLUser
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "root"
}
