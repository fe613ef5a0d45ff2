package instance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/atomicfile"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// FromBackupSuffix names the backup's my.cnf kept beside this host's own.
const FromBackupSuffix = ".from-backup"

// OwnMyCnf is this host's own my.cnf, {conf_base}/my.cnf, or "" when there
// is none. Members of one replication group share a port, so a host often
// restores a peer's backup: this file, not the backup's, gives the restored
// instance its own server-id, gtid_domain_id and paths.
func (in *Instance) OwnMyCnf() string {
	cfg := in.Cfg
	if cfg.ConfBase == "" {
		return ""
	}
	p := filepath.Join(cfg.ConfBase, "my.cnf")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// InstallOwnMyCnf makes the my.cnf of dataDir (when mysql_my_cnf lives in
// the datadir) this host's own, with the own file's mode: the file there is
// kept as my.cnf{keepSuffix} and the differing lines are logged (values
// of options not known to be harmless are masked). It returns whether it
// changed anything.
func (in *Instance) InstallOwnMyCnf(dataDir, keepSuffix string) (bool, error) {
	cfg, log := in.Cfg, in.Log
	own := in.OwnMyCnf()
	if own == "" || !Inside(cfg.MySQLDataDir, cfg.MySQLMyCnf) {
		// Without an own my.cnf there is nothing to install; a mysql_my_cnf
		// outside the datadir is the operator's, never ours to replace.
		return false, nil
	}
	target := in.MyCnfFor(dataDir)
	want, err := os.ReadFile(own)
	if err != nil {
		return false, fmt.Errorf("own my.cnf: %w", err)
	}
	fi, err := os.Stat(own)
	if err != nil {
		return false, fmt.Errorf("own my.cnf: %w", err)
	}
	have, err := os.ReadFile(target)
	switch {
	case err == nil && bytes.Equal(have, want):
		return false, nil
	case err == nil:
		keep := target + keepSuffix
		if err := os.Rename(target, keep); err != nil {
			return false, fmt.Errorf("keep the replaced my.cnf: %w", err)
		}
		only, gone := lineDiff(want, have)
		log.Info("installed this host's own my.cnf", "from", own, "to", target, "kept", keep, "own_only", only, "replaced_only", gone)
	case errors.Is(err, os.ErrNotExist):
		log.Info("installed this host's own my.cnf", "from", own, "to", target)
	default:
		return false, fmt.Errorf("my.cnf: %w", err)
	}
	if err := atomicfile.WriteFile(target, want, fi.Mode().Perm()); err != nil {
		return false, fmt.Errorf("install own my.cnf: %w", err)
	}
	return true, in.ChownToMySQL(target)
}

// ReplacedSuffix names a my.cnf that catchup_binlog replaced: never the
// same name twice, so no earlier copy is lost.
func ReplacedSuffix() string { return ".replaced-" + time.Now().UTC().Format("20060102T150405Z") }

// CheckMyCnf proves, with the server's own view of the option file at
// path, that its normal start uses mysql_data_dir and, when series is set,
// writes that binlog series: nothing is installed or started otherwise.
func (in *Instance) CheckMyCnf(ctx context.Context, path, series, runDir string) error {
	cfg := in.Cfg
	bin, err := in.ServerBin()
	if err != nil {
		return err
	}
	read := path
	if in.FromBackup(path) {
		if read, err = in.SafeOptionFile(path, runDir); err != nil {
			return err
		}
	}
	opts, err := mysqld.ReadOptions(ctx, bin, read, in.Log)
	if err != nil {
		return err
	}
	if d := opts["datadir"]; !mysqld.SamePath(d, cfg.MySQLDataDir) {
		return fmt.Errorf("my.cnf %s says datadir=%s but mysql_data_dir is %s: the normal start would not find the restored data", path, d, cfg.MySQLDataDir)
	}
	if base := opts.BinlogBasename(""); series != "" && !mysqld.SamePath(base, series) {
		return fmt.Errorf("my.cnf %s writes the binlog series %s but the restore put it back as %s: fix log-bin", path, base, series)
	}
	return RelayDirExists(opts, cfg.MySQLDataDir, path)
}

// RelayDirExists refuses explicit relay-log or relay-log-index paths
// outside dataDir whose directory does not exist: the server could create
// no channel there (CHANGE MASTER fails with "File … not found"), and a
// restore cannot tell, as the restored datadir has no channel yet.
func RelayDirExists(opts mysqld.Options, dataDir, myCnf string) error {
	for _, key := range []string{"relay-log", "relay-log-index"} {
		v := opts[key]
		if v == "" || !filepath.IsAbs(v) || Inside(dataDir, v) {
			continue
		}
		if fi, err := os.Stat(filepath.Dir(v)); err != nil || !fi.IsDir() {
			return fmt.Errorf("my.cnf %s puts %s in %s, which is not a directory on this host: create it", myCnf, key, filepath.Dir(v))
		}
	}
	return nil
}

// Inside says whether p is dir or below it, as written or with symbolic
// links resolved (as far as the paths exist).
func Inside(dir, p string) bool {
	if inside(dir, p) {
		return true
	}
	rd, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	rp, err := resolveExisting(p)
	return err == nil && inside(rd, rp)
}

func inside(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// resolveExisting resolves the symbolic links of the longest existing
// prefix of p and keeps the rest as written.
func resolveExisting(p string) (string, error) {
	p = filepath.Clean(p)
	for rest := ""; ; {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest), nil
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", fmt.Errorf("%s: no existing prefix", p)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// lineDiff returns the lines only in a and those only in b, comments
// left out, each option's value masked unless the option is one of
// harmlessOptions (my.cnf may hold passwords, keys, SST credentials).
func lineDiff(a, b []byte) (onlyA, onlyB []string) {
	set := func(d []byte) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(string(d), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, ";") {
				m[l] = true
			}
		}
		return m
	}
	sa, sb := set(a), set(b)
	for l := range sa {
		if !sb[l] {
			onlyA = append(onlyA, maskOption(l))
		}
	}
	for l := range sb {
		if !sa[l] {
			onlyB = append(onlyB, maskOption(l))
		}
	}
	slices.Sort(onlyA)
	slices.Sort(onlyB)
	return onlyA, onlyB
}

// ShownOption says whether a my.cnf diff may show the value of option
// (a name as written, dashes or underscores, loose- or not).
func ShownOption(option string) bool {
	return harmlessOptions[strings.TrimPrefix(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(option)), "_", "-"), "loose-")]
}

// harmlessOptions are the options whose values the my.cnf diff shows:
// identity, names and paths of the server's files.
var harmlessOptions = map[string]bool{
	"server-id": true, "gtid-domain-id": true, "datadir": true, "port": true, "socket": true,
	"bind-address": true, "report-host": true, "pid-file": true, "log-bin": true, "log-bin-index": true,
	"log-basename": true, "relay-log": true, "relay-log-index": true, "log-error": true, "tmpdir": true,
	"user": true, "log-slave-updates": true, "skip-slave-start": true, "binlog-format": true, "read-only": true,
}

func maskOption(line string) string {
	k, _, ok := strings.Cut(line, "=")
	if !ok {
		return line
	}
	name := strings.TrimPrefix(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(k)), "_", "-"), "loose-")
	if harmlessOptions[name] {
		return line
	}
	return strings.TrimSpace(k) + "=<redacted>"
}

// OwnMyCnfElsewhere says whether this host's own my.cnf is for another
// datadir than mysql_data_dir: the config was pointed at another place
// (--port, --data-base), to restore a copy beside the instance.
func (in *Instance) OwnMyCnfElsewhere() (bool, error) {
	own := in.OwnMyCnf()
	if own == "" || !Inside(in.Cfg.MySQLDataDir, in.Cfg.MySQLMyCnf) {
		return false, nil
	}
	data, err := os.ReadFile(own)
	if err != nil {
		return false, fmt.Errorf("own my.cnf: %w", err)
	}
	dir := mysqld.DataDirOf(data)
	return dir != "" && dir != filepath.Clean(in.Cfg.MySQLDataDir), nil
}

// InstallRelocatedMyCnf makes the my.cnf of dataDir this host's own
// rewritten for a copy at mysql_data_dir, mysql_socket, mysql_pid_path
// and port (mysqld.Relocate), and logs what it changed.
func (in *Instance) InstallRelocatedMyCnf(dataDir string) error {
	own, backups := in.OwnMyCnf(), false
	if own == "" { // a copy on a host without one: the backup's, relocated in place
		own, backups = in.MyCnfFor(dataDir), true
	}
	out, changed, err := in.relocated(own)
	if err != nil {
		return err
	}
	target := in.MyCnfFor(dataDir)
	if _, err := os.Stat(target); err == nil && !backups {
		if err := os.Rename(target, target+FromBackupSuffix); err != nil {
			return fmt.Errorf("keep the backup's my.cnf: %w", err)
		}
	}
	in.Log.Info("installed this host's own my.cnf relocated for a copy beside the instance", "from", own, "to", target, "changed", strings.Join(changed, "; "))
	if err := atomicfile.WriteFile(target, out, 0o640); err != nil {
		return fmt.Errorf("install relocated my.cnf: %w", err)
	}
	return in.ChownToMySQL(target)
}

// relocated is the option file src rewritten for a copy at
// mysql_data_dir, mysql_socket, mysql_pid_path and port, refused when the
// copy would share the instance's socket, pid file or port, or when the
// file keeps InnoDB files outside its datadir.
func (in *Instance) relocated(src string) ([]byte, []string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return nil, nil, fmt.Errorf("own my.cnf: %w", err)
	}
	return in.Relocated(data, src)
}

// Relocated is the option file data (read from src, for messages)
// rewritten for a copy at mysql_data_dir, mysql_socket, mysql_pid_path and
// port, or the refusal of it.
func (in *Instance) Relocated(data []byte, src string) ([]byte, []string, error) {
	cfg := in.Cfg
	port, err := cfg.Port.Uint()
	if err != nil {
		return nil, nil, err
	}
	for _, o := range []struct{ name, key, value string }{
		{"socket", "mysql_socket", cfg.MySQLSocket}, {"pid-file", "mysql_pid_path", cfg.MySQLPidPath}, {"port", "port", string(cfg.Port)},
	} {
		if mysqld.ServerOption(data, o.name) == o.value {
			return nil, nil, fmt.Errorf("a copy beside the instance at %s: its %s (%s) would be the instance's own %s; let it follow --port (leave %s out of the config) or give the copy its own", cfg.MySQLDataDir, o.key, o.value, o.name, o.key)
		}
	}
	out, changed, err := mysqld.Relocate(data, mysqld.Relocation{DataDir: cfg.MySQLDataDir, Socket: cfg.MySQLSocket, PidFile: cfg.MySQLPidPath, Port: int(port)})
	if err != nil {
		return nil, nil, fmt.Errorf("my.cnf %s for a copy at %s: %w", src, cfg.MySQLDataDir, err)
	}
	return out, changed, nil
}

// RelocatedCopyBackFile is the option file the engine copies a backup
// back into a copy beside the instance with: this host's own my.cnf, else
// the backup's (backupMyCnf, reduced to its safe options), relocated to
// the copy, so that no InnoDB file goes to a directory of the instance.
// It is written in runDir.
func (in *Instance) RelocatedCopyBackFile(backupMyCnf, runDir string) (string, error) {
	src, trusted := in.OwnMyCnf(), true
	if src == "" {
		src, trusted = backupMyCnf, false
	}
	out, _, err := in.relocated(src)
	if err != nil {
		return "", err
	}
	if !trusted {
		if out, _, err = mysqld.SafeOptions(out, in.Cfg.MySQLDataDir); err != nil {
			return "", fmt.Errorf("the backup's my.cnf %s: %w", src, err)
		}
	}
	path := filepath.Join(runDir, "copy-back.cnf")
	if err := atomicfile.WriteFile(path, out, 0o600); err != nil {
		return "", err
	}
	return path, nil
}
