// Package lock gives one run at a time per port: an exclusive flock on a
// file. The kernel drops the lock when its holder dies, so a lock left by
// a killed run never blocks the next one.
package lock

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ErrBusy is returned (wrapped) when another process holds the lock.
var ErrBusy = errors.New("another mysqlbackup run holds the lock")

// Lock is a held lock.
type Lock struct{ f *os.File }

// Acquire takes the lock at path at once or fails with ErrBusy naming the
// holder's pid. The file keeps the holder's pid for the next caller to read.
func Acquire(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w %s (pid %s)", ErrBusy, path, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Release drops the lock. The file stays: removing it would race with a
// process that opened it but has not locked it yet.
func (l *Lock) Release() error { return l.f.Close() }
