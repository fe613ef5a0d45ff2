package dirstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/mysqlbackup/mysqlbackup/internal/atomicfile"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// tempPrefix starts the name of a file being written: .tmp.HEX.TARGET,
// HEX 16 random hex digits, TARGET the name it will be renamed to.
const (
	tempPrefix = ".tmp."
	tempRandom = 16
)

// createTemp creates a new temporary file in dir for the name target.
func createTemp(dir, target string) (*os.File, error) {
	for {
		var r [tempRandom / 2]byte
		_, _ = rand.Read(r[:])
		name := filepath.Join(dir, tempPrefix+hex.EncodeToString(r[:])+"."+target)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

// tempTarget is the name the temporary file name will be renamed to.
func tempTarget(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, tempPrefix)
	if !ok || len(rest) < tempRandom+2 || rest[tempRandom] != '.' {
		return "", false
	}
	if _, err := hex.DecodeString(rest[:tempRandom]); err != nil {
		return "", false
	}
	return rest[tempRandom+1:], true
}

// createObjectTemp creates the temporary file of the object file p,
// creating its directories; it tries again when a Delete removes an
// emptied directory meanwhile.
func (d *Dir) createObjectTemp(p string) (f *os.File, err error) {
	dir := filepath.Dir(p)
	for range 3 {
		if err = d.mkdirs(dir); err != nil {
			return nil, err
		}
		if f, err = createTemp(dir, filepath.Base(p)); !errors.Is(err, fs.ErrNotExist) {
			return f, err
		}
	}
	return nil, err
}

// mkdirs creates dir and its missing parents below the root, each made
// durable by an fsync of its parent. The root itself is never created.
func (d *Dir) mkdirs(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	if dir == d.root {
		return fmt.Errorf("store directory %s: %w", d.root, fs.ErrNotExist)
	}
	parent := filepath.Dir(dir)
	if err := d.mkdirs(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return atomicfile.SyncDir(parent)
}

// ctxReader fails once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Put implements s3.Store: the bytes go to a temporary file, which is
// fsynced and renamed over the key once r ended cleanly.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader, meta map[string]string) error {
	p, err := d.path(key)
	if err != nil {
		return d.wrap("put", key, err)
	}
	tmp, err := d.writeTemp(p, ctxReader{ctx, r})
	if err == nil {
		err = d.lockAndPublish(ctx, key, p, tmp, meta)
	}
	return d.wrap("put", key, err)
}

// lockAndPublish publishes tmp as key under the key's exclusive lock.
func (d *Dir) lockAndPublish(ctx context.Context, key, p, tmp string, meta map[string]string) error {
	unlock, err := d.lock(ctx, key, syscall.LOCK_EX)
	if err != nil {
		os.Remove(tmp)
		return err
	}
	defer unlock()
	return d.publish(p, tmp, meta)
}

// writeTemp writes r to a new temporary file of p and fsyncs it; on
// failure nothing is left.
func (d *Dir) writeTemp(p string, r io.Reader) (string, error) {
	f, err := d.createObjectTemp(p)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// publish makes the written temporary file tmp the object at p with
// meta: the sidecar first, then the file's rename (the commit), then the
// directory's fsync. The caller holds the key's exclusive lock. On
// failure tmp is removed.
func (d *Dir) publish(p, tmp string, meta map[string]string) error {
	fi, err := os.Stat(tmp)
	if err == nil {
		err = writeSidecar(p, newSidecar(fi, meta))
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(p))
}

// Copy implements s3.Store. The destination is a hard link to the
// source's file where the filesystem allows it (no bytes move; objects
// are never changed in place), else a copy, published as Put does.
func (d *Dir) Copy(ctx context.Context, src, dst string, meta map[string]string) error {
	sp, err := d.path(src)
	if err != nil {
		return d.wrap("copy", src, err)
	}
	dp, err := d.path(dst)
	if err != nil {
		return d.wrap("copy to", dst, err)
	}
	if _, err := objectStat(sp); err != nil {
		return d.wrap("copy", src, err)
	}
	tmp, err := d.linkTemp(sp, dp)
	if err != nil {
		tmp, err = d.copyTemp(ctx, sp, dp)
	}
	if err == nil {
		err = d.lockAndPublish(ctx, dst, dp, tmp, meta)
	}
	return d.wrap("copy to", dst, err)
}

// linkTemp links the file sp as a new temporary file of dp.
func (d *Dir) linkTemp(sp, dp string) (string, error) {
	f, err := d.createObjectTemp(dp)
	if err != nil {
		return "", err
	}
	f.Close()
	os.Remove(f.Name()) // the name is ours: link needs it free
	if err := os.Link(sp, f.Name()); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// copyTemp copies the file sp to a new temporary file of dp.
func (d *Dir) copyTemp(ctx context.Context, sp, dp string) (string, error) {
	f, size, err := openObject(sp)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return d.writeTemp(dp, &objectReader{ctx: ctx, f: f, left: size, name: sp})
}

// Swap implements s3.Store under the key's exclusive lock: the tag of
// the object is compared and the new one published while no other
// process of any host that shares the lock can write the key.
func (d *Dir) Swap(ctx context.Context, key string, data []byte, match string) (string, error) {
	p, err := d.path(key)
	if err != nil {
		return "", d.wrap("put", key, err)
	}
	unlock, err := d.lock(ctx, key, syscall.LOCK_EX)
	if err != nil {
		return "", d.wrap("put", key, err)
	}
	defer unlock()
	if err := checkTag(p, match); err != nil {
		return "", d.wrap("put", key, err)
	}
	tmp, err := d.writeTemp(p, bytes.NewReader(data))
	if err != nil {
		return "", d.wrap("put", key, err)
	}
	if err := d.publish(p, tmp, nil); err != nil {
		return "", d.wrap("put", key, err)
	}
	return d.currentTag(p)
}

// checkTag says whether the object at p is the one tagged match ("": no
// object), or s3.ErrChanged.
func checkTag(p, match string) error {
	fi, err := objectStat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if match == "" {
			return nil
		}
		return s3.ErrChanged
	case err != nil:
		return err
	case match == "":
		return s3.ErrChanged
	}
	sc, err := readSidecar(p, fi)
	if err != nil {
		return err
	}
	if sc.tag(fi) != match {
		return s3.ErrChanged
	}
	return nil
}

// currentTag is the tag of the object at p; the caller holds its lock.
func (d *Dir) currentTag(p string) (string, error) {
	fi, err := objectStat(p)
	if err != nil {
		return "", err
	}
	sc, err := readSidecar(p, fi)
	if err != nil {
		return "", err
	}
	return sc.tag(fi), nil
}
