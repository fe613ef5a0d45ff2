package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// resumeBackoff is the first wait before a resumption; it doubles.
var resumeBackoff = time.Second

// resumingReader reads an object of known size, reopening it at the
// current offset when a read fails, with exponential backoff.
type resumingReader struct {
	ctx      context.Context
	st       Store
	key      string
	size     int64
	off      int64
	body     io.ReadCloser
	attempts int
	backoff  time.Duration
}

// OpenResuming opens key, of size bytes, for reading from the start. A
// broken connection is resumed from the byte it broke at, up to attempts
// times in a row (with backoff from 1 s). The reader fails if the object
// yields fewer or more than size bytes.
func OpenResuming(ctx context.Context, st Store, key string, size int64, attempts int) (io.ReadCloser, error) {
	r := &resumingReader{ctx: ctx, st: st, key: key, size: size, attempts: attempts, backoff: resumeBackoff}
	body, err := st.Get(ctx, key, 0)
	if err != nil {
		return nil, err
	}
	r.body = body
	return r, nil
}

func (r *resumingReader) Read(p []byte) (int, error) {
	for tries := 0; ; tries++ {
		n, err := r.body.Read(p)
		r.off += int64(n)
		switch {
		case r.off > r.size:
			return n, fmt.Errorf("get s3 key %s: more than the %d bytes its size says", r.key, r.size)
		case errors.Is(err, io.EOF) && r.off < r.size:
			err = io.ErrUnexpectedEOF
		case err == nil || errors.Is(err, io.EOF):
			return n, err
		}
		if n > 0 {
			return n, nil // hand out what arrived; the next Read resumes
		}
		if tries >= r.attempts || r.ctx.Err() != nil {
			return 0, fmt.Errorf("get s3 key %s at byte %d: %w", r.key, r.off, err)
		}
		if rerr := r.reopen(tries); rerr != nil {
			return 0, rerr
		}
	}
}

func (r *resumingReader) reopen(try int) error {
	r.body.Close()
	select {
	case <-r.ctx.Done():
		return r.ctx.Err()
	case <-time.After(r.backoff << try):
	}
	body, err := r.st.Get(r.ctx, r.key, r.off)
	if err != nil {
		return fmt.Errorf("resume s3 key %s at byte %d: %w", r.key, r.off, err)
	}
	r.body = body
	return nil
}

func (r *resumingReader) Close() error { return r.body.Close() }
