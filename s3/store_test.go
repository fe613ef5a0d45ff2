package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"testing/iotest"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/s3"
	"github.com/mysqlbackup/mysqlbackup/s3/dirstore"
	"github.com/mysqlbackup/mysqlbackup/s3/s3test"
)

// TestBucketHonoursTheStoreContract runs every Store method against a real
// MinIO server and checks the contract its doc comment states.
func TestBucketHonoursTheStoreContract(t *testing.T) {
	m := testbed.StartMinIO(t)
	storeContract(t, m.Store())
}

// TestMemHonoursTheStoreContract holds the unit tests' in-memory store to
// the same contract.
func TestMemHonoursTheStoreContract(t *testing.T) {
	storeContract(t, &s3test.Mem{})
}

// TestDirHonoursTheStoreContract holds the directory store (a local disk
// or a network mount as the backup store) to the same contract.
func TestDirHonoursTheStoreContract(t *testing.T) {
	st, err := dirstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	storeContract(t, st)
}

// pendingLister is a store that can list unfinished multipart uploads.
type pendingLister interface {
	s3.Store
	PendingUploads(ctx context.Context, prefix string) ([]string, error)
}

// storeContract checks every Store method of st against its doc comment.
func storeContract(t *testing.T, st pendingLister) {
	ctx := t.Context()
	big := bytes.Repeat([]byte{0, 1, 2, 3, 4, 5, 6}, 2<<20) // 14 MiB, odd pattern, 3 parts

	t.Run("PutGetAtOffset", func(t *testing.T) {
		if err := st.Put(ctx, "a/big", iotest.HalfReader(bytes.NewReader(big)), nil); err != nil {
			t.Fatal(err)
		}
		for _, off := range []int64{0, 1, 5<<20 - 1, int64(len(big)) - 3} {
			r, err := st.Get(ctx, "a/big", off)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, big[off:]) {
				t.Errorf("offset %d: got %d bytes, %v; want %d", off, len(got), err, len(big)-int(off))
			}
		}
	})
	t.Run("EmptyObject", func(t *testing.T) {
		if err := st.Put(ctx, "a/empty", bytes.NewReader(nil), map[string]string{"sha1": "da39"}); err != nil {
			t.Fatal(err)
		}
		if info, err := st.Head(ctx, "a/empty"); err != nil || info.Size != 0 || info.Metadata["sha1"] != "da39" {
			t.Errorf("head: %+v %v", info, err)
		}
	})
	t.Run("SwapStoresOnlyOverTheVersionItWasGiven", func(t *testing.T) {
		tag, err := st.Swap(ctx, "cas/head", []byte("one"), "")
		if err != nil {
			t.Fatalf("swap onto no object: %v", err)
		}
		if _, err := st.Swap(ctx, "cas/head", []byte("again"), ""); !errors.Is(err, s3.ErrChanged) {
			t.Errorf("create-only swap over an existing object: %v, want ErrChanged", err)
		}
		data, read, err := st.ReadTagged(ctx, "cas/head", 1<<10)
		if err != nil || string(data) != "one" || read != tag {
			t.Fatalf("read tagged: %q %q %v; want \"one\" tagged %q", data, read, err, tag)
		}
		tag2, err := st.Swap(ctx, "cas/head", []byte("two"), read)
		if err != nil || tag2 == tag {
			t.Fatalf("swap over the version read: %q %v", tag2, err)
		}
		if data, read2, err := st.ReadTagged(ctx, "cas/head", 1<<10); err != nil || string(data) != "two" || read2 != tag2 {
			t.Errorf("read tagged after a swap: %q %q %v; want \"two\" tagged %q", data, read2, err, tag2)
		}
		if _, err := st.Swap(ctx, "cas/head", []byte("lost update"), read); !errors.Is(err, s3.ErrChanged) {
			t.Errorf("swap over a version replaced meanwhile: %v, want ErrChanged", err)
		}
		if err := st.Put(ctx, "cas/head", bytes.NewReader([]byte("plain put")), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Swap(ctx, "cas/head", []byte("after a put"), tag2); !errors.Is(err, s3.ErrChanged) {
			t.Errorf("swap over a version a plain Put replaced: %v, want ErrChanged", err)
		}
		if data, _, _ := st.ReadTagged(ctx, "cas/head", 1<<10); string(data) != "plain put" {
			t.Errorf("object after the refused swaps: %q", data)
		}
		if _, _, err := st.ReadTagged(ctx, "cas/head", 3); err == nil {
			t.Error("read tagged over its limit: no error")
		}
	})
	t.Run("HeadAndGetOfMissingKeyIsErrNotExist", func(t *testing.T) {
		if _, err := st.Head(ctx, "nope"); !errors.Is(err, s3.ErrNotExist) {
			t.Errorf("head: got %v, want ErrNotExist", err)
		}
		if _, err := st.Get(ctx, "nope", 0); !errors.Is(err, s3.ErrNotExist) {
			t.Errorf("get: got %v, want ErrNotExist", err)
		}
	})
	t.Run("APrefixOfOtherKeysIsNoObject", func(t *testing.T) {
		if err := st.Put(ctx, "dir/obj", bytes.NewReader([]byte("x")), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Head(ctx, "dir"); !errors.Is(err, s3.ErrNotExist) {
			t.Errorf("head of a prefix: got %v, want ErrNotExist", err)
		}
		if _, err := st.Get(ctx, "dir", 0); !errors.Is(err, s3.ErrNotExist) {
			t.Errorf("get of a prefix: got %v, want ErrNotExist", err)
		}
		if err := st.Delete(ctx, "dir"); err != nil {
			t.Errorf("delete of a prefix: %v", err)
		}
		if _, err := st.Head(ctx, "dir/obj"); err != nil {
			t.Errorf("the object under a prefix deleted as a key: %v", err)
		}
	})
	t.Run("MetadataKeysAreLowerCaseAndModifiedIsSet", func(t *testing.T) {
		before := time.Now().Add(-time.Minute)
		if err := st.Put(ctx, "meta/obj", bytes.NewReader([]byte("x")), map[string]string{"Binlog-Pos": "mysql-bin.000001:4"}); err != nil {
			t.Fatal(err)
		}
		info, err := st.Head(ctx, "meta/obj")
		if err != nil || info.Metadata["binlog-pos"] != "mysql-bin.000001:4" || info.Modified.Before(before) {
			t.Errorf("head: %+v %v; want metadata binlog-pos and a modification time after %v", info, err, before)
		}
	})
	t.Run("CopyReplacesMetadataOfTheCopyOnly", func(t *testing.T) {
		if err := st.Put(ctx, "a/src", bytes.NewReader(big), map[string]string{"sha1": "aaaa"}); err != nil {
			t.Fatal(err)
		}
		if err := st.Copy(ctx, "a/src", "b/copy", map[string]string{"sha1": "feed"}); err != nil {
			t.Fatal(err)
		}
		info, err := st.Head(ctx, "b/copy")
		if err != nil || info.Size != int64(len(big)) || info.Metadata["sha1"] != "feed" {
			t.Errorf("copy: %+v %v", info, err)
		}
		if info, err := st.Head(ctx, "a/src"); err != nil || info.Metadata["sha1"] != "aaaa" {
			t.Errorf("source after the copy: %+v %v; want its own sha1 aaaa", info.Metadata, err)
		}
		if err := st.Delete(ctx, "a/src"); err != nil {
			t.Fatal(err)
		}
		r, err := st.Get(ctx, "b/copy", 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, big) {
			t.Errorf("copy after its source was deleted: %d bytes, %v; want the %d bytes copied", len(got), err, len(big))
		}
	})
	t.Run("FailedPutLeavesNoObjectAndNoUpload", func(t *testing.T) {
		broken := io.MultiReader(bytes.NewReader(big[:12<<20]), iotest.ErrReader(errors.New("disk on fire")))
		err := st.Put(ctx, "c/broken", broken, nil)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("disk on fire")) {
			t.Fatalf("got %v, want the reader's error", err)
		}
		if _, err := st.Head(ctx, "c/broken"); !errors.Is(err, s3.ErrNotExist) {
			t.Errorf("object exists after failed put: %v", err)
		}
		if pending, err := st.PendingUploads(ctx, "c/"); err != nil || len(pending) != 0 {
			t.Errorf("pending uploads %v, %v; want none", pending, err)
		}
	})
	t.Run("ListPaginatesInKeyOrder", func(t *testing.T) {
		const n = 1003 // more than one page of 1000
		sem := make(chan struct{}, 8)
		errs := make(chan error, n)
		for i := range n {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				errs <- st.Put(ctx, fmt.Sprintf("list/%04d", i), bytes.NewReader([]byte("x")), nil)
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		got, err := st.List(ctx, "list/")
		if err != nil || len(got) != n {
			t.Fatalf("listed %d, %v; want %d", len(got), err, n)
		}
		for i, o := range got {
			if want := fmt.Sprintf("list/%04d", i); o.Key != want || o.Size != 1 || o.Metadata != nil {
				t.Fatalf("item %d = %+v, want key %s size 1, no metadata", i, o, want)
			}
		}
	})
	t.Run("ListPrefixIsAStringPrefixInByteOrder", func(t *testing.T) {
		for _, k := range []string{"order/a/b", "order/a.b", "order/a-c", "order/ab", "order/b"} {
			if err := st.Put(ctx, k, bytes.NewReader([]byte("x")), nil); err != nil {
				t.Fatal(err)
			}
		}
		for prefix, want := range map[string][]string{
			"order/a":  {"order/a-c", "order/a.b", "order/a/b", "order/ab"},
			"order/a/": {"order/a/b"},
			"order/b":  {"order/b"},
			"order/c":  nil,
			"orde":     {"order/a-c", "order/a.b", "order/a/b", "order/ab", "order/b"},
		} {
			got, err := st.List(ctx, prefix)
			var keys []string
			for _, o := range got {
				keys = append(keys, o.Key)
			}
			if err != nil || !slices.Equal(keys, want) {
				t.Errorf("list %q: %q %v; want %q", prefix, keys, err, want)
			}
		}
	})
	t.Run("DeleteIsIdempotent", func(t *testing.T) {
		for range 2 {
			if err := st.Delete(ctx, "a/big"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.Head(ctx, "a/big"); !errors.Is(err, s3.ErrNotExist) {
			t.Errorf("after delete: %v", err)
		}
	})
}

func TestAnUploadsStoredCRCIsThatOfItsPartsAsSent(t *testing.T) {
	// A backup checks its temporary object's CRC-32, which the store
	// computed over the parts it received, before the copy to the final
	// key: a copy over 5 GiB, made part by part, carries none.
	m := testbed.StartMinIO(t)
	const part = 5 << 20
	sc := m.StoreConfig()
	sc.PartSize = part
	st := s3.New(sc)
	data := make([]byte, 12<<20+17)
	rand.Read(data)
	sent := s3.NewCRC32Parts(part)
	if err := st.Put(t.Context(), "tmp", io.TeeReader(bytes.NewReader(data), sent), nil); err != nil {
		t.Fatal(err)
	}
	_, stored, err := st.HeadCRC32(t.Context(), "tmp")
	if err != nil {
		t.Fatal(err)
	}
	if ok, known := sent.Matches(stored); !ok || !known {
		t.Errorf("stored CRC-32 %q: match %v, known %v", stored, ok, known)
	}
	other := s3.NewCRC32Parts(part)
	other.Write(data[1:])
	if ok, _ := other.Matches(stored); ok {
		t.Error("another content's CRC matches")
	}
}
