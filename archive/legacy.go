package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/klauspost/pgzip"
)

// Owner is the user and group the archive's entries belong to: the legacy
// tool chowned its staging dirs to mysql-<port>:mysql before tar, so a
// legacy archive extracts owned by them.
type Owner struct {
	User, Group string
}

// gzipLevel is the compression level of the legacy archive.
const gzipLevel = 2

// LegacyWriter writes the legacy archive, `tar -c … | gzip --fast |
// openssl des3`, as one stream: tar entries go through a parallel gzip
// (gzip -d reads it) and 3DES to the destination.
type LegacyWriter struct {
	*TarWriter
	gz  *pgzip.Writer
	enc io.WriteCloser
}

// TarWriter writes the tar entries of a backup, owned by Owner.
type TarWriter struct {
	tw       *tar.Writer
	uid, gid int
	owner    Owner
	buf      []byte
}

// NewTarWriter starts a tar stream to dst; Close ends the tar only.
func NewTarWriter(dst io.Writer, owner Owner) *TarWriter {
	w := &TarWriter{tw: tar.NewWriter(dst), owner: owner, buf: make([]byte, 1<<20)}
	w.uid, w.gid = lookupIDs(owner)
	return w
}

// Close writes the tar end; it does not close the destination.
func (w *TarWriter) Close() error { return w.tw.Close() }

// NewLegacyWriter starts an archive written to dst. Close finishes it; it
// does not close dst.
func NewLegacyWriter(dst io.Writer, password []byte, d Digest, owner Owner) (*LegacyWriter, error) {
	enc, err := Des3Encrypt(dst, password, d)
	if err != nil {
		return nil, err
	}
	// Level 2: on sysbench data about 2% smaller than level 1 (gzip
	// --fast) for 4% more compression CPU, which runs on other cores,
	// while 3DES-CBC, serial by construction, bounds the whole stream:
	// fewer bytes for 3DES is what makes the backup faster.
	gz, err := pgzip.NewWriterLevel(enc, gzipLevel)
	if err != nil {
		return nil, err
	}
	// 1 MiB blocks, one per core in flight: bounded memory at any size.
	if err := gz.SetConcurrency(1<<20, max(2, runtime.GOMAXPROCS(0))); err != nil {
		return nil, err
	}
	return &LegacyWriter{TarWriter: NewTarWriter(gz, owner), gz: gz, enc: enc}, nil
}

// lookupIDs finds the numeric ids of the owner on this host; a name that
// does not exist here keeps id 0 and its name, which tar maps on extraction.
func lookupIDs(o Owner) (uid, gid int) {
	if u, err := user.Lookup(o.User); err == nil {
		uid, _ = strconv.Atoi(u.Uid)
	}
	if g, err := user.LookupGroup(o.Group); err == nil {
		gid, _ = strconv.Atoi(g.Gid)
	}
	return uid, gid
}

func (w *TarWriter) header(name string, mode int64, size int64, mtime time.Time, typ byte) *tar.Header {
	return &tar.Header{
		Typeflag: typ, Name: name, Mode: mode, Size: size, ModTime: mtime.Truncate(time.Second),
		Uid: w.uid, Gid: w.gid, Uname: w.owner.User, Gname: w.owner.Group, Format: tar.FormatPAX,
	}
}

// AddDirEntry adds an empty directory entry named name (no trailing slash).
func (w *TarWriter) AddDirEntry(name string, mode fs.FileMode, mtime time.Time) error {
	if err := w.tw.WriteHeader(w.header(name+"/", int64(mode.Perm()), 0, mtime, tar.TypeDir)); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	return nil
}

// AddReader adds a regular file of exactly size bytes read from r.
func (w *TarWriter) AddReader(name string, r io.Reader, size int64, mode fs.FileMode, mtime time.Time) error {
	if err := w.tw.WriteHeader(w.header(name, int64(mode.Perm()), size, mtime, tar.TypeReg)); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	n, err := io.CopyBuffer(w.tw, io.LimitReader(r, size), w.buf)
	if err == nil && n < size {
		err = fmt.Errorf("source ended after %d of %d bytes", n, size)
	}
	if err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	return nil
}

// AddFile adds the file at src under name.
func (w *TarWriter) AddFile(src, name string) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return w.AddReader(name, f, fi.Size(), fi.Mode(), fi.ModTime())
}

// AddTree adds the directory src and everything below it under the name
// prefix, in lexical order. Only directories and regular files are
// expected in a backup dir; anything else is an error.
func (w *TarWriter) AddTree(src, prefix string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := path.Join(prefix, filepath.ToSlash(rel))
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return w.AddDirEntry(name, fi.Mode(), fi.ModTime())
		case d.Type().IsRegular():
			return w.AddFile(p, name)
		}
		return fmt.Errorf("archive %s: not a regular file or directory (%s)", name, fi.Mode().Type())
	})
}

// Close finishes tar, gzip and des3, in that order; the first error wins.
func (w *LegacyWriter) Close() error {
	return errors.Join(w.tw.Close(), w.gz.Close(), w.enc.Close())
}
