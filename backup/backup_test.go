package backup

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/s3"
	"github.com/mysqlbackup/mysqlbackup/s3/s3test"
)

func TestPipeToFailsWhenTheConsumerStopsReadingEarlyWithoutAnError(t *testing.T) {
	err := pipeTo(func(w io.Writer) error {
		_, err := w.Write(bytes.Repeat([]byte("x"), 100))
		return err
	}, func(r io.Reader) error {
		_, err := io.ReadFull(r, make([]byte, 40))
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "upload ended 60 bytes before the archive did") {
		t.Errorf("pipeTo with a consumer that read 40 of 100 bytes: %v", err)
	}
}

func TestPipeToReturnsTheProducersErrorAndUnblocksTheConsumer(t *testing.T) {
	boom := errors.New("mariabackup: exit status 1")
	err := pipeTo(func(w io.Writer) error {
		w.Write([]byte("partial"))
		return boom
	}, func(r io.Reader) error {
		_, err := io.Copy(io.Discard, iotest.OneByteReader(r))
		return err
	})
	if !errors.Is(err, boom) {
		t.Errorf("pipeTo with a failing producer: %v, want its error", err)
	}
}

func TestPipeToStopsTheProducerWhenTheConsumerFails(t *testing.T) {
	err := pipeTo(func(w io.Writer) error {
		for {
			if _, err := w.Write(make([]byte, 4096)); err != nil {
				return err
			}
		}
	}, func(r io.Reader) error {
		io.ReadFull(r, make([]byte, 10000))
		return errors.New("s3: connection reset")
	})
	if err == nil || !strings.Contains(err.Error(), "upload stopped: s3: connection reset") {
		t.Errorf("pipeTo with a failing consumer: %v, want the producer stopped by the upload's error", err)
	}
}

func TestFileDestinationPublishesNothingUntilCommitAndNothingAfterAbort(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mysql-3306.tgz.des3")
	d := &fileDestination{path: p}
	if err := d.Upload(t.Context(), strings.NewReader("archive bytes"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the archive is visible before Commit: %v", err)
	}
	d.Abort()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("Abort left %d entries", len(entries))
	}

	d = &fileDestination{path: p}
	if err := d.Upload(t.Context(), strings.NewReader("archive bytes"), 0); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(t.Context(), map[string]string{"sha1": "0123456789abcdef0123456789abcdef01234567"}, 13); err != nil {
		t.Fatal(err)
	}
	d.Abort() // harmless after Commit
	data, err := os.ReadFile(p)
	if err != nil || string(data) != "archive bytes" {
		t.Fatalf("committed archive: %q, %v", data, err)
	}
	sum, err := os.ReadFile(p + ".sha1")
	if err != nil || string(sum) != "0123456789abcdef0123456789abcdef01234567  mysql-3306.tgz.des3\n" {
		t.Errorf("checksum file: %q, %v", sum, err)
	}
}

func TestS3DestinationRefusesAnObjectWhoseStoredCRCIsNotThatOfTheBytesSent(t *testing.T) {
	sent := s3.NewCRC32()
	sent.Write([]byte("archive bytes"))
	sha := "0123456789abcdef0123456789abcdef01234567"
	info := s3.Info{Key: "k", Size: 13, Metadata: map[string]string{"sha1": sha}}
	d := &s3Destination{key: "k", log: slog.New(slog.DiscardHandler)}
	other := s3.NewCRC32()
	other.Write([]byte("archive byteS"))
	if ok, _ := other.Matches("LACTwA=="); ok {
		t.Fatal("the test's CRC matches another content")
	}
	if err := d.verify(info, "LACTwA==", sent, 13, sha); err != nil {
		t.Errorf("matching CRC: %v", err)
	}
	if err := d.verify(info, "AAAAAA==", sent, 13, sha); err == nil || !strings.Contains(err.Error(), "s3 computed CRC-32 AAAAAA== over k") {
		t.Errorf("another CRC: %v, want a refusal naming it", err)
	}
	if err := d.verify(info, "", sent, 13, sha); err != nil {
		t.Errorf("a store without checksums: %v", err)
	}
	if err := d.verify(s3.Info{Key: "k", Size: 12, Metadata: info.Metadata}, "LACTwA==", sent, 13, sha); err == nil {
		t.Error("a short object passed")
	}
}

// racingStore is a memory store whose HeadCRC32 answers for what is at
// the key when it is asked; hook runs once before it is asked about the
// final key (another member publishing the same key), onHead before a
// Head of the key it names.
type racingStore struct {
	*s3test.Mem
	hook   func()
	onHead map[string]func()
}

func (r *racingStore) Head(ctx context.Context, key string) (s3.Info, error) {
	if h := r.onHead[key]; h != nil {
		delete(r.onHead, key)
		h()
	}
	return r.Mem.Head(ctx, key)
}

func (r *racingStore) HeadCRC32(ctx context.Context, key string) (s3.Info, string, error) {
	if h := r.hook; h != nil && !strings.Contains(key, catalog.PartialSuffix) {
		r.hook = nil
		h()
	}
	info, err := r.Head(ctx, key)
	if err != nil {
		return info, "", err
	}
	rc, err := r.Get(ctx, key, 0)
	if err != nil {
		return info, "", err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(data))
	return info, base64.StdEncoding.EncodeToString(sum[:]), err
}

func TestAMemberPublishingDuringAnotherMembersCheckKeepsItsArchive(t *testing.T) {
	// Member B publishes the same key between member A's copy and A's
	// check: A must see B's archive as B's (last writer wins), never take
	// it for a bad copy of its own and delete it.
	ctx := t.Context()
	st := &racingStore{Mem: &s3test.Mem{}}
	key := "2026_11_23/3309/mysql-3309.tgz.des3"
	log := slog.New(slog.DiscardHandler)
	a := &s3Destination{st: st, key: key, run: "hosta.1.aaaaaaaa", log: log}
	b := &s3Destination{st: st, key: key, run: "hostb.2.bbbbbbbb", log: log}
	bodyA, bodyB := []byte("archive of member A"), []byte("archive of member B, longer")
	for _, x := range []struct {
		d    *s3Destination
		body []byte
	}{{a, bodyA}, {b, bodyB}} {
		if err := x.d.Cleanup(ctx); err != nil {
			t.Fatal(err)
		}
		if err := x.d.Upload(ctx, bytes.NewReader(x.body), int64(len(x.body))); err != nil {
			t.Fatal(err)
		}
	}
	var errB error
	st.hook = func() { errB = b.Commit(ctx, map[string]string{"sha1": sha1Of(bodyB)}, int64(len(bodyB))) }
	if err := a.Commit(ctx, map[string]string{"sha1": sha1Of(bodyA)}, int64(len(bodyA))); err != nil || errB != nil {
		t.Errorf("A's commit: %v; B's: %v; want both to succeed", err, errB)
	}
	info, err := st.Head(ctx, key)
	if err != nil || info.Metadata[catalog.MetaRun] != b.run || info.Metadata["sha1"] != sha1Of(bodyB) {
		t.Errorf("final object %+v, %v; want B's archive", info, err)
	}
	if objs, _ := st.List(ctx, key+catalog.PartialSuffix); len(objs) != 0 {
		t.Errorf("temporary objects left: %v", objs)
	}
}

func TestARunWhoseArchiveWasReplacedByOneThatFailedItsCheckPublishesAgain(t *testing.T) {
	// Member B publishes after member A, then B's own check fails and B
	// removes its archive: A, which saw B's archive and said nothing of its
	// own, must not leave the date empty while it reports success.
	ctx := t.Context()
	st := &racingStore{Mem: &s3test.Mem{}, onHead: map[string]func(){}}
	key := "2026_11_23/3309/mysql-3309.tgz.des3"
	a := &s3Destination{st: st, key: key, run: "hosta.1.aaaaaaaa", log: slog.New(slog.DiscardHandler)}
	body := []byte("archive of member A")
	if err := a.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Upload(ctx, bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	bTmp := catalog.PartialKey(key, "hostb.2.bbbbbbbb")
	st.hook = func() {
		st.Mem.Put(ctx, key, strings.NewReader("B's bad copy"), map[string]string{catalog.MetaRun: "hostb.2.bbbbbbbb", "sha1": "bad"})
		st.Mem.Put(ctx, bTmp, strings.NewReader("B's upload"), nil)
		// B's check fails while A waits for it: B removes its archive and
		// its temporary object.
		st.onHead[bTmp] = func() { st.Mem.Delete(ctx, key); st.Mem.Delete(ctx, bTmp) }
	}
	if err := a.Commit(ctx, map[string]string{"sha1": sha1Of(body)}, int64(len(body))); err != nil {
		t.Fatalf("A's commit: %v", err)
	}
	info, err := st.Head(ctx, key)
	if err != nil || info.Metadata[catalog.MetaRun] != a.run || info.Metadata["sha1"] != sha1Of(body) {
		t.Errorf("final object %+v, %v; want A's archive published again", info, err)
	}
}

func sha1Of(p []byte) string {
	s := sha1.Sum(p)
	return hex.EncodeToString(s[:])
}

func TestALegacyUploadRefusesAStoreWithoutServerSideCopyBeforeStreaming(t *testing.T) {
	// Publishing copies the temporary object to the final key: a store
	// that cannot is named at the start, not after an hour of upload.
	mem := &s3test.Mem{Fail: func(op, _ string) error {
		if op == "copy" {
			return errors.New("NotImplemented: A header you provided implies functionality that is not implemented")
		}
		return nil
	}}
	d := &s3Destination{st: mem, key: "2026_11_21/3306/mysql-3306.tgz.des3", run: "db1.1.00", log: slog.New(slog.DiscardHandler)}
	err := d.Cleanup(t.Context())
	if err == nil || !strings.Contains(err.Error(), "cannot copy objects server-side (S3 CopyObject)") {
		t.Fatalf("Cleanup on a store without CopyObject: %v", err)
	}
	d.Abort()
	if objs, _ := mem.List(t.Context(), ""); len(objs) != 0 {
		t.Errorf("left after the refusal: %v", objs)
	}
}
