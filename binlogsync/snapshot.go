// Package binlogsync copies binary logs: the raw files a backup carries
// (taken after the data, so they hold every transaction in it and those
// committed since), and the delta replay of a restore.
package binlogsync

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// File is one binary log and the size it had when the list was taken.
type File struct {
	Name string
	Size int64
}

// Snapshot is the server's binary logs at one moment: where they are, their
// basename (read from the server, never assumed to be mysql-bin) and each
// file's end position then.
type Snapshot struct {
	Dir      string
	Basename string
	Files    []File
}

// Take lists the binary logs of the server db is connected to. The
// server's files must be readable from here (the tool runs on the DB host).
func Take(ctx context.Context, db *sql.DB) (Snapshot, error) {
	var base sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT @@log_bin_basename").Scan(&base); err != nil {
		return Snapshot{}, fmt.Errorf("binlog basename: %w", err)
	}
	if !base.Valid || base.String == "" {
		return Snapshot{}, fmt.Errorf("binary logging is off on the server: a backup needs log_bin")
	}
	files, err := ListBinaryLogs(ctx, db)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{Dir: filepath.Dir(base.String), Basename: filepath.Base(base.String), Files: files}, nil
}

// ListBinaryLogs is SHOW BINARY LOGS: every binlog of the server, oldest
// first, with its size.
func ListBinaryLogs(ctx context.Context, db *sql.DB) ([]File, error) {
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("show binary logs: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []File
	for rows.Next() {
		// Log_name, File_size, then Encrypted on MySQL 8.0.
		dest := make([]any, len(cols))
		var f File
		dest[0], dest[1] = &f.Name, &f.Size
		for i := 2; i < len(cols); i++ {
			dest[i] = new(sql.RawBytes)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("show binary logs: %w", err)
		}
		if strings.ContainsAny(f.Name, "/\\") {
			return nil, fmt.Errorf("show binary logs: unexpected name %q", f.Name)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// IndexName is the index file of the basename, e.g. mysql-bin.index.
func (s Snapshot) IndexName() string { return s.Basename + ".index" }

// Index is the index file content: "./<name>\n" for each file, the form
// the legacy tool wrote and mysqld reads for a datadir-relative log.
func (s Snapshot) Index() []byte {
	var b strings.Builder
	for _, f := range s.Files {
		b.WriteString("./" + f.Name + "\n")
	}
	return []byte(b.String())
}

// Open returns f's bytes from 0 up to its recorded size. The reader fails
// if the file is shorter than that (it was purged or truncated meanwhile).
func (s Snapshot) Open(f File) (io.ReadCloser, error) {
	fh, err := os.Open(filepath.Join(s.Dir, f.Name))
	if err != nil {
		return nil, fmt.Errorf("binlog %s: %w", f.Name, err)
	}
	return &exactReader{r: io.LimitReader(fh, f.Size), c: fh, left: f.Size, name: f.Name}, nil
}

type exactReader struct {
	r    io.Reader
	c    io.Closer
	left int64
	name string
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		return n, fmt.Errorf("binlog %s ended %d bytes before its recorded size", e.name, e.left)
	}
	return n, err
}

func (e *exactReader) Close() error { return e.c.Close() }

// Covers checks that the snapshot holds what a restore of a backup taken
// at file:pos replays: file itself, at least pos bytes of it, and a series
// without a gap from it to the last file (a purge or a lost file in
// between makes every restore of the backup fail).
func (s Snapshot) Covers(file string, pos uint64) error {
	at := -1
	for i, f := range s.Files {
		if f.Name == file {
			at = i
			break
		}
	}
	if at < 0 {
		return fmt.Errorf("the binlogs copied (%s) do not hold the backup's snapshot file %s (purged meanwhile?)", s.span(), file)
	}
	if uint64(s.Files[at].Size) < pos {
		return fmt.Errorf("binlog %s has %d bytes, less than the backup's snapshot position %d", file, s.Files[at].Size, pos)
	}
	prev := -1
	for _, f := range s.Files[at:] {
		n, err := SeqNumber(f.Name)
		if err != nil {
			return err
		}
		if prev >= 0 && n != prev+1 {
			return fmt.Errorf("the binlogs copied skip from number %06d to %s: the series has a gap", prev, f.Name)
		}
		prev = n
	}
	return nil
}

// span names the first and last file.
func (s Snapshot) span() string {
	if len(s.Files) == 0 {
		return "none"
	}
	return s.Files[0].Name + " … " + s.Files[len(s.Files)-1].Name
}

// SeqNumber is the sequence number of a binlog file name (base.000042).
func SeqNumber(name string) (int, error) {
	i := strings.LastIndexByte(name, '.')
	n, err := strconv.Atoi(name[i+1:])
	if i < 0 || err != nil || n < 0 {
		return 0, fmt.Errorf("binlog %s: no sequence number after the last dot", name)
	}
	return n, nil
}

// Created is when the binlog file at path was created: the timestamp of
// its first event, the format description. A file of another history
// under the same name (after RESET MASTER, or on a host rebuilt from a
// backup) has another.
func Created(path string) (time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	head := make([]byte, 4+4)
	if _, err := io.ReadFull(f, head); err != nil || string(head[:4]) != string(Magic) {
		return time.Time{}, fmt.Errorf("%s: not a binary log", path)
	}
	return time.Unix(int64(binary.LittleEndian.Uint32(head[4:])), 0).UTC(), nil
}
