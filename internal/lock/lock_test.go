package lock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

func TestSecondAcquireFailsNamingTheHolder(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mysql-3309.lock")
	l, err := Acquire(p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(p)
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("got %v, want ErrBusy naming pid %d", err, os.Getpid())
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(p)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()
}

func TestLockOfAKilledProcessDoesNotBlock(t *testing.T) {
	testbed.Need(t, "flock")
	p := filepath.Join(t.TempDir(), "mysql-3309.lock")
	// One process holds the lock on its own fd 9 (flock(1) locks the shared
	// open file, then sh becomes sleep keeping fd 9), and is then SIGKILLed.
	cmd := exec.Command("sh", "-c", `exec 9>>"$0" && flock --exclusive 9 && exec sleep 60`, p)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	held := false
	for range 500 { // wait, bounded, until the child holds the lock
		l, err := Acquire(p)
		if errors.Is(err, ErrBusy) {
			held = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		l.Release() // the child has not taken it yet
		time.Sleep(10 * time.Millisecond)
	}
	if !held {
		t.Fatal("the child never took the lock")
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(p)
	if err != nil {
		t.Fatalf("lock of a killed holder still blocks: %v", err)
	}
	l.Release()
}

func TestHolderNamesTheProcessHoldingTheLockWithoutTakingIt(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mysql-3309.binlog-archive.lock")
	if _, ok := Holder(p); ok {
		t.Fatal("a lock file that does not exist has a holder")
	}
	l, err := Acquire(p)
	if err != nil {
		t.Fatal(err)
	}
	if pid, ok := Holder(p); !ok || pid != os.Getpid() {
		t.Fatalf("Holder = %d, %v; want %d, true", pid, ok, os.Getpid())
	}
	if pid, ok := Holder(p); !ok || pid != os.Getpid() {
		t.Fatalf("second look: Holder = %d, %v (a look must not change the lock)", pid, ok)
	}
	l.Release()
	if pid, ok := Holder(p); ok {
		t.Fatalf("released lock still held by %d", pid)
	}
}

func TestHolderInSkipsWaitersAndOtherFiles(t *testing.T) {
	table := "1: FLOCK  ADVISORY  WRITE 100 fe:00:77 0 EOF\n" +
		"1: -> FLOCK  ADVISORY  WRITE 300 fe:01:42 0 EOF\n" +
		"2: FLOCK  ADVISORY  WRITE 200 fe:01:42 0 EOF\n" +
		"3: POSIX  ADVISORY  WRITE 400 fe:01:43 0 EOF\n"
	dev := uint64(0xfe<<8 | 0x01)
	if pid, ok := holderIn(table, dev, 42); !ok || pid != 200 {
		t.Fatalf("holderIn = %d, %v; want 200 (the holder, not the waiter)", pid, ok)
	}
	if _, ok := holderIn(table, dev, 43); ok {
		t.Fatal("a POSIX lock counted as the flock holder")
	}
}
