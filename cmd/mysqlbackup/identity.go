package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/internal/atomicfile"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// fromBackupSuffix names the backup's my.cnf kept beside this host's own.
const fromBackupSuffix = ".from-backup"

// ownMyCnf is this host's own my.cnf, {conf_base}/my.cnf, or "" when there
// is none. Members of one replication group share a port, so a host often
// restores a peer's backup: this file, not the backup's, gives the restored
// instance its own server-id, gtid_domain_id and paths.
func ownMyCnf(cfg *conf.Config) string {
	if cfg.ConfBase == "" {
		return ""
	}
	p := filepath.Join(cfg.ConfBase, "my.cnf")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// installOwnMyCnf makes the my.cnf of dataDir (when mysql_my_cnf lives in
// the datadir) this host's own, with the own file's mode: the file there is
// kept as my.cnf{keepSuffix} and the differing lines are logged (values
// of options not known to be harmless are masked). It returns whether it
// changed anything.
func installOwnMyCnf(log *slog.Logger, cfg *conf.Config, dataDir, keepSuffix string) (bool, error) {
	own := ownMyCnf(cfg)
	if own == "" || !inside(cfg.MySQLDataDir, cfg.MySQLMyCnf) {
		// Without an own my.cnf there is nothing to install; a mysql_my_cnf
		// outside the datadir is the operator's, never ours to replace.
		return false, nil
	}
	target := myCnfFor(cfg, dataDir)
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
	return true, chownTree(log, target, cfg.MySQLUser, cfg.MySQLUserGroup)
}

// replacedSuffix names a my.cnf that catchup_binlog replaced: never the
// same name twice, so no earlier copy is lost.
func replacedSuffix() string { return ".replaced-" + time.Now().UTC().Format("20060102T150405Z") }

// checkMyCnf proves, with the server's own view of the option file at
// path, that its normal start uses mysql_data_dir and, when series is set,
// writes that binlog series: nothing is installed or started otherwise.
func checkMyCnf(app *App, path, series string) error {
	cfg := app.Cfg
	bin, err := serverBin(cfg)
	if err != nil {
		return err
	}
	opts, err := mysqld.ReadOptions(app.Ctx, bin, path, app.Log)
	if err != nil {
		return err
	}
	if d := opts["datadir"]; !mysqld.SamePath(d, cfg.MySQLDataDir) {
		return fmt.Errorf("my.cnf %s says datadir=%s but mysql_data_dir is %s: the normal start would not find the restored data", path, d, cfg.MySQLDataDir)
	}
	if base := opts.BinlogBasename(""); series != "" && !mysqld.SamePath(base, series) {
		return fmt.Errorf("my.cnf %s writes the binlog series %s but the restore put it back as %s: fix log-bin", path, base, series)
	}
	return nil
}

// inside says whether p is dir or below it.
func inside(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
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

// catchupMarker is the file a restore leaves in the datadir and only a
// successful catchup_binlog removes: a normal start before the catch-up
// runs under the instance's own server-id, so its replication filters out
// what it wrote itself after the backup (silent loss), and
// setup_replication would do the same.
const catchupMarker = ".mysqlbackup-catchup-pending"

// pendingCatchup is what the marker records of the restore.
type pendingCatchup struct {
	RestoredAt time.Time `json:"restored_at"`
	From       string    `json:"from"`
	// BinlogBasename is where the restored binlogs are (absolute, without
	// the .NNNNNN suffix): the catch-up's server must write that series.
	BinlogBasename string `json:"binlog_basename"`
	SnapshotGTID   string `json:"snapshot_gtid"`
	BinlogEnd      string `json:"binlog_end"`
}

// writeCatchupMarker writes the marker into dir (the staging datadir).
func writeCatchupMarker(dir string, p pendingCatchup) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, catchupMarker), append(data, '\n'), 0o644)
}

// readCatchupMarker returns the pending catch-up of dataDir, or nil.
func readCatchupMarker(dataDir string) (*pendingCatchup, error) {
	data, err := os.ReadFile(filepath.Join(dataDir, catchupMarker))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("catch-up marker: %w", err)
	}
	var p pendingCatchup
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("catch-up marker %s: %w", filepath.Join(dataDir, catchupMarker), err)
	}
	if p.From == "" || p.RestoredAt.IsZero() {
		return nil, fmt.Errorf("catch-up marker %s does not say when and from what the datadir was restored: not one this tool wrote", filepath.Join(dataDir, catchupMarker))
	}
	return &p, nil
}

// removeCatchupMarker removes the marker, durably.
func removeCatchupMarker(dataDir string) error {
	if err := os.Remove(filepath.Join(dataDir, catchupMarker)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return atomicfile.SyncDir(dataDir)
}

// needsCatchup says whether a restore of cfg's instance must be caught
// up before its normal start: it has replication sources to fetch from
// (Group Replication recovers by itself).
func needsCatchup(cfg *conf.Config) bool {
	if cfg.Replication != nil && cfg.Replication.GroupReplication == 1 {
		return false
	}
	return len(cfg.SourcesResolved()) > 0
}
