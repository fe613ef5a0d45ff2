package restore

import (
	"context"
	"path"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/xtrabackup"
)

// Verify reads the whole backup of date_str ("latest": the newest complete
// one) as a restore would, writing nothing, and describes it in one line:
// every checksum, the decryption and decompression to the end, each
// entry, and the files a restore needs.
func Verify(ctx context.Context, in *instance.Instance, o Options) (string, error) {
	src, err := find(ctx, in, progress.Reporter{Log: in.Log, Term: o.Term}, "")
	if err != nil {
		return "", err
	}
	return src.verify(ctx)
}

// archivedIndex marks, among the entries a verify saw, the binlogs of a
// backup that relies on the binlog archive: proven there, their index is
// written by the restore.
const archivedIndex = "(binlog archive)"

// missingEntries lists what a restore needs and the backup lacks: the
// prepared backup's position and info files, my.cnf, a binlog index.
func missingEntries(cfg *conf.Config, seen map[string]bool) []string {
	var missing []string
	anyOf := func(dir string, names ...string) {
		for _, n := range names {
			if seen[path.Join(dir, n)] {
				return
			}
		}
		missing = append(missing, path.Join(dir, names[0]))
	}
	anyOf(cfg.BackupDataTail, xtrabackup.BinlogInfoFiles...)
	anyOf(cfg.BackupDataTail, xtrabackup.InfoFiles...)
	anyOf(cfg.BackupDataTail, "my.cnf")
	index := seen[archivedIndex]
	for name := range seen {
		if path.Dir(name) == cfg.BackupBinlogTail && strings.HasSuffix(name, ".index") {
			index = true
		}
	}
	if !index {
		missing = append(missing, cfg.BackupBinlogTail+"/*.index")
	}
	return missing
}
