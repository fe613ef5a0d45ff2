package dirstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockDir holds the lock files, lockStripes of them: a key locks the one
// its hash picks. They are never removed (removing a lock file races with
// a process that opened it and is about to lock it), and a few files
// serve every key: a lock is held only while a sidecar and a rename are
// written, or a sidecar and a small object read.
const (
	lockDir     = ".locks"
	lockStripes = 64
)

// lockPollMax bounds the wait between two tries of a busy lock.
const lockPollMax = 50 * time.Millisecond

// lock takes how (syscall.LOCK_SH or LOCK_EX) on key's lock file, waiting
// for it as long as ctx allows, and returns its release.
// A reader of a store it may not write (a read-only mount on a restore
// host) goes without the lock: a sidecar is bound to its file, so at
// worst it sees an object without metadata while a writer elsewhere
// publishes it.
func (d *Dir) lock(ctx context.Context, key string, how int) (unlock func(), err error) {
	f, err := d.openLock(key)
	if err != nil && how == syscall.LOCK_SH && (errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission)) {
		return func() {}, nil
	}
	if err != nil {
		return nil, err
	}
	for wait := time.Millisecond; ; wait = min(2*wait, lockPollMax) {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// openLock opens (creating it and .locks/ when missing) key's lock file.
func (d *Dir) openLock(key string) (*os.File, error) {
	h := fnv.New32a()
	h.Write([]byte(key))
	name := filepath.Join(d.root, lockDir, fmt.Sprintf("%02x", h.Sum32()%lockStripes))
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		if err := d.mkdirs(filepath.Dir(name)); err != nil {
			return nil, err
		}
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	return f, nil
}
