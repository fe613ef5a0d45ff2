package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// flakyStore breaks the first `breaks` response bodies after `after` bytes,
// as a dropped connection would.
type flakyStore struct {
	s3.Store
	breaks int
	after  int64
	offs   []int64
}

func (f *flakyStore) Get(ctx context.Context, key string, off int64) (io.ReadCloser, error) {
	f.offs = append(f.offs, off)
	rc, err := f.Store.Get(ctx, key, off)
	if err != nil || f.breaks == 0 {
		return rc, err
	}
	f.breaks--
	return &breakingBody{rc: rc, left: f.after}, nil
}

type breakingBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *breakingBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("connection reset by peer")
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *breakingBody) Close() error { return b.rc.Close() }

func TestOpenResumingContinuesFromTheByteWhereTheConnectionBroke(t *testing.T) {
	defer s3.SetResumeBackoff(time.Millisecond)()
	m := testbed.StartMinIO(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	if err := m.Store().Put(t.Context(), "k", bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	f := &flakyStore{Store: m.Store(), breaks: 3, after: 1 << 20}
	r, err := s3.OpenResuming(t.Context(), f, "k", int64(len(data)), 2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v; want all %d", len(got), err, len(data))
	}
	if want := []int64{0, 1 << 20, 2 << 20, 3 << 20}; len(f.offs) != 4 || f.offs[1] != want[1] || f.offs[3] != want[3] {
		t.Errorf("requests at offsets %v, want %v (ranged resumption)", f.offs, want)
	}
}

func TestOpenResumingGivesUpAfterTheAttemptsAndNeverReturnsAShortRead(t *testing.T) {
	defer s3.SetResumeBackoff(time.Millisecond)()
	m := testbed.StartMinIO(t)
	data := bytes.Repeat([]byte("x"), 3<<20)
	m.Store().Put(t.Context(), "k", bytes.NewReader(data), nil)
	f := &flakyStore{Store: m.Store(), breaks: 100, after: 0}
	r, _ := s3.OpenResuming(t.Context(), f, "k", int64(len(data)), 2)
	if _, err := io.ReadAll(r); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("got %v, want the connection error after 2 resumptions", err)
	}
	// An object shorter than the size the caller expects is an error too.
	r, _ = s3.OpenResuming(t.Context(), m.Store(), "k", int64(len(data))+10, 0)
	if _, err := io.ReadAll(r); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short object: got %v, want ErrUnexpectedEOF", err)
	}
}
