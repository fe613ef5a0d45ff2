package binlogarchive

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/atomicfile"
	"github.com/mysqlbackup/mysqlbackup/internal/lock"
)

// Status is the archiver's account of itself, kept beside its lock in
// backup_base so that `status` on the host shows it: written at every
// flush and every idle interval, and once more when the run ends.
type Status struct {
	// Running is not stored: the reader sets it from the lock's holder.
	Running bool `json:"running"`
	PID     int  `json:"pid"`
	// Series is the archive's prefix in the bucket.
	Series  string    `json:"series,omitempty"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	// Position is the binlog file:pos the durable archive ends at; GTIDs
	// the last archived GTID per domain (MariaDB) or source uuid (MySQL).
	Position string            `json:"position,omitempty"`
	GTIDs    map[string]string `json:"gtids,omitempty"`
	// LastEvent is the server's timestamp of the last durable event.
	LastEvent  time.Time `json:"last_event,omitzero"`
	LagSeconds float64   `json:"lag_seconds"`
	Errors     int       `json:"errors"`
	// StoreFailingSince is when the store began to fail (zero when it
	// works); Spooled what waits in the local spool meanwhile.
	StoreFailingSince time.Time `json:"store_failing_since,omitzero"`
	SpooledBytes      int64     `json:"spooled_bytes,omitempty"`
	// SemiSync, with binlog_archive_semisync, is "on" while the server
	// waits for the archive's acknowledgements, else why not.
	SemiSync string `json:"semisync,omitempty"`
	// Day is the UTC date the counters are for.
	Day          string `json:"day"`
	BytesToday   int64  `json:"bytes_today"`   // binlog bytes made durable
	ObjectsToday int    `json:"objects_today"` // segments and compacted files stored
	// LastError is why the last run ended, if it failed.
	LastError string `json:"last_error,omitempty"`
	// Recoverable, set by the reader from the bucket, is the window a
	// point-in-time restore reaches through the series.
	Recoverable *Window `json:"recoverable,omitempty"`
}

// SeriesOf is the series the status names.
func (s *Status) SeriesOf() (Series, bool) {
	parts := strings.Split(strings.TrimSuffix(s.Series, "/"), "/")
	if len(parts) != 3 || parts[0] != "binlog-archive" {
		return Series{}, false
	}
	id, err := strconv.ParseUint(parts[2], 10, 32)
	return Series{Port: parts[1], ServerID: uint32(id)}, err == nil
}

// StatusPath is the archiver's status file of port in backupBase; LockPath
// its lock (one archiver per port and host).
func StatusPath(backupBase, port string) string {
	return filepath.Join(backupBase, "mysql-"+port+".binlog-archive.json")
}

// LockPath is the lock one archiver per port and host holds.
func LockPath(backupBase, port string) string {
	return filepath.Join(backupBase, "mysql-"+port+".binlog-archive.lock")
}

// ReadStatus reads the archiver status of port (nil when no archiver has
// run on this host) and says whether one runs now.
func ReadStatus(backupBase, port string) (*Status, error) {
	data, err := os.ReadFile(StatusPath(backupBase, port))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s Status
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", StatusPath(backupBase, port), err)
	}
	pid, held := lock.Holder(LockPath(backupBase, port))
	s.Running = held && pid == s.PID
	return &s, nil
}

// StatusFile keeps one run's status file. Its counters of the day go on
// from what an earlier run of the same day left.
type StatusFile struct {
	path string
	s    Status
	// base is the run's start in the day's counters.
	baseBytes   int64
	baseObjects int
}

// OpenStatus starts the status file of a run of port.
func OpenStatus(backupBase, port string) *StatusFile {
	f := &StatusFile{path: StatusPath(backupBase, port)}
	now := time.Now().UTC()
	f.s = Status{PID: os.Getpid(), Started: now, Day: now.Format(time.DateOnly)}
	if old, err := ReadStatus(backupBase, port); err == nil && old != nil && old.Day == f.s.Day {
		f.baseBytes, f.baseObjects = old.BytesToday, old.ObjectsToday
	}
	return f
}

// Update records the archiver's state.
func (f *StatusFile) Update(st State) error {
	now := time.Now().UTC()
	if day := now.Format(time.DateOnly); day != f.s.Day {
		// A new day: the counters start again from this run's total now.
		f.s.Day, f.baseBytes, f.baseObjects = day, -st.Bytes, -st.Objects
	}
	f.s.Updated = now
	f.s.Series, f.s.Position, f.s.GTIDs = st.Series, st.Position, st.GTIDs
	if !st.LastEvent.IsZero() {
		f.s.LastEvent = st.LastEvent
	}
	f.s.LagSeconds, f.s.Errors = st.Lag.Seconds(), st.Errors
	f.s.StoreFailingSince, f.s.SpooledBytes, f.s.SemiSync = st.StoreFailingSince, st.Spooled, st.SemiSync
	f.s.BytesToday, f.s.ObjectsToday = f.baseBytes+st.Bytes, f.baseObjects+st.Objects
	return f.write()
}

// End records how the run ended.
func (f *StatusFile) End(err error) error {
	f.s.Updated, f.s.LastError = time.Now().UTC(), ""
	if err != nil {
		f.s.LastError = err.Error()
	}
	return f.write()
}

func (f *StatusFile) write() error {
	data, err := json.MarshalIndent(f.s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(f.path, data, 0o640)
}
