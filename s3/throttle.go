package s3

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"

	"golang.org/x/time/rate"
)

// Throttle bounds the bytes per second that request bodies send, across
// every request of every Bucket that shares it: the parts of one
// multipart upload in flight together, and any other upload of the
// process. Downloads are not limited.
type Throttle struct {
	lim   *rate.Limiter
	chunk int          // most bytes one Read passes on: the bucket's depth
	sent  atomic.Int64 // bytes let go
}

// NewThrottle is a token bucket of bytesPerSec. Its depth, the most sent
// at once after a pause, is a tenth of a second's worth (4 KiB to
// 256 KiB), so the rate holds over any second, not only on average.
func NewThrottle(bytesPerSec float64) *Throttle {
	chunk := int(min(max(bytesPerSec/10, 4<<10), 256<<10))
	return &Throttle{lim: rate.NewLimiter(rate.Limit(bytesPerSec), chunk), chunk: chunk}
}

// Reader returns r whose reads wait, with ctx, until the throttle lets
// the bytes they return go.
func (t *Throttle) Reader(ctx context.Context, r io.Reader) io.Reader {
	return &throttledReader{ctx: ctx, r: r, t: t}
}

type throttledReader struct {
	ctx context.Context
	r   io.Reader
	t   *Throttle
}

func (tr *throttledReader) Read(p []byte) (int, error) {
	if len(p) > tr.t.chunk {
		p = p[:tr.t.chunk]
	}
	n, err := tr.r.Read(p)
	if n > 0 {
		if werr := tr.t.lim.WaitN(tr.ctx, n); werr != nil {
			return n, werr
		}
		tr.t.sent.Add(int64(n))
	}
	return n, err
}

// throttledClient sends every request body through a Throttle.
type throttledClient struct {
	next interface {
		Do(*http.Request) (*http.Response, error)
	}
	t *Throttle
}

func (c *throttledClient) Do(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return c.next.Do(req)
	}
	out := req.Clone(req.Context())
	out.Body = c.t.body(req.Context(), req.Body)
	if req.GetBody != nil {
		out.GetBody = func() (io.ReadCloser, error) {
			b, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			return c.t.body(req.Context(), b), nil
		}
	}
	return c.next.Do(out)
}

func (t *Throttle) body(ctx context.Context, rc io.ReadCloser) io.ReadCloser {
	return struct {
		io.Reader
		io.Closer
	}{t.Reader(ctx, rc), rc}
}
