// Package dirstore is an s3.Store over a directory of a POSIX filesystem:
// a local disk, or a network mount shared by several hosts (NFS). Key
// "2026_11_23/3309/mysql-3309.tgz.des3" is the file of that path under
// the root, so the tree is the bucket's dated layout and its archives are
// plain files the legacy tools read.
//
// Beside each object file NAME lie the store's own names, which all start
// with a dot and are never objects (a key whose segment starts with a dot
// is refused, as are "..", absolute keys and empty segments: a key never
// leaves the root):
//
//   - .meta.NAME, the sidecar: the object's user metadata, a version
//     (the tag Swap compares) and the inode and size of the file it
//     describes. A sidecar that names another file (a writer died between
//     its two renames, or the file was put there by hand) is ignored: the
//     object then has no metadata, never someone else's.
//   - .tmp.HEX.NAME and .tmp.HEX..meta.NAME, files being written. Put
//     writes to one, fsyncs it, writes and renames the sidecar, renames the
//     file into place and fsyncs the directory: an object appears whole or
//     not at all, and the rename of the data is the commit. AbortUploads
//     removes a key's, and Delete sweeps those over a day old from the
//     directories it empties.
//
// Writers of one key and readers of its metadata take a flock on one of
// a few lock files under .locks/ in the root (shared to read, exclusive
// to publish), so Swap is a compare-and-swap across processes and hosts.
// A reader on a read-only mount goes without.
//
// Limits, on a network mount: the Linux NFS client maps flock to the
// server's byte-range locks, so the locks hold across hosts, unless the
// mount says local_lock=flock or local_lock=all (then only within one
// host). The client caches directory lookups (acdirmax, up to a minute by
// default): another host may see a new key, or miss a removed one, that
// much later; lookupcache=positive or noac shortens it. An NFS client
// keeps a file that is removed while open as .nfsXXXX until it is closed
// (never listed). The root is not created: point the store at a directory
// below the mount point, so that an unmounted share fails instead of
// filling the local disk.
package dirstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/mysqlbackup/mysqlbackup/s3"
)

// Dir is a Store over the directory tree at its root.
type Dir struct{ root string }

var _ s3.Store = (*Dir)(nil)

// ErrBadKey is returned (wrapped) for a key that is not a relative path of
// plain names: empty, absolute, with an empty, "." or ".." segment, or a
// segment starting with a dot (names the store keeps for itself).
var ErrBadKey = errors.New("not a valid key (relative path of names not starting with a dot)")

// Open returns the store over root, which must be an existing directory.
func Open(root string) (*Dir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		return nil, err
	case !fi.IsDir():
		return nil, fmt.Errorf("%s: not a directory", abs)
	}
	return &Dir{root: abs}, nil
}

// Root is the store's directory.
func (d *Dir) Root() string { return d.root }

// String names the store in messages: "directory ROOT".
func (d *Dir) String() string { return "directory " + d.root }

// checkKey refuses a key that could leave the root or name the store's
// own files.
func checkKey(key string) error {
	if key == "" || strings.ContainsRune(key, 0) {
		return fmt.Errorf("%q: %w", key, ErrBadKey)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg[0] == '.' {
			return fmt.Errorf("%q: %w", key, ErrBadKey)
		}
	}
	return nil
}

// path is the file of key.
func (d *Dir) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// wrap adds the operation and the file to err (nil stays nil), and
// s3.ErrNotExist for a missing one.
func (d *Dir) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	where := filepath.Join(d.root, filepath.FromSlash(key))
	if errors.Is(err, fs.ErrNotExist) && !errors.Is(err, s3.ErrNotExist) {
		return fmt.Errorf("%s %s: %w", op, where, s3.ErrNotExist)
	}
	return fmt.Errorf("%s %s: %w", op, where, err)
}

// objectStat is the file of an object: a regular file, or ErrNotExist
// (a directory is a prefix of other keys, not an object).
func objectStat(p string) (os.FileInfo, error) {
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, syscall.ENOTDIR):
		return nil, fs.ErrNotExist
	case err != nil:
		return nil, err
	case fi.IsDir():
		return nil, fs.ErrNotExist
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	return fi, nil
}

// Head implements s3.Store.
func (d *Dir) Head(ctx context.Context, key string) (s3.Info, error) {
	p, err := d.path(key)
	if err != nil {
		return s3.Info{}, d.wrap("head", key, err)
	}
	unlock, err := d.lock(ctx, key, syscall.LOCK_SH)
	if err != nil {
		return s3.Info{}, d.wrap("head", key, err)
	}
	defer unlock()
	fi, err := objectStat(p)
	if err != nil {
		return s3.Info{}, d.wrap("head", key, err)
	}
	sc, err := readSidecar(p, fi)
	if err != nil {
		return s3.Info{}, d.wrap("head", key, err)
	}
	return s3.Info{Key: key, Size: fi.Size(), Modified: fi.ModTime(), Metadata: sc.metadata()}, nil
}

// Get implements s3.Store. The reader yields the bytes the file held when
// it was opened (a later Put replaces the file, not its bytes) and fails
// with io.ErrUnexpectedEOF if the file was cut meanwhile.
func (d *Dir) Get(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, d.wrap("get", key, err)
	}
	f, size, err := openObject(p)
	if err != nil {
		return nil, d.wrap("get", key, err)
	}
	if offset > size {
		f.Close()
		return nil, d.wrap("get", key, fmt.Errorf("offset %d beyond its %d bytes", offset, size))
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, d.wrap("get", key, err)
	}
	return &objectReader{ctx: ctx, f: f, left: size - offset, name: p}, nil
}

// openObject opens the regular file at p and tells its size.
func openObject(p string) (*os.File, int64, error) {
	if _, err := objectStat(p); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// objectReader reads exactly left bytes of f.
type objectReader struct {
	ctx  context.Context
	f    *os.File
	left int64
	name string
}

func (r *objectReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	if r.left <= 0 {
		return 0, io.EOF
	}
	n, err := r.f.Read(p[:min(int64(len(p)), r.left)])
	r.left -= int64(n)
	if errors.Is(err, io.EOF) && r.left > 0 {
		return n, fmt.Errorf("read %s: cut %d bytes short: %w", r.name, r.left, io.ErrUnexpectedEOF)
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

func (r *objectReader) Close() error { return r.f.Close() }

// ReadTagged implements s3.Store.
func (d *Dir) ReadTagged(ctx context.Context, key string, limit int64) ([]byte, string, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, "", d.wrap("get", key, err)
	}
	unlock, err := d.lock(ctx, key, syscall.LOCK_SH)
	if err != nil {
		return nil, "", d.wrap("get", key, err)
	}
	defer unlock()
	fi, err := objectStat(p)
	if err != nil {
		return nil, "", d.wrap("get", key, err)
	}
	if fi.Size() > limit {
		return nil, "", d.wrap("get", key, fmt.Errorf("over the %d bytes expected", limit))
	}
	sc, err := readSidecar(p, fi)
	if err != nil {
		return nil, "", d.wrap("get", key, err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, "", d.wrap("get", key, err)
	}
	return data, sc.tag(fi), nil
}
