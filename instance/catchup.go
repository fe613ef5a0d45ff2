package instance

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/atomicfile"
)

// CatchupMarker is the file a restore leaves in the datadir and only a
// successful catchup_binlog removes: a normal start before the catch-up
// runs under the instance's own server-id, so its replication filters out
// what it wrote itself after the backup (silent loss), and
// setup_replication would do the same.
const CatchupMarker = ".mysqlbackup-catchup-pending"

// PendingCatchup is what the marker records of the restore.
type PendingCatchup struct {
	RestoredAt time.Time `json:"restored_at"`
	From       string    `json:"from"`
	// BinlogBasename is where the restored binlogs are (absolute, without
	// the .NNNNNN suffix): the catch-up's server must write that series.
	BinlogBasename string `json:"binlog_basename"`
	SnapshotGTID   string `json:"snapshot_gtid"`
	BinlogEnd      string `json:"binlog_end"`
}

// WriteCatchupMarker writes the marker into dir (the staging datadir).
func WriteCatchupMarker(dir string, p PendingCatchup) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, CatchupMarker), append(data, '\n'), 0o644)
}

// ReadCatchupMarker returns the pending catch-up of dataDir, or nil.
func ReadCatchupMarker(dataDir string) (*PendingCatchup, error) {
	data, err := os.ReadFile(filepath.Join(dataDir, CatchupMarker))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("catch-up marker: %w", err)
	}
	var p PendingCatchup
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("catch-up marker %s: %w", filepath.Join(dataDir, CatchupMarker), err)
	}
	if p.From == "" || p.RestoredAt.IsZero() {
		return nil, fmt.Errorf("catch-up marker %s does not say when and from what the datadir was restored: not one this tool wrote", filepath.Join(dataDir, CatchupMarker))
	}
	return &p, nil
}

// RemoveCatchupMarker removes the marker, durably.
func RemoveCatchupMarker(dataDir string) error {
	if err := os.Remove(filepath.Join(dataDir, CatchupMarker)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return atomicfile.SyncDir(dataDir)
}

// NeedsCatchup says whether a restore of cfg's instance must be caught
// up before its normal start: it has replication sources to fetch from
// (Group Replication recovers by itself).
func (in *Instance) NeedsCatchup() bool {
	cfg := in.Cfg
	if cfg.Replication != nil && cfg.Replication.GroupReplication == 1 {
		return false
	}
	return len(cfg.SourcesResolved()) > 0
}
