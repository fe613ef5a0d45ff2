package restore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/atomicfile"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// binlogPlace is where the restored binlogs go: where the normal start of
// this host's my.cnf reads them (log-bin; a separate binlog disk is
// common), and the index in the form that server writes.
type binlogPlace struct {
	basename string // absolute, as the normal start has it: {dir}/mysql-bin
	dir      string // where the files go now: inside the stage, or external
	external bool   // dir is outside the datadir
	index    string // where the index goes now (log-bin-index, else {basename}.index)
	prefix   string // index entries: "./", "./sub/" or "/abs/dir/"
}

// BinlogDirMarker marks an external binlog dir holding an unfinished
// restore's files: the next restore clears it, never anything else.
const BinlogDirMarker = ".mysqlbackup-restoring"

// planBinlogs reads the server's own view of the options the normal start
// of the staged my.cnf uses, and places the backup's binlog series (named
// series, e.g. mysql-bin) there. It refuses a my.cnf whose datadir is not
// mysql_data_dir, one without log-bin, one that names the series
// otherwise, and an external binlog dir that holds files.
func planBinlogs(ctx context.Context, in *instance.Instance, stageDir, runDir, series string) (binlogPlace, error) {
	cfg := in.Cfg
	bin, err := in.ServerBin()
	if err != nil {
		return binlogPlace{}, err
	}
	myCnf := in.MyCnfFor(stageDir)
	read, _, err := in.ServerOptionFile(stageDir, runDir)
	if err != nil {
		return binlogPlace{}, err
	}
	opts, err := mysqld.ReadOptions(ctx, bin, read, in.Log)
	if err != nil {
		return binlogPlace{}, err
	}
	if d := opts["datadir"]; !mysqld.SamePath(d, cfg.MySQLDataDir) {
		return binlogPlace{}, fmt.Errorf("my.cnf %s says datadir=%s but mysql_data_dir is %s: the normal start would not find the restored data", myCnfName(in, myCnf), d, cfg.MySQLDataDir)
	}
	if err := instance.RelayDirExists(opts, cfg.MySQLDataDir, myCnfName(in, myCnf)); err != nil {
		return binlogPlace{}, err
	}
	if err := makeRelayDirs(opts, cfg.MySQLDataDir, stageDir); err != nil {
		return binlogPlace{}, err
	}
	base := opts.BinlogBasename("")
	switch {
	case base == "":
		return binlogPlace{}, fmt.Errorf("my.cnf %s has no log-bin: the normal start would not read the restored binlogs", myCnfName(in, myCnf))
	case filepath.Base(base) != series:
		return binlogPlace{}, fmt.Errorf("my.cnf %s names the binlogs %s.* but the backup's are %s.*: set log-bin to %s (binlogs cannot be renamed: each names the next)", myCnfName(in, myCnf), filepath.Base(base), series, series)
	}
	index := opts["log-bin-index"]
	switch {
	case index == "":
		index = base + ".index"
	case !filepath.IsAbs(index):
		index = filepath.Join(cfg.MySQLDataDir, index)
	}
	p := binlogPlace{basename: base, prefix: indexPrefix(opts["log-bin"])}
	staged := func(path string) string {
		rel, _ := filepath.Rel(cfg.MySQLDataDir, path)
		return filepath.Join(stageDir, rel)
	}
	dir := filepath.Dir(base)
	switch {
	case instance.Inside(cfg.MySQLDataDir, dir) && instance.Inside(cfg.MySQLDataDir, index):
		p.dir, p.index = staged(dir), staged(index)
		return p, nil
	case instance.Inside(cfg.MySQLDataDir, dir) || filepath.Dir(index) != dir:
		return binlogPlace{}, fmt.Errorf("my.cnf %s puts the binlogs in %s and their index at %s: only one directory for both, inside the datadir or not, is supported", myCnfName(in, myCnf), dir, index)
	}
	p.dir, p.index, p.external = dir, index, true
	return p, checkBinlogDir(dir)
}

// makeRelayDirs creates, in the staging datadir, the directories inside
// the datadir that relay-log and relay-log-index name: the backup carries
// no relay log, and the catch-up's channels are created there.
func makeRelayDirs(opts mysqld.Options, dataDir, stageDir string) error {
	for _, key := range []string{"relay-log", "relay-log-index"} {
		v := opts[key]
		if v == "" {
			continue
		}
		if !filepath.IsAbs(v) {
			v = filepath.Join(dataDir, v)
		}
		if d := filepath.Dir(v); instance.Inside(dataDir, d) {
			rel, _ := filepath.Rel(dataDir, d)
			if err := os.MkdirAll(filepath.Join(stageDir, rel), 0o750); err != nil {
				return fmt.Errorf("%s directory: %w", key, err)
			}
		}
	}
	return nil
}

// myCnfName names the my.cnf a restore checked as the operator knows it:
// this host's own (installed into the staging datadir), else the backup's.
func myCnfName(in *instance.Instance, staged string) string {
	cfg := in.Cfg
	if own := in.OwnMyCnf(); own != "" && instance.Inside(cfg.MySQLDataDir, cfg.MySQLMyCnf) {
		return own
	}
	if instance.Inside(cfg.MySQLDataDir, cfg.MySQLMyCnf) {
		return "taken with the backup"
	}
	return staged
}

// indexPrefix is how a server started with log-bin=logBin lists its files
// in the index: relative to the datadir as "./", absolute as the dir.
func indexPrefix(logBin string) string {
	dir := filepath.Dir(logBin)
	switch {
	case filepath.IsAbs(logBin):
		return strings.TrimSuffix(dir, "/") + "/"
	case dir == ".":
		return "./"
	}
	return "./" + dir + "/"
}

// checkBinlogDir accepts a missing or empty external binlog dir, and clears
// one that holds an unfinished restore's binlogs (the marker proves it).
func checkBinlogDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("binlog dir: %w", err)
	case fileExists(filepath.Join(dir, BinlogDirMarker)):
		return clearBinlogDir(dir)
	case len(entries) > 0:
		return fmt.Errorf("binlog dir %s (log-bin of my.cnf) is not empty (%d entries): refusing to overwrite it", dir, len(entries))
	}
	return nil
}

// clearBinlogDir removes every entry of an external binlog dir, the
// marker last.
func clearBinlogDir(dir string) error {
	if err := clearEntries(dir, BinlogDirMarker); err != nil {
		return err
	}
	return os.Remove(filepath.Join(dir, BinlogDirMarker))
}

// putBinlogs moves (or copies) the backup's binlogs from src into p.dir
// and writes their index as the server writes it. An external dir gets
// the marker first, removed once the datadir is in place.
func (p binlogPlace) putBinlogs(src string, names []string, move bool) error {
	for _, d := range []string{p.dir, filepath.Dir(p.index)} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("binlog dir: %w", err)
		}
	}
	if p.external {
		if err := atomicfile.WriteFile(filepath.Join(p.dir, BinlogDirMarker), nil, 0o600); err != nil {
			return err
		}
	}
	var index strings.Builder
	for _, name := range names {
		if err := moveOrCopy(filepath.Join(src, name), filepath.Join(p.dir, name), move); err != nil {
			return fmt.Errorf("binlog %s: %w", name, err)
		}
		index.WriteString(p.prefix + name + "\n")
	}
	return atomicfile.WriteFile(p.index, []byte(index.String()), 0o640)
}

// finish removes an external dir's marker: the datadir is in place.
func (p binlogPlace) finish(in *instance.Instance) error {
	if !p.external {
		return nil
	}
	if err := in.ChownToMySQL(p.dir); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(p.dir, BinlogDirMarker)); err != nil {
		return err
	}
	return atomicfile.SyncDir(p.dir)
}
