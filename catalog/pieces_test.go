package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/mysqlbackup/mysqlbackup/s3/s3test"
)

// withPieceParts sets PiecePartsMax for one test.
func withPieceParts(t *testing.T, n int64) {
	old := PiecePartsMax
	PiecePartsMax = n
	t.Cleanup(func() { PiecePartsMax = old })
}

// storePieces writes data through a PieceWriter (pieces of max bytes) the
// way a backup does, fed by a reader that returns one byte at a time
// where it can, and returns the object as a manifest records it.
func storePieces(t *testing.T, st *s3test.Mem, key string, data []byte, max int64) Object {
	t.Helper()
	pw := NewPieceWriter(t.Context(), st, key, max)
	if _, err := io.Copy(pw, iotest.OneByteReader(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if pw.Size() != int64(len(data)) {
		t.Fatalf("Size %d, wrote %d", pw.Size(), len(data))
	}
	sum := sha256.Sum256(data)
	if pw.SHA256() != hex.EncodeToString(sum[:]) {
		t.Fatalf("SHA256 %s, want the whole stream's %x", pw.SHA256(), sum)
	}
	o := Object{Key: key, Size: pw.Size(), SHA256: pw.SHA256()}
	if len(pw.Pieces()) > 1 {
		o.Pieces = pw.Pieces()
	}
	return o
}

func TestPiecesRoundTripAtEveryBoundarySize(t *testing.T) {
	withPieceParts(t, 1)
	const size = 7 // bytes a piece
	for _, n := range []int{0, 1, size - 1, size, size + 1, 3*size + 2} {
		st := &s3test.Mem{}
		data := bytes.Repeat([]byte("abcdefghij"), 3)[:n]
		o := storePieces(t, st, "d/obj", data, size)
		wantPieces := max(1, (n+size-1)/size)
		if got := len(o.StoredPieces()); got != wantPieces {
			t.Errorf("%d bytes: %d pieces, want %d", n, got, wantPieces)
		}
		r, err := OpenPieces(t.Context(), st, o, 1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d bytes: read back %d bytes, %v", n, len(got), err)
		}
	}
}

func TestPieceReaderNamesEachKindOfDamage(t *testing.T) {
	withPieceParts(t, 1)
	data := []byte("0123456789abcdefghij") // three pieces of 8
	for _, c := range []struct {
		name   string
		damage func(st *s3test.Mem)
		want   string
	}{
		{"flipped byte", func(st *s3test.Mem) {
			st.Corrupt("d/obj.0001", func(b []byte) []byte { b[3] ^= 1; return b })
		}, "checksum mismatch: sha256 of d/obj.0001"},
		{"truncated piece", func(st *s3test.Mem) {
			st.Corrupt("d/obj.0002", func(b []byte) []byte { return b[:2] })
		}, "object d/obj.0002 has 2 bytes, the manifest says 4: truncated or replaced"},
		{"missing piece", func(st *s3test.Mem) { st.Delete(t.Context(), "d/obj") }, "object d/obj, listed in the manifest, is missing"},
	} {
		st := &s3test.Mem{}
		o := storePieces(t, st, "d/obj", data, 8)
		c.damage(st)
		r, err := OpenPieces(t.Context(), st, o, 1)
		if err == nil {
			_, err = io.ReadAll(r)
			r.Close()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		if c.name == "flipped byte" && !errors.Is(err, ErrChecksumMismatch) {
			t.Errorf("a flipped byte is not ErrChecksumMismatch: %v", err)
		}
	}
}

func TestPieceWriterReportsAFailedUploadAndStoresNothingOfIt(t *testing.T) {
	withPieceParts(t, 1)
	st := &s3test.Mem{FailPut: func(key string) error {
		if key == "d/obj.0001" {
			return errors.New("503 SlowDown")
		}
		return nil
	}}
	pw := NewPieceWriter(t.Context(), st, "d/obj", 4)
	_, err := pw.Write([]byte("0123456789"))
	if err == nil {
		err = pw.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "503 SlowDown") {
		t.Errorf("write through a failing upload: %v, want the store's error", err)
	}
	if _, herr := st.Head(t.Context(), "d/obj.0001"); herr == nil {
		t.Error("the failed piece exists")
	}
}
