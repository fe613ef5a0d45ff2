package backup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/binlogsync"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// purge removes the binlogs older than purge_binlog_days, as the legacy
// tool did, but never one the binlog archive of the port has not stored
// whole while there is one: that would be a hole in the archive.
func (r *run) purge(ctx context.Context) error {
	days := *r.cfg.PurgeBinlogDays
	if days == 0 {
		r.in.Log.Info("binlog purge off (purge_binlog_days: 0)")
		return nil
	}
	s, archived, err := r.archivedBinlogs(ctx)
	if err != nil {
		return err
	}
	if archived == nil {
		return mysqld.PurgeBinlogsOlderThan(ctx, r.db, days)
	}
	var before int64
	if err := r.db.QueryRowContext(ctx, "SELECT UNIX_TIMESTAMP(CURDATE() - INTERVAL ? DAY)", days).Scan(&before); err != nil {
		return fmt.Errorf("purge binary logs: %w", err)
	}
	// The first file that stays: the first one young enough, or the first
	// the archive does not hold whole (the active one never is).
	keep, held := len(s.Files)-1, ""
	for i, f := range s.Files[:len(s.Files)-1] {
		fi, err := os.Stat(filepath.Join(s.Dir, f.Name))
		if err != nil {
			return fmt.Errorf("purge binary logs: %w", err)
		}
		if fi.ModTime().Unix() >= before {
			keep = i
			break
		}
		if !archived[f.Name] {
			keep, held = i, f.Name
			break
		}
	}
	if held != "" {
		r.in.Log.Warn("binlogs kept past purge_binlog_days: the binlog archive has not stored them yet", "from", held, "before", time.Unix(before, 0).Format(time.DateOnly))
	}
	if keep == 0 {
		return nil
	}
	return mysqld.PurgeBinlogsTo(ctx, r.db, s.Files[keep].Name)
}

// archivedBinlogs lists the server's binlogs and says which of them the
// port's binlog archive holds whole; the map is nil when the port has no
// binlog archive.
func (r *run) archivedBinlogs(ctx context.Context) (binlogsync.Snapshot, map[string]bool, error) {
	var s binlogsync.Snapshot
	if !r.cfg.HasStore() {
		return s, nil, nil
	}
	st, err := r.in.Store()
	if err != nil {
		return s, nil, err
	}
	var id uint32
	if err := r.db.QueryRowContext(ctx, "SELECT @@server_id").Scan(&id); err != nil {
		return s, nil, fmt.Errorf("purge binary logs: %w", err)
	}
	ix, err := binlogarchive.ReadIndex(ctx, st, binlogarchive.Series{Port: string(r.cfg.Port), ServerID: id})
	if err != nil {
		return s, nil, fmt.Errorf("purge binary logs: %w", err)
	}
	if len(ix.Files) == 0 {
		return s, nil, nil
	}
	// Whole in the archive, and the server's file is the archived one (the
	// same name may be another history's after RESET MASTER).
	if s, err = binlogsync.Take(ctx, r.db); err != nil {
		return s, nil, err
	}
	size := map[string]uint64{}
	for _, f := range s.Files {
		size[f.Name] = uint64(f.Size)
	}
	whole := map[string]bool{}
	for _, f := range ix.Files {
		created, err := binlogsync.Created(filepath.Join(s.Dir, f.Name))
		// A file closed as partial whose server copy is no longer than the
		// archive's (the server lost the tail) is held whole too.
		held := f.Whole() || (f.Closed && f.Partial && f.End >= size[f.Name])
		if held && err == nil && created.Equal(f.Created) {
			whole[f.Name] = true
		}
	}
	// Files a prune removed from the archive were held whole: the server's
	// files before the archive's first are, when that first one is the
	// server's own (the same history).
	first := ix.Files[0]
	created, err := binlogsync.Created(filepath.Join(s.Dir, first.Name))
	if ix.Pruned != nil && err == nil && created.Equal(first.Created) {
		firstSeq, _ := binlogsync.SeqNumber(first.Name)
		base := strings.TrimSuffix(first.Name, filepath.Ext(first.Name))
		for _, f := range s.Files {
			if n, err := binlogsync.SeqNumber(f.Name); err == nil && n < firstSeq && strings.TrimSuffix(f.Name, filepath.Ext(f.Name)) == base {
				whole[f.Name] = true
			}
		}
	}
	return s, whole, nil
}
