package restore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/atomicfile"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// An unpacked backup is what the bucket held: before an engine reads it,
// what in it would make the engine load code or write outside the datadir
// is taken out or refused.

// engineOptionFile is the option file the engine writes into a backup
// and reads back when it prepares or copies it (plugin_load there would
// make `--prepare` load a library).
const engineOptionFile = "backup-my.cnf"

// reduceEngineOptions rewrites the unpacked backup's backup-my.cnf to its
// safe reduction (mysqld.SafeOptions, paths inside the backup dir).
func reduceEngineOptions(in *instance.Instance, backupDir string) error {
	path := filepath.Join(backupDir, engineOptionFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	safe, dropped, err := mysqld.SafeOptions(data, backupDir)
	if err != nil {
		return fmt.Errorf("the backup's %s: %w", engineOptionFile, err)
	}
	if len(dropped) > 0 {
		in.Log.Warn("the backup's "+engineOptionFile+" is used without these options (an encrypted backup's key plugin included)", "left_out", dropped)
	}
	return atomicfile.WriteFile(path, safe, 0o600)
}

// refuseRemoteTablespaces refuses a backup holding an .isl file (a table
// created with DATA DIRECTORY) that points outside the datadir: the
// copy-back writes the table's file where it points, as root, so a
// planted one writes anywhere.
func refuseRemoteTablespaces(backupDir, datadir string) error {
	return filepath.WalkDir(backupDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".isl") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		target := strings.TrimSpace(string(data))
		if !filepath.IsAbs(target) || !instance.Inside(datadir, target) {
			rel, _ := filepath.Rel(backupDir, p)
			return fmt.Errorf("the backup holds %s, a table stored at %s outside the datadir: a restore writes only inside the datadir %s", rel, target, datadir)
		}
		return nil
	})
}
