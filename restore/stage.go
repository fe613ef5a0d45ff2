package restore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/mysqlbackup/mysqlbackup/internal/atomicfile"
)

// InPlaceMarker is the directory an in-place restore builds the datadir in.
// While it exists, the datadir is a restore in progress: --when no-data-dir
// counts it as absent, and the next restore clears and redoes it.
const InPlaceMarker = ".mysqlbackup-restoring"

// UnverifiedMarker is the file a published datadir holds until the start
// proof passed: a restore killed after the rename and before the proof
// leaves a datadir that --when no-data-dir counts as absent and the next
// restore clears and redoes, like one killed earlier. A file, not a
// directory: the server would list a directory as a database.
const UnverifiedMarker = ".mysqlbackup-unverified"

// StagingSuffix names the sibling directory a restore builds the datadir
// in when it can rename it into place.
const StagingSuffix = ".restoring"

// stage is where a restore builds the new datadir, and how that becomes
// the datadir. Normally a sibling, {datadir}.restoring, renamed into place
// at the end: a killed restore leaves no datadir at all. A datadir that is
// a mount point cannot be renamed onto, so then the datadir is built in
// {datadir}/.mysqlbackup-restoring and its entries are moved up at the
// end; that directory is the marker of an unfinished restore.
type stage struct {
	datadir string
	dir     string
	inPlace bool
	moving  bool // entries are being moved up: keep the marker on failure
}

func newStage(datadir string) (*stage, error) {
	mount, err := isMountPoint(datadir)
	if err != nil {
		return nil, err
	}
	if mount {
		return &stage{datadir: datadir, dir: filepath.Join(datadir, InPlaceMarker), inPlace: true}, nil
	}
	return &stage{datadir: datadir, dir: datadir + StagingSuffix}, nil
}

// isMountPoint says whether dir exists and is on another device than its
// parent.
func isMountPoint(dir string) (bool, error) {
	var st, parent syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return false, nil
		}
		return false, fmt.Errorf("data dir: %w", err)
	}
	if err := syscall.Stat(filepath.Dir(dir), &parent); err != nil {
		return false, fmt.Errorf("data dir: %w", err)
	}
	return st.Dev != parent.Dev, nil
}

// RefuseUnfinished is the error of a command that needs a finished
// datadir and found an unfinished restore, or nil.
func RefuseUnfinished(datadir string) error {
	if !InProgress(datadir) {
		return nil
	}
	return fmt.Errorf("data dir %s holds an unfinished restore: run restore again (--when no-data-dir counts it as absent)", datadir)
}

// InProgress says whether datadir holds the marker of an unfinished
// restore: an in-place one still building, or a published one not proven
// to start. Such a datadir counts as absent for --when no-data-dir; the
// next restore clears and redoes it.
func InProgress(datadir string) bool {
	for _, m := range []string{InPlaceMarker, UnverifiedMarker} {
		if _, err := os.Stat(filepath.Join(datadir, m)); err == nil {
			return true
		}
	}
	return false
}

// check accepts a missing or empty datadir and one that holds an
// unfinished restore (its marker proves it is ours; clearUnfinished
// removes it once the backup is found).
func (s *stage) check() error {
	entries, err := os.ReadDir(s.datadir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("data dir: %w", err)
	case InProgress(s.datadir):
		return nil
	case len(entries) > 0:
		return fmt.Errorf("data dir %s is not empty (%d entries): refusing to overwrite it", s.datadir, len(entries))
	}
	return nil
}

// clearUnfinished removes an unfinished restore's datadir without ever
// leaving it unmarked: first the external binlog dir its unverified marker
// names (that restore's copies of the backup's binlogs), then a plain
// datadir is renamed to the staging name in one step and removed; a mount
// point keeps the in-place marker while every other entry, and the
// marker's own content, goes.
func (s *stage) clearUnfinished() error {
	if !InProgress(s.datadir) {
		return nil
	}
	if dir := unverifiedBinlogDir(s.datadir); dir != "" {
		if err := clearEntries(dir, ""); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("binlog dir of the unfinished restore: %w", err)
		}
	}
	if !s.inPlace {
		if err := os.RemoveAll(s.dir); err != nil {
			return err
		}
		if err := os.Rename(s.datadir, s.dir); err != nil {
			return fmt.Errorf("move the unfinished restore aside: %w", err)
		}
		if err := atomicfile.SyncDir(filepath.Dir(s.datadir)); err != nil {
			return err
		}
		return os.RemoveAll(s.dir)
	}
	if err := os.MkdirAll(s.dir, 0o750); err != nil {
		return err
	}
	return errors.Join(clearEntries(s.datadir, InPlaceMarker), clearEntries(s.dir, ""))
}

// clearEntries removes every entry of dir but keep.
func clearEntries(dir, keep string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != keep {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// unverifiedRecord is what the unverified marker records: the external
// binlog dir the restore filled (so that a restore redoing this one may
// clear it even after its own marker went), and the restored binlogs and
// their sizes (so that a server that wrote to the datadir since is seen).
type unverifiedRecord struct {
	BinlogDir string           `json:"binlog_dir,omitempty"` // external only
	Basename  string           `json:"binlog_basename"`      // as the normal start has it
	Binlogs   map[string]int64 `json:"binlogs"`
}

// markUnverified writes the unverified marker where the published
// datadir will have it: inside the stage that is renamed into place, or in
// the datadir an in-place stage moves up into.
func (s *stage) markUnverified(rec unverifiedRecord) error {
	dir := s.dir
	if s.inPlace {
		dir = s.datadir
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, UnverifiedMarker), data, 0o600)
}

// readUnverified is what the unverified marker of datadir records (an
// earlier version wrote the external binlog dir alone), and whether there
// is one.
func readUnverified(datadir string) (unverifiedRecord, bool) {
	data, err := os.ReadFile(filepath.Join(datadir, UnverifiedMarker))
	if err != nil {
		return unverifiedRecord{}, false
	}
	var rec unverifiedRecord
	if json.Unmarshal(data, &rec) != nil {
		rec = unverifiedRecord{BinlogDir: strings.TrimSpace(string(data))}
	}
	return rec, true
}

// unverifiedBinlogDir is the external binlog dir an unfinished restore of
// datadir recorded, or "".
func unverifiedBinlogDir(datadir string) string {
	rec, _ := readUnverified(datadir)
	return rec.BinlogDir
}

// verified removes the unverified marker: the datadir is finished.
func (s *stage) verified() error {
	if err := os.Remove(filepath.Join(s.datadir, UnverifiedMarker)); err != nil {
		return err
	}
	return atomicfile.SyncDir(s.datadir)
}

// publish turns the stage into the datadir.
func (s *stage) publish() error {
	// Nothing but our own stage may be in the datadir now: something that
	// appeared while we worked is never overwritten or cleared.
	entries, err := os.ReadDir(s.datadir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("data dir: %w", err)
	}
	for _, e := range entries {
		if !s.inPlace || (e.Name() != InPlaceMarker && e.Name() != UnverifiedMarker) {
			return fmt.Errorf("data dir %s got %s while the restore ran: not overwriting it", s.datadir, e.Name())
		}
	}
	if !s.inPlace {
		if err := os.Remove(s.datadir); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.Rename(s.dir, s.datadir); err != nil {
			return fmt.Errorf("move the restored datadir into place: %w", err)
		}
		return atomicfile.SyncDir(filepath.Dir(s.datadir))
	}
	return s.moveUp()
}

// moveUp moves the entries of the in-place stage into the datadir and then
// removes the marker: that last step is what makes the restore finished.
func (s *stage) moveUp() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	s.moving = true
	for _, e := range entries {
		if err := os.Rename(filepath.Join(s.dir, e.Name()), filepath.Join(s.datadir, e.Name())); err != nil {
			return fmt.Errorf("move %s into the datadir: %w", e.Name(), err)
		}
	}
	if err := atomicfile.SyncDir(s.datadir); err != nil {
		return err
	}
	if err := os.Remove(s.dir); err != nil {
		return err
	}
	s.moving = false
	return atomicfile.SyncDir(s.datadir)
}

// discard removes an unfinished stage, unless entries were already being
// moved into the datadir: then the marker stays, so that the datadir counts
// as absent and the next restore clears it.
func (s *stage) discard() error {
	if s.moving {
		return nil
	}
	return os.RemoveAll(s.dir)
}
