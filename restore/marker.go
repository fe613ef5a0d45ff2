package restore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/binlogsync"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
)

// untouchedSince refuses to clear a datadir marked as an unfinished
// restore that a server has used since: a restore killed after the rename
// leaves its marker, and an operator may start the server on it anyway
// and write for days. Only a datadir in which nothing was written since
// the marker may go. Evidence of use: a live process in the normal
// start's pid-file, or a transaction in the binlogs after the ends the
// marker recorded (a server that only started and stopped, like the
// restore's own start proof, writes none).
func untouchedSince(cfg *conf.Config) error {
	datadir := cfg.MySQLDataDir
	if pid, ok := livePid(cfg.MySQLPidPath); ok {
		return fmt.Errorf("data dir %s holds an unfinished restore, but process %d of %s runs: refusing to clear it", datadir, pid, cfg.MySQLPidPath)
	}
	rec, ok := readUnverified(datadir)
	if !ok || rec.Basename == "" {
		return nil // still building in place, or a marker of an earlier version: nothing recorded to compare
	}
	dir, base := filepath.Dir(rec.Basename), filepath.Base(rec.Basename)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("binlog dir of the unfinished restore: %w", err)
	}
	series := regexp.MustCompile(`^` + regexp.QuoteMeta(base) + `\.[0-9]+$`)
	for _, e := range entries {
		if !series.MatchString(e.Name()) {
			continue
		}
		from, recorded := rec.Binlogs[e.Name()]
		if !recorded {
			from = 0
		}
		changed, err := binlogsync.HoldsChanges(filepath.Join(dir, e.Name()), from)
		if err != nil || changed {
			why := "holds transactions written after the restore"
			switch {
			case errors.Is(err, binlogsync.ErrEncrypted):
				why = "is encrypted, so whether a server wrote to it cannot be told"
			case err != nil:
				why = "cannot be read (" + err.Error() + ")"
			}
			return fmt.Errorf("data dir %s holds an unfinished restore, but its binlog %s %s: a server has used it; refusing to clear it (move it aside, or remove it yourself, to restore again)", datadir, e.Name(), why)
		}
	}
	return nil
}

// livePid is the pid in pidFile when that process exists.
func livePid(pidFile string) (int, bool) {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, instance.ProcessAlive(pid)
}
