package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/binlogsync"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/atomicfile"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/s3"
	"github.com/mysqlbackup/mysqlbackup/xtrabackup"
)

// Until asks for a point-in-time restore: the newest backup before the
// target, then the binlog archive replayed from its snapshot up to the
// target, instead of the backup's own binlogs.
type Until struct {
	Target binlogarchive.Target
	// ServerID names the archive series to replay (0: the one of the
	// server that took the backup, or the port's only one).
	ServerID uint32
	// stretch, set for a backup whose binlogs are in the archive, is the
	// stretch its manifest names: the replay is its own delta, as written.
	stretch *catalog.ArchiveRange
}

// PlanReport is what a point-in-time restore would do, proven before it
// touches anything.
type PlanReport struct {
	Backup       string              `json:"backup"` // its date
	Format       string              `json:"format"`
	BackupKey    string              `json:"backup_key"`
	BackupBytes  int64               `json:"backup_stored_bytes"`
	BackupPlain  int64               `json:"backup_plain_bytes,omitempty"`
	Snapshot     string              `json:"snapshot"`
	SnapshotGTID string              `json:"snapshot_gtid"`
	Archive      *binlogarchive.Plan `json:"archive"`
	// NeedBytes is the disk under backup_base the restore needs at most
	// (the unpacked backup and the binlogs); FreeBytes what it has.
	NeedBytes int64 `json:"need_bytes"`
	FreeBytes int64 `json:"free_bytes"`
}

// archiveWorkDir is where a point-in-time restore puts the archived
// binlogs it reads, under backup_base, until they join the backup's.
func (r *run) archiveWorkDir() string {
	return filepath.Join(r.cfg.BackupBase, r.cfg.BackupBinlogTail+"-archive")
}

// chooseUntil is the newest complete backup of the port before the
// target: its date, or a refusal naming the oldest backup.
func chooseUntil(ctx context.Context, in *instance.Instance, t binlogarchive.Target) (catalog.Backup, error) {
	st, err := in.Store()
	if err != nil {
		return catalog.Backup{}, err
	}
	bs, err := catalog.List(ctx, st, in.Cfg.SourcePort())
	if err != nil {
		return catalog.Backup{}, err
	}
	var oldest *catalog.Backup
	for i := len(bs) - 1; i >= 0; i-- {
		b := bs[i]
		if !b.Complete {
			continue
		}
		oldest = &bs[i]
		if t.Kind == "pos" && b.Manifest != nil && b.Manifest.FromScratch {
			continue // its positions are the scratch copy's binlog's, not the instance's
		}
		if t.Includes(b.GTID, b.Position, b.Finished()) {
			return b, nil
		}
	}
	if oldest == nil {
		return catalog.Backup{}, fmt.Errorf("--until %s: no complete backup of port %s in %s", t, in.Cfg.SourcePort(), in.Cfg.StoreName())
	}
	return catalog.Backup{}, fmt.Errorf("--until %s is before the oldest backup of port %s (%s, finished %s, gtid %s)", t, in.Cfg.SourcePort(), oldest.Date, oldest.Finished().Format(time.RFC3339), oldest.GTID)
}

// planUntil chooses the backup and proves the path from it to the target
// through the archive. With out set, the archived files are written as
// they are read.
func planUntil(ctx context.Context, in *instance.Instance, u *Until, b catalog.Backup, out func(string) (io.WriteCloser, error)) (*PlanReport, error) {
	file, posText, ok := strings.Cut(b.Position, ":")
	pos, perr := strconv.ParseUint(posText, 10, 64)
	if !ok || perr != nil {
		return nil, fmt.Errorf("the backup of %s records no binlog position (%q): it cannot start a point-in-time restore", b.Date, b.Position)
	}
	st, err := in.Store()
	if err != nil {
		return nil, err
	}
	ix, byGTID, err := seriesFor(ctx, st, in, b, u.ServerID)
	if err != nil {
		return nil, err
	}
	tf, _ := binlogsync.SeqNumber(u.Target.File)
	sf, _ := binlogsync.SeqNumber(file)
	if u.Target.Kind == "pos" && (tf < sf || (tf == sf && u.Target.Pos < pos)) {
		return nil, fmt.Errorf("--until %s is before the snapshot %s:%d of the newest backup before it (%s)", u.Target, file, pos, b.Date)
	}
	keys, err := in.OpeningKeys()
	if err != nil {
		return nil, err
	}
	from := binlogarchive.Snapshot{File: file, Pos: pos, GTID: b.GTID, ByGTID: byGTID}
	if a := u.stretch; a != nil {
		if a.Series != ix.Series().Prefix() {
			return nil, fmt.Errorf("the backup of %s names its binlogs in s3 %s, not %s: restore it with the port of that series", b.Date, a.Series, ix.Series().Prefix())
		}
		from.AsWritten, from.Created = true, a.FromCreated
	}
	plan, err := binlogarchive.PlanUntil(ctx, st, keys, ix, from, u.Target, out)
	if errors.Is(err, binlogarchive.ErrBeyond) && u.stretch == nil {
		err = fmt.Errorf("%w%s", err, furtherSeries(ctx, st, in, ix))
	}
	switch {
	case err != nil && u.stretch != nil:
		a := u.stretch
		return nil, fmt.Errorf("the backup of %s left its binlogs to the binlog archive (s3 %s, %s to %s), which no longer holds them as they were: this backup cannot be restored (%w)", b.Date, a.Series, a.From, a.To, err)
	case err != nil:
		return nil, fmt.Errorf("point-in-time restore from the backup of %s: %w", b.Date, err)
	}
	rep := &PlanReport{Backup: b.Date, Format: b.Format, BackupKey: b.Key, BackupBytes: b.Size, Snapshot: b.Position, SnapshotGTID: b.GTID, Archive: plan}
	if b.Manifest != nil {
		rep.BackupPlain = b.Manifest.PlainBytes
	}
	rep.NeedBytes = max(rep.BackupPlain, 2*rep.BackupBytes) + int64(plan.Bytes)
	rep.FreeBytes = freeBytes(in.Cfg.BackupBase)
	return rep, nil
}

// seriesFor is the archive series to replay: the one --archive-server-id
// names, else the one of the server that took the backup (a v2
// manifest's MariaDB server_id), else the port's only one. byGTID says
// the series is another server's than the backup's (a member promoted
// after a failover, say): the replay then follows GTIDs, not positions.
func seriesFor(ctx context.Context, st s3.Store, in *instance.Instance, b catalog.Backup, id uint32) (ix *binlogarchive.Index, byGTID bool, err error) {
	all, err := binlogarchive.ListSeries(ctx, st, in.Cfg.SourcePort())
	if err != nil {
		return nil, false, err
	}
	if took := serverOf(b); took != 0 {
		// The series of another server is followed by GTIDs (MariaDB's
		// mariadb-binlog --start-position takes a GTID list).
		byGTID = (id != 0 && id != took) || b.Manifest.FromScratch
		if byGTID && b.Manifest.Flavor != string(mysqld.MariaDB) {
			return nil, false, fmt.Errorf("--archive-server-id %d: the backup of %s was taken on server %d; another server's binlogs continue it by GTIDs, on MariaDB only", id, b.Date, took)
		}
		if id == 0 {
			id = took
		}
	}
	var ids []string
	for _, s := range all {
		ids = append(ids, strconv.FormatUint(uint64(s.ServerID), 10))
		if s.ServerID == id || (id == 0 && len(all) == 1) {
			ix, err := binlogarchive.ReadIndex(ctx, st, s)
			return ix, byGTID, err
		}
	}
	return nil, false, noSeries(in, b, id, ids, len(all))
}

// furtherSeries names the port's other archive series that go on past
// ix (after a failover, the promoted member's), for a refusal: "" when
// none.
func furtherSeries(ctx context.Context, st s3.Store, in *instance.Instance, ix *binlogarchive.Index) string {
	all, err := binlogarchive.ListSeries(ctx, st, in.Cfg.SourcePort())
	if err != nil || len(ix.Files) == 0 {
		return ""
	}
	end := ix.Files[len(ix.Files)-1].LastEvent
	var out []string
	for _, s := range all {
		other, err := binlogarchive.ReadIndex(ctx, st, s)
		if err != nil || s.ServerID == ix.ServerID || len(other.Files) == 0 {
			continue
		}
		if last := other.Files[len(other.Files)-1].LastEvent; last.After(end) {
			out = append(out, fmt.Sprintf("--archive-server-id %d goes on to %s", s.ServerID, last.Format(time.RFC3339)))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "; another member's archive may reach it: " + strings.Join(out, ", ")
}

// serverOf is the server_id of the server a v2 backup was taken on (0:
// not known, as for a legacy archive).
func serverOf(b catalog.Backup) uint32 {
	if b.Manifest == nil {
		return 0
	}
	if b.Manifest.ServerID != 0 {
		return b.Manifest.ServerID
	}
	n, _ := strconv.ParseUint(strings.TrimPrefix(b.Manifest.InstanceID, "server_id:"), 10, 32) // before server_id was recorded
	return uint32(n)
}

// noSeries says which archive series is missing.
func noSeries(in *instance.Instance, b catalog.Backup, id uint32, ids []string, n int) error {
	if n == 0 {
		return fmt.Errorf("--until needs the binlog archive of port %s (binlog-archive), and %s holds none", in.Cfg.SourcePort(), in.Cfg.StoreName())
	}
	if id == 0 {
		return fmt.Errorf("port %s's binlog archive holds several servers (%s): name the one that took the backup of %s with --archive-server-id", in.Cfg.SourcePort(), strings.Join(ids, ", "), b.Date)
	}
	return fmt.Errorf("no binlog archive of server %d for port %s (the backup of %s); the port's archive holds servers %s", id, in.Cfg.SourcePort(), b.Date, strings.Join(ids, ", "))
}

// PlanOnly is `restore --until … --dry-run`: the plan, proven, with
// nothing written anywhere.
func PlanOnly(ctx context.Context, in *instance.Instance, u *Until) (*PlanReport, error) {
	b, err := chooseUntil(ctx, in, u.Target)
	if err != nil {
		return nil, err
	}
	return planUntil(ctx, in, u, b, nil)
}

// deltaFromArchive makes the restore of a backup whose binlogs are in
// the binlog archive (its manifest names the stretch) take its delta from
// there: a plan from the snapshot to the binlog end the backup recorded,
// through the series of the server it was taken on.
func (r *run) deltaFromArchive() error {
	v, ok := r.src.(*v2Source)
	if !ok || v.manifest.BinlogArchive == nil || r.opts.Until != nil {
		return nil
	}
	a := v.manifest.BinlogArchive
	t, err := binlogarchive.ParseTarget("pos:" + a.To)
	if err != nil {
		return fmt.Errorf("%s: binlog_archive.to %q: %w", v, a.To, err)
	}
	m := &v.manifest
	b := catalog.Backup{Date: m.Date, Port: m.Port, Format: catalog.FormatV2, Key: v.prefix, Size: m.StoredBytes, Complete: true,
		Position: fmt.Sprintf("%s:%d", m.BinlogFile, m.BinlogPos), GTID: m.GTID, Manifest: m}
	r.opts.Until, r.base, r.archived = &Until{Target: t, ServerID: a.ServerID, stretch: a}, &b, true
	r.in.Log.Info("the backup's binlogs are in the binlog archive", "series", a.Series, "from", a.From, "to", a.To)
	return nil
}

// planArchive (the restore's "archive" step, before anything is
// downloaded or touched) proves the path to the target and keeps the
// archived files it read in the work dir.
func (r *run) planArchive(ctx context.Context) error {
	dir := r.archiveWorkDir()
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("archive work dir: %w", err)
	}
	rep, err := planUntil(ctx, r.in, r.opts.Until, *r.base, func(name string) (io.WriteCloser, error) {
		return os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	})
	if err != nil {
		return err
	}
	if rep.FreeBytes > 0 && rep.NeedBytes > rep.FreeBytes {
		return fmt.Errorf("backup_base %s has %d bytes free, the restore needs about %d", r.cfg.BackupBase, rep.FreeBytes, rep.NeedBytes)
	}
	r.plan = rep
	if r.archived {
		if err := r.earlierBinlogs(ctx, dir); err != nil {
			return err
		}
	}
	r.in.Log.Info("point-in-time plan", "backup", rep.Backup, "snapshot", rep.Snapshot, "stop", rep.Archive.Stop, "stop_gtid", rep.Archive.StopGTID,
		"transactions", rep.Archive.Transactions, "files", len(rep.Archive.Files))
	return nil
}

// earlierBinlogs fetches, for a backup whose binlogs are in the archive,
// the archived files before the snapshot's back to the oldest the server
// had at the backup (as far as the archive holds them without a gap): the
// restored server has them, as from a bundled backup, for replicas that
// were behind the snapshot.
func (r *run) earlierBinlogs(ctx context.Context, dir string) error {
	a := r.opts.Until.stretch
	if a.Oldest == "" {
		return nil
	}
	st, err := r.in.Store()
	if err != nil {
		return err
	}
	keys, err := r.in.OpeningKeys()
	if err != nil {
		return err
	}
	ix, err := binlogarchive.ReadIndex(ctx, st, r.plan.Archive.Series)
	if err != nil {
		return err
	}
	for _, f := range ix.HeldBefore(a.Oldest, r.plan.Archive.Files[0].Name) {
		out, err := os.OpenFile(filepath.Join(dir, f.Name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		err = binlogarchive.ReadFile(ctx, st, keys, ix.Series(), f, out)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("archived binlog %s before the snapshot: %w", f.Name, err)
		}
		r.earlier = append(r.earlier, f.Name)
	}
	if len(r.earlier) > 0 {
		r.in.Log.Info("archived binlogs before the snapshot brought back", "from", r.earlier[0], "files", len(r.earlier), "oldest_at_backup", a.Oldest)
	}
	return nil
}

// useArchive (after the download) puts the archived files, the last one
// cut at the stop, in place of the backup's binlogs from the snapshot
// file on: the replay and the restored datadir then end at the target.
func (r *run) useArchive(context.Context) error {
	dir, binDir := r.archiveWorkDir(), r.cfg.BackupBinlogDir
	files := r.plan.Archive.Files
	indexPath, index, err := binlogsync.OpenIndex(binDir)
	if v2NoBinlogs(r.src) {
		// The backup holds no binlogs: the archived ones are all, under
		// an index of their basename.
		indexPath, index, err = filepath.Join(binDir, strings.TrimSuffix(files[0].Name, filepath.Ext(files[0].Name))+".index"), nil, nil
	}
	if err != nil {
		return err
	}
	info, err := xtrabackup.ReadBinlogInfo(r.cfg.BackupDataDir)
	if err != nil {
		return err
	}
	if got := fmt.Sprintf("%s:%d", info.File, info.Pos); got != r.plan.Snapshot {
		return fmt.Errorf("the downloaded backup's snapshot is %s, the catalogue's %s: the plan does not hold", got, r.plan.Snapshot)
	}
	first := files[0].Name
	if r.plan.Archive.StartGTID != "" && len(index) > 0 {
		// Another server's binlogs: the backup's own (its server's
		// history) give way to them, all of them.
		first = index[0]
	} else if created, err := binlogsync.Created(filepath.Join(binDir, first)); err == nil {
		if archived, err := binlogsync.Created(filepath.Join(dir, first)); err == nil && !created.Equal(archived) {
			return fmt.Errorf("the backup's %s was created %s, the archive's %s: another history under the same name", first, created.Format(time.RFC3339), archived.Format(time.RFC3339))
		}
	}
	var names []string
	for _, name := range index {
		if name == first {
			break
		}
		names = append(names, name)
	}
	for _, name := range index[len(names):] {
		if err := os.Remove(filepath.Join(binDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	for _, name := range r.earlier { // a backup without binlogs: the archive's before the snapshot
		if err := os.Rename(filepath.Join(dir, name), filepath.Join(binDir, name)); err != nil {
			return fmt.Errorf("archived binlog %s: %w", name, err)
		}
		names = append(names, name)
	}
	for _, f := range files {
		dst := filepath.Join(binDir, f.Name)
		if err := os.Rename(filepath.Join(dir, f.Name), dst); err != nil {
			return fmt.Errorf("archived binlog %s: %w", f.Name, err)
		}
		if err := os.Truncate(dst, int64(f.To)); err != nil {
			return err
		}
		names = append(names, f.Name)
	}
	var text strings.Builder
	for _, name := range names {
		text.WriteString("./" + name + "\n")
	}
	return atomicfile.WriteFile(indexPath, []byte(text.String()), 0o600)
}

// v2NoBinlogs says whether src is a v2 backup without a binlogs object.
func v2NoBinlogs(src source) bool {
	v, ok := src.(*v2Source)
	if !ok {
		return false
	}
	_, has := v.manifest.Object(catalog.RoleBinlogs)
	return !has
}

// freeBytes is the space free for root's use under dir (0 when unknown).
func freeBytes(dir string) int64 {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return 0
	}
	return int64(fs.Bavail) * fs.Bsize
}
