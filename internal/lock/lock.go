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

// Holder says which process holds the lock at path, without taking it
// (so that a look never makes a starting run fail as busy): the kernel's
// table of flock locks, /proc/locks, names the holder of the file's inode.
// ok is false when nobody holds it (or the file does not exist).
func Holder(path string) (pid int, ok bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, false
	}
	table, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0, false
	}
	return holderIn(string(table), st.Dev, st.Ino)
}

// holderIn finds the FLOCK holder of inode ino on device dev in a
// /proc/locks table: lines like
// "1: FLOCK  ADVISORY  WRITE 4242 00:2f:1234 0 EOF" (blocked waiters,
// "1: -> FLOCK ...", hold nothing).
func holderIn(table string, dev, ino uint64) (int, bool) {
	major := (dev>>8)&0xfff | (dev>>32)&0xfffff000
	minor := dev&0xff | (dev>>12)&0xffffff00
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, ino)
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "FLOCK" || f[5] != want {
			continue
		}
		if pid, err := strconv.Atoi(f[4]); err == nil {
			return pid, true
		}
	}
	return 0, false
}
