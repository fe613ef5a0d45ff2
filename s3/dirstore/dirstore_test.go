package dirstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// The helper processes: with DIRSTORE_COUNTER set, the test binary
// increments the counter object there (TestSwapHoldsAcrossProcesses);
// with DIRSTORE_READ, it reads the store there (TestAReadOnlyStoreIsReadable).
func TestMain(m *testing.M) {
	var err error
	switch {
	case os.Getenv("DIRSTORE_COUNTER") != "":
		n, _ := strconv.Atoi(os.Getenv("DIRSTORE_INCREMENTS"))
		err = increment(context.Background(), os.Getenv("DIRSTORE_COUNTER"), n)
	case os.Getenv("DIRSTORE_READ") != "":
		err = readAll(context.Background(), os.Getenv("DIRSTORE_READ"))
	default:
		os.Exit(m.Run())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// readAll lists the store at root and reads every object's metadata,
// bytes and tag, printing "key sha1" lines.
func readAll(ctx context.Context, root string) error {
	d, err := Open(root)
	if err != nil {
		return err
	}
	objs, err := d.List(ctx, "")
	if err != nil {
		return err
	}
	for _, o := range objs {
		info, err := d.Head(ctx, o.Key)
		if err != nil {
			return err
		}
		if _, _, err := d.ReadTagged(ctx, o.Key, 1<<10); err != nil {
			return err
		}
		fmt.Println(o.Key, info.Metadata["sha1"])
	}
	return nil
}

// increment adds 1 to the number in object "counter" n times, each by a
// read and a Swap over what was read, again when another writer won.
func increment(ctx context.Context, root string, n int) error {
	d, err := Open(root)
	if err != nil {
		return err
	}
	for range n {
		for {
			data, tag, err := d.ReadTagged(ctx, "counter", 64)
			if err != nil {
				return err
			}
			v, _ := strconv.Atoi(string(data))
			_, err = d.Swap(ctx, "counter", []byte(strconv.Itoa(v+1)), tag)
			if err == nil {
				break
			}
			if !errors.Is(err, s3.ErrChanged) {
				return err
			}
		}
	}
	return nil
}

func open(t *testing.T) *Dir {
	t.Helper()
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSwapHoldsAcrossProcesses: four processes increment one counter by
// compare-and-swap; not one increment is lost, so no two of them ever
// stored over the same version.
func TestSwapHoldsAcrossProcesses(t *testing.T) {
	d := open(t)
	if _, err := d.Swap(t.Context(), "counter", []byte("0"), ""); err != nil {
		t.Fatal(err)
	}
	const procs, each = 4, 40
	var cmds []*exec.Cmd
	for range procs {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "DIRSTORE_COUNTER="+d.Root(), "DIRSTORE_INCREMENTS="+strconv.Itoa(each))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("incrementing process: %v", err)
		}
	}
	data, _, err := d.ReadTagged(t.Context(), "counter", 64)
	if err != nil || string(data) != strconv.Itoa(procs*each) {
		t.Errorf("counter = %q, %v; want %d", data, err, procs*each)
	}
}

// TestSwapTagChangesOnEveryWriteOfTheSameBytes: a tag names a version,
// not a content, so a writer that read before an identical rewrite still
// loses its swap.
func TestSwapTagChangesOnEveryWriteOfTheSameBytes(t *testing.T) {
	d := open(t)
	ctx := t.Context()
	t1, err := d.Swap(ctx, "k", []byte("same"), "")
	if err != nil {
		t.Fatal(err)
	}
	t2, err := d.Swap(ctx, "k", []byte("same"), t1)
	if err != nil || t2 == t1 {
		t.Fatalf("rewrite of the same bytes: tag %q (was %q), %v", t2, t1, err)
	}
	if _, err := d.Swap(ctx, "k", []byte("late"), t1); !errors.Is(err, s3.ErrChanged) {
		t.Errorf("swap over the first version: %v, want ErrChanged", err)
	}
}

// TestKeysNeverLeaveTheRoot: a key that could name a file outside the
// root, or one of the store's own files, is refused by every method.
func TestKeysNeverLeaveTheRoot(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "store")
	os.Mkdir(root, 0o700)
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, key := range []string{"", "../escape", "a/../../escape", "/etc/escape", "a//b", "a/", "./a", ".locks/00", "a/.meta.b", "a/.tmp.0123456789abcdef.b", "a\x00b"} {
		errs := []error{
			d.Put(ctx, key, strings.NewReader("x"), nil),
			d.Copy(ctx, "nope", key, nil),
			d.Delete(ctx, key),
			d.AbortUploads(ctx, key),
		}
		_, err := d.Head(ctx, key)
		errs = append(errs, err)
		_, err = d.Get(ctx, key, 0)
		errs = append(errs, err)
		_, err = d.Swap(ctx, key, []byte("x"), "")
		errs = append(errs, err)
		for i, err := range errs {
			if !errors.Is(err, ErrBadKey) {
				t.Errorf("key %q, call %d: %v, want ErrBadKey", key, i, err)
			}
		}
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 1 {
		t.Errorf("files beside the root: %v", entries)
	}
}

// TestOnlyObjectsAreListed: sidecars, files being written, lock files
// and names of other tools starting with a dot are never objects.
func TestOnlyObjectsAreListed(t *testing.T) {
	d := open(t)
	ctx := t.Context()
	if err := d.Put(ctx, "2026_11_23/3309/mysql-3309.tgz.des3", strings.NewReader("archive"), map[string]string{"sha1": "ab"}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(d.Root(), "2026_11_23", "3309")
	f, err := createTemp(dir, "mysql-3309.tgz.des3.partial")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.WriteFile(filepath.Join(dir, ".nfs000000001"), []byte("x"), 0o600)
	got, err := d.List(ctx, "")
	if err != nil || len(got) != 1 || got[0].Key != "2026_11_23/3309/mysql-3309.tgz.des3" || got[0].Size != 7 {
		t.Errorf("list: %+v %v; want the archive alone", got, err)
	}
	if pending, err := d.PendingUploads(ctx, "2026_11_23/"); err != nil || !slices.Equal(pending, []string{"2026_11_23/3309/mysql-3309.tgz.des3.partial"}) {
		t.Errorf("pending uploads: %q %v", pending, err)
	}
}

// TestAbortUploadsRemovesTheTempFilesOfExactlyThatKey: a killed run's
// files being written go, those of a key that merely starts the same way
// stay.
func TestAbortUploadsRemovesTheTempFilesOfExactlyThatKey(t *testing.T) {
	d := open(t)
	ctx := t.Context()
	dir := filepath.Join(d.Root(), "d")
	os.Mkdir(dir, 0o700)
	for _, target := range []string{"k", ".meta.k", "k.partial", "k2"} {
		f, err := createTemp(dir, target)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if err := d.AbortUploads(ctx, "d/k"); err != nil {
		t.Fatal(err)
	}
	pending, err := d.PendingUploads(ctx, "d/")
	if err != nil || !slices.Equal(pending, []string{"d/k.partial", "d/k2"}) {
		t.Errorf("pending after abort of d/k: %q %v; want d/k.partial d/k2", pending, err)
	}
}

// TestGetFailsWhenTheFileIsCutShort: a file truncated under a reader is
// an error, never a shorter object.
func TestGetFailsWhenTheFileIsCutShort(t *testing.T) {
	d := open(t)
	ctx := t.Context()
	if err := d.Put(ctx, "k", bytes.NewReader(make([]byte, 1<<20)), nil); err != nil {
		t.Fatal(err)
	}
	r, err := d.Get(ctx, "k", 100)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	os.Truncate(filepath.Join(d.Root(), "k"), 1000)
	n, err := io.Copy(io.Discard, r)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read %d bytes of a cut file, err %v; want io.ErrUnexpectedEOF", n, err)
	}
	if _, err := d.Get(ctx, "k", 1001); err == nil {
		t.Error("get beyond the end: no error")
	}
}

// TestAFileWithoutItsOwnSidecarHasNoMetadata: a file put there by hand,
// or whose sidecar describes the file a writer that died between its two
// renames was publishing, is an object without metadata, never with
// another file's.
func TestAFileWithoutItsOwnSidecarHasNoMetadata(t *testing.T) {
	d := open(t)
	ctx := t.Context()
	os.WriteFile(filepath.Join(d.Root(), "by-hand"), []byte("legacy archive"), 0o600)
	if info, err := d.Head(ctx, "by-hand"); err != nil || info.Size != 14 || len(info.Metadata) != 0 {
		t.Errorf("head of a file put by hand: %+v %v", info, err)
	}
	if err := d.Put(ctx, "k", strings.NewReader("old"), map[string]string{"sha1": "old"}); err != nil {
		t.Fatal(err)
	}
	other, _ := os.Stat(filepath.Join(d.Root(), "by-hand"))
	if err := writeSidecar(filepath.Join(d.Root(), "k"), newSidecar(other, map[string]string{"sha1": "new"})); err != nil {
		t.Fatal(err)
	}
	info, err := d.Head(ctx, "k")
	if err != nil || len(info.Metadata) != 0 {
		t.Errorf("head of a file whose sidecar describes another: %+v %v; want no metadata", info.Metadata, err)
	}
}

// TestDeleteRemovesEmptiedDirectoriesAndStaleLeftovers: removing the last
// object of a dated directory removes the directory, sweeping a day-old
// temporary file of a dead writer; a fresh one (a writer at work) keeps
// its directory.
func TestDeleteRemovesEmptiedDirectoriesAndStaleLeftovers(t *testing.T) {
	d := open(t)
	ctx := t.Context()
	for _, k := range []string{"2026_11_22/3309/a", "2026_11_23/3309/a"} {
		if err := d.Put(ctx, k, strings.NewReader("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	old, _ := createTemp(filepath.Join(d.Root(), "2026_11_22", "3309"), "dead")
	old.Close()
	dayAgo := time.Now().Add(-25 * time.Hour)
	os.Chtimes(old.Name(), dayAgo, dayAgo)
	fresh, _ := createTemp(filepath.Join(d.Root(), "2026_11_23", "3309"), "live")
	fresh.Close()
	for _, k := range []string{"2026_11_22/3309/a", "2026_11_23/3309/a"} {
		if err := d.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(d.Root(), "2026_11_22")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("emptied dated directory: %v, want it removed", err)
	}
	if _, err := os.Stat(fresh.Name()); err != nil {
		t.Errorf("a fresh temporary file was swept: %v", err)
	}
}

// TestTheRootIsNeverCreated: a store whose directory is missing (a share
// not mounted) fails instead of writing elsewhere.
func TestTheRootIsNeverCreated(t *testing.T) {
	root := filepath.Join(t.TempDir(), "mnt", "backups")
	if _, err := Open(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("open of a missing directory: %v, want ErrNotExist", err)
	}
	os.MkdirAll(root, 0o700)
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Dir(root))
	if err := d.Put(t.Context(), "2026_11_23/3309/k", strings.NewReader("x"), nil); err == nil {
		t.Error("put into a removed root: no error")
	}
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("root after a put: %v, want it still missing", err)
	}
}

// TestAReadOnlyStoreIsReadable: a restore host that mounts the share
// read-only lists the backups and reads their metadata and bytes (its
// readers go without the lock files they cannot open).
func TestAReadOnlyStoreIsReadable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a read-only bind mount needs root")
	}
	testbed.Need(t, "unshare", "mount")
	d := open(t)
	if err := d.Put(t.Context(), "2026_11_23/3309/mysql-3309.tgz.des3", strings.NewReader("archive"), map[string]string{"sha1": "ab12"}); err != nil {
		t.Fatal(err)
	}
	script := `mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$1"`
	cmd := exec.Command("unshare", "-m", "sh", "-c", script, d.Root(), os.Args[0])
	cmd.Env = append(os.Environ(), "DIRSTORE_READ="+d.Root())
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "2026_11_23/3309/mysql-3309.tgz.des3 ab12\n" {
		t.Errorf("reading a read-only mount: %v: %q; want the archive with its sha1", err, out)
	}
}
