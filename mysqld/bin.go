package mysqld

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// FindBin returns the first of names found in {mysqlBase}/bin (when set,
// as the legacy tool ran bin/mysqld from there), then in PATH, then in
// the sbin directories a service PATH may lack.
func FindBin(mysqlBase string, names ...string) (string, error) {
	var dirs []string
	if mysqlBase != "" {
		dirs = append(dirs, filepath.Join(mysqlBase, "bin"))
	}
	for _, name := range names {
		for _, d := range dirs {
			if p := filepath.Join(d, name); isExecutable(p) {
				return p, nil
			}
		}
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		for _, d := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
			if p := filepath.Join(d, name); isExecutable(p) {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("none of %s found in %s", strings.Join(names, ", "), strings.Join(append(dirs, "PATH", "/usr/sbin"), ", "))
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
