package archive

import (
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// parallelZstd compresses a stream on several cores by cutting it into
// chunks compressed as independent zstd frames, written in order. Any
// zstd decoder reads the concatenation as one stream. A single-stream
// zstd encoder is serial (each block may refer to the previous ones); here
// each chunk is its own window: at 4 MiB the output is about 3.5% larger
// on sysbench pages and binlogs, and every core compresses (on 2 cores
// shared with the engine and the upload, the backup took 9% less time).
type parallelZstd struct {
	enc     *zstd.Encoder
	dst     io.Writer
	chunk   int
	buf     []byte
	pending []chan frame // in stream order
	limit   int          // frames in flight
	pool    sync.Pool
	err     error
}

type frame struct {
	out []byte
	in  []byte
}

func newParallelZstd(dst io.Writer, workers, chunk int, opts ...zstd.EOption) (*parallelZstd, error) {
	enc, err := zstd.NewWriter(nil, append(opts, zstd.WithEncoderConcurrency(workers))...)
	if err != nil {
		return nil, err
	}
	return &parallelZstd{enc: enc, dst: dst, chunk: chunk, limit: workers + 1}, nil
}

func (z *parallelZstd) getBuf() []byte {
	if b, ok := z.pool.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, z.chunk)
}

func (z *parallelZstd) putBuf(b []byte) {
	if cap(b) >= z.chunk {
		z.pool.Put(&b)
	}
}

func (z *parallelZstd) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	n := len(p)
	for len(p) > 0 {
		if z.buf == nil {
			z.buf = z.getBuf()
		}
		take := min(len(p), z.chunk-len(z.buf))
		z.buf = append(z.buf, p[:take]...)
		p = p[take:]
		if len(z.buf) == z.chunk {
			if err := z.submit(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// submit starts compressing the current chunk, first writing out the
// oldest frame when enough are in flight.
func (z *parallelZstd) submit() error {
	for len(z.pending) >= z.limit {
		if err := z.writeOldest(); err != nil {
			return err
		}
	}
	in := z.buf
	z.buf = nil
	done := make(chan frame, 1)
	z.pending = append(z.pending, done)
	go func() {
		done <- frame{out: z.enc.EncodeAll(in, z.getBuf()), in: in}
	}()
	return nil
}

func (z *parallelZstd) writeOldest() error {
	f := <-z.pending[0]
	z.pending = z.pending[1:]
	_, err := z.dst.Write(f.out)
	z.putBuf(f.in)
	z.putBuf(f.out)
	if err != nil {
		z.err = err
	}
	return err
}

// Close compresses what is left and writes every frame; it does not close
// the destination.
func (z *parallelZstd) Close() error {
	if z.err == nil && len(z.buf) > 0 {
		z.err = z.submit()
	}
	for len(z.pending) > 0 {
		if err := z.writeOldest(); err != nil && z.err == nil {
			z.err = err
		}
	}
	z.enc.Close()
	return z.err
}
