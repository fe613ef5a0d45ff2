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
// the datadir) this host's own: the file there is kept as
// my.cnf.from-backup (or, when that exists already, my.cnf.previous) and
// the differences are logged. It returns whether it changed anything.
func installOwnMyCnf(log *slog.Logger, cfg *conf.Config, dataDir string) (bool, error) {
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
	have, err := os.ReadFile(target)
	switch {
	case err == nil && bytes.Equal(have, want):
		return false, nil
	case err == nil:
		keep := target + fromBackupSuffix
		if _, serr := os.Stat(keep); serr == nil {
			keep = target + ".previous"
		}
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
	if err := atomicfile.WriteFile(target, want, 0o644); err != nil {
		return false, fmt.Errorf("install own my.cnf: %w", err)
	}
	return true, chownTree(log, target, cfg.MySQLUser, cfg.MySQLUserGroup)
}

// inside says whether p is dir or below it.
func inside(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// lineDiff returns the lines only in a and those only in b, with the value
// of any password-like option masked (my.cnf may hold client passwords).
func lineDiff(a, b []byte) (onlyA, onlyB []string) {
	set := func(d []byte) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(string(d), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
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

func maskOption(line string) string {
	k, _, ok := strings.Cut(line, "=")
	if ok && strings.Contains(strings.ToLower(k), "password") {
		return k + "=<redacted>"
	}
	return line
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
