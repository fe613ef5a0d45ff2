package backup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

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

// crcMem is a memory store that reports a CRC-32 for every object.
type crcMem struct {
	s3test.Mem
	stored string
}

func (m *crcMem) StoredCRC32(context.Context, string) (string, error) { return m.stored, nil }

func TestS3DestinationRefusesAnObjectWhoseStoredCRCIsNotThatOfTheBytesSent(t *testing.T) {
	sent := s3.NewCRC32()
	sent.Write([]byte("archive bytes"))
	sha := "0123456789abcdef0123456789abcdef01234567"
	info := s3.Info{Size: 13, Metadata: map[string]string{"sha1": sha}}
	log := slog.New(slog.DiscardHandler)
	good := &s3Destination{st: &crcMem{stored: "LACTwA=="}, key: "k", log: log, crc: sent}
	other := s3.NewCRC32()
	other.Write([]byte("archive byteS"))
	if ok, _ := other.Matches("LACTwA=="); ok {
		t.Fatal("the test's CRC matches another content")
	}
	if err := good.verify(t.Context(), info, 13, sha); err != nil {
		t.Errorf("matching CRC: %v", err)
	}
	bad := &s3Destination{st: &crcMem{stored: "AAAAAA=="}, key: "k", log: log, crc: sent}
	if err := bad.verify(t.Context(), info, 13, sha); err == nil || !strings.Contains(err.Error(), "s3 computed CRC-32 AAAAAA== over k") {
		t.Errorf("another CRC: %v, want a refusal naming it", err)
	}
	unknown := &s3Destination{st: &crcMem{}, key: "k", log: log, crc: sent}
	if err := unknown.verify(t.Context(), info, 13, sha); err != nil {
		t.Errorf("a store without checksums: %v", err)
	}
	if err := good.verify(t.Context(), s3.Info{Size: 12, Metadata: info.Metadata}, 13, sha); err == nil {
		t.Error("a short object passed")
	}
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
