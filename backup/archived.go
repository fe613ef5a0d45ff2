package backup

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/binlogsync"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
)

// ArchiveWait bounds how long a backup waits for the binlog archive to
// hold its binlogs up to their end (a running archiver gets there within
// binlog_archive_interval; a stopped one never does), and ArchiveStall
// how long it waits for an archive that does not move at all (plus
// three binlog_archive_interval).
var (
	ArchiveWait  = time.Minute
	ArchiveStall = 5 * time.Second
)

// errNoArchive: this server's binlogs are not archived at all.
var errNoArchive = errors.New("no binlog archive")

// fromArchive decides, after the binlogs are listed, whether the backup
// relies on the binlog archive for them (backup_binlogs): the stretch it
// relies on, or nil to bundle them. With backup_binlogs: archive an
// archive that does not hold them fails the backup; with auto it is
// logged and the binlogs are bundled.
func (v *v2Format) fromArchive(ctx context.Context, r *run) (*catalog.ArchiveRange, error) {
	mode := r.cfg.BackupBinlogs
	if mode == conf.BinlogsBundle {
		return nil, nil
	}
	a, err := v.archived(ctx, r)
	switch {
	case err == nil:
		r.in.Log.Info("binlogs left to the binlog archive", "series", a.Series, "from", a.From, "to", a.To, "files", a.Files, "proof", a.Proof)
		return a, nil
	case mode == conf.BinlogsArchive:
		return nil, fmt.Errorf("backup_binlogs archive: %w", err)
	case errors.Is(err, errNoArchive):
		r.in.Log.Info("binlogs bundled: this server's binlogs are not archived", "why", err)
	default:
		r.in.Log.Warn("binlogs bundled: the binlog archive does not hold them", "err", err)
	}
	return nil, nil
}

// archived waits until the archive series of this server holds every
// byte from the snapshot to the binlogs' end, and proves it: by reading
// every event when this host holds the keys that open the archive, else
// from the index and segment lists.
func (v *v2Format) archived(ctx context.Context, r *run) (*catalog.ArchiveRange, error) {
	var id uint32
	if err := r.db.QueryRowContext(ctx, "SELECT @@server_id").Scan(&id); err != nil {
		return nil, fmt.Errorf("server_id: %w", err)
	}
	s := binlogarchive.Series{Port: string(r.cfg.Port), ServerID: id}
	last := r.binlogs.Files[len(r.binlogs.Files)-1]
	end := uint64(last.Size)
	from := binlogarchive.Snapshot{File: r.snapshot.File, Pos: r.snapshot.Pos, GTID: r.snapshot.GTID, AsWritten: true}
	created, err := binlogsync.Created(filepath.Join(r.binlogs.Dir, r.snapshot.File))
	if err != nil {
		return nil, fmt.Errorf("the snapshot's binlog: %w", err)
	}
	from.Created = created
	began, moved, at := time.Now(), time.Now(), ""
	every, stall := min(r.cfg.BinlogArchiveEvery(), time.Second), ArchiveStall+3*r.cfg.BinlogArchiveEvery()
	wait := max(ArchiveWait, 2*stall)
	for {
		ix, err := binlogarchive.ReadIndex(ctx, v.st, s)
		if err != nil {
			return nil, err
		}
		if len(ix.Files) == 0 {
			return nil, fmt.Errorf("%w of server %d in s3 %s", errNoArchive, id, s.Prefix())
		}
		if f, pos, _ := ix.Position(); fmt.Sprint(f, pos) != at {
			at, moved = fmt.Sprint(f, pos), time.Now()
		}
		got, err := binlogarchive.Holds(ctx, v.st, ix, from, last.Name, end)
		if errors.Is(err, binlogarchive.ErrBehind) {
			switch {
			case time.Since(moved) > stall:
				return nil, fmt.Errorf("%w, and it has not moved for %s (is binlog-archive running?)", err, stall)
			case time.Since(began) > wait:
				return nil, fmt.Errorf("%w after waiting %s", err, wait)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(every):
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		a := &catalog.ArchiveRange{Series: s.Prefix(), ServerID: id, From: fmt.Sprintf("%s:%d", from.File, from.Pos), To: fmt.Sprintf("%s:%d", last.Name, end),
			FromCreated: from.Created, Oldest: r.binlogs.Files[0].Name, Files: got.Files, Bytes: got.Bytes, Proof: "index"}
		if r.cfg.EncryptionIdentityFile == "" && r.cfg.EncryptionPassphraseFile == "" {
			return a, nil // a backup host without the secret key: the index proof
		}
		keys, err := r.in.OpeningKeys()
		if err != nil {
			return nil, err
		}
		plan, err := binlogarchive.PlanUntil(ctx, v.st, keys, ix, from, binlogarchive.Target{Kind: "pos", File: last.Name, Pos: end}, nil)
		if err != nil {
			return nil, err
		}
		a.Proof, a.StopGTID, a.Transactions = "events", plan.StopGTID, plan.Transactions
		return a, nil
	}
}
