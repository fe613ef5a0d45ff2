package mysqld

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Tool is a program both flavors ship: under MariaDB's name, and under the
// MySQL name (the only one in a MySQL installation, a link in MariaDB's).
type Tool struct{ MariaDB, MySQL string }

// The tools the restore and the temporary servers run.
var (
	Server = Tool{"mariadbd", "mysqld"}
	Client = Tool{"mariadb", "mysql"}
	Binlog = Tool{"mariadb-binlog", "mysqlbinlog"}
)

// Find is the tool of the installation in {mysqlBase}/bin when that holds
// it, else the one on PATH (see FindBin).
func (t Tool) Find(mysqlBase string) (string, error) {
	return FindBin(mysqlBase, t.MariaDB, t.MySQL)
}

// sbinDirs hold servers that a service's PATH may lack.
var sbinDirs = []string{"/usr/sbin", "/usr/local/sbin", "/sbin"}

// FindBin returns the first of names found in {mysqlBase}/bin, then the
// first found in PATH, then in the sbin directories. mysql_base names the
// installation (the legacy tool ran its bin/mysqld, bin/mysql and
// bin/mysqlbinlog): on a MySQL host its mysqlbinlog runs, not a MariaDB
// mariadb-binlog that happens to be on PATH.
func FindBin(mysqlBase string, names ...string) (string, error) {
	var dirs []string
	if mysqlBase != "" {
		dirs = append(dirs, filepath.Join(mysqlBase, "bin"))
	}
	if p, ok := firstIn(dirs, names); ok {
		return p, nil
	}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	if p, ok := firstIn(sbinDirs, names); ok {
		return p, nil
	}
	return "", fmt.Errorf("none of %s found in %s", strings.Join(names, ", "), strings.Join(append(dirs, "PATH", "/usr/sbin"), ", "))
}

// firstIn is the first of names that is an executable in one of dirs,
// every name tried in a directory before the next.
func firstIn(dirs, names []string) (string, bool) {
	for _, d := range dirs {
		for _, name := range names {
			if p := filepath.Join(d, name); isExecutable(p) {
				return p, true
			}
		}
	}
	return "", false
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
