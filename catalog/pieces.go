package catalog

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/mysqlbackup/mysqlbackup/s3"
)

// A v2 object larger than one multipart upload of s3_part_size_mb parts
// can hold is stored as pieces, each a whole upload of at most
// piecePartsMax parts: the part size, and so the memory, never grows
// with the data. The first piece has the object's name, the next ones
// .0001, .0002, … after it. Small objects are one piece.
var PiecePartsMax int64 = 9000

// PieceWriter uploads what is written to it as consecutive pieces, one
// upload at a time, hashing each. Close means every piece is stored.
type PieceWriter struct {
	ctx      context.Context
	st       s3.Store
	key      string
	max      int64
	pieces   []Piece
	pw       *io.PipeWriter
	done     chan error
	n        int64
	h        hash.Hash // of the current piece
	whole    hash.Hash // of the whole stream, once the first piece ended
	finished bool
}

// NewPieceWriter writes the object key to st in pieces of at most
// partSize × PiecePartsMax bytes.
func NewPieceWriter(ctx context.Context, st s3.Store, key string, partSize int64) *PieceWriter {
	return &PieceWriter{ctx: ctx, st: st, key: key, max: partSize * PiecePartsMax}
}

// Pieces are the stored pieces, in order, after Close.
func (p *PieceWriter) Pieces() []Piece { return p.pieces }

func (p *PieceWriter) start() {
	pr, pw := io.Pipe()
	p.pw, p.done, p.n, p.h = pw, make(chan error, 1), 0, sha256.New()
	key := PieceKey(p.key, len(p.pieces))
	go func() {
		err := p.st.Put(p.ctx, key, pr, nil)
		if err == nil {
			err = drained(pr)
		}
		// Unblock the writer whatever happened to the upload.
		pr.CloseWithError(fmt.Errorf("upload of %s stopped: %v", key, err))
		p.done <- err
	}()
}

// finish ends the current piece and waits for its upload.
func (p *PieceWriter) finish() error {
	p.pw.Close()
	err := <-p.done
	key := PieceKey(p.key, len(p.pieces))
	p.pw = nil
	if err != nil {
		return err
	}
	if len(p.pieces) == 0 {
		// The first piece's hash state is the whole stream's so far: one
		// SHA-256 pass serves both.
		state, err := p.h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return err
		}
		p.whole = sha256.New()
		if err := p.whole.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
			return err
		}
	}
	p.pieces = append(p.pieces, Piece{Key: key, Size: p.n, SHA256: hex.EncodeToString(p.h.Sum(nil))})
	return nil
}

// SHA256 is the hex SHA-256 of everything written, after Close.
func (p *PieceWriter) SHA256() string { return hex.EncodeToString(p.whole.Sum(nil)) }

// Size is the number of bytes written.
func (p *PieceWriter) Size() int64 {
	var n int64
	for _, pc := range p.pieces {
		n += pc.Size
	}
	return n
}

func (p *PieceWriter) Write(b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		if p.pw == nil {
			p.start()
		}
		chunk := b[:min(int64(len(b)), p.max-p.n)]
		n, err := p.pw.Write(chunk)
		p.h.Write(chunk[:n])
		if p.whole != nil {
			p.whole.Write(chunk[:n])
		}
		p.n += int64(n)
		written += n
		if err != nil {
			return written, err
		}
		b = b[n:]
		if p.n == p.max {
			if err := p.finish(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// Close ends the last piece (an empty stream is one empty piece).
func (p *PieceWriter) Close() error {
	if p.finished {
		return nil
	}
	p.finished = true
	if p.pw == nil && len(p.pieces) == 0 {
		p.start()
	}
	if p.pw != nil {
		return p.finish()
	}
	return nil
}

// Abort stops an unfinished upload (its multipart upload is aborted by Put).
func (p *PieceWriter) Abort(err error) {
	if p.pw != nil {
		p.pw.CloseWithError(err)
		<-p.done
		p.pw = nil
	}
}

// drained makes sure the store's upload read everything: one that returns
// early without an error would otherwise lose the tail.
func drained(r io.Reader) error {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("upload ended %d bytes before the piece did", n)
	}
	return nil
}

// ErrChecksumMismatch marks a stored object whose bytes are not those the
// manifest records.
var ErrChecksumMismatch = errors.New("checksum mismatch")

// OpenPieces reads an object's pieces as one stream, each GET resumed up
// to attempts times. Every piece's size is checked first (a missing or cut
// piece fails before any download); each piece's SHA-256 is checked at its
// end, a mismatch being ErrChecksumMismatch.
func OpenPieces(ctx context.Context, st s3.Store, o Object, attempts int) (io.ReadCloser, error) {
	pieces := o.StoredPieces()
	for _, pc := range pieces {
		info, err := st.Head(ctx, pc.Key)
		if errors.Is(err, s3.ErrNotExist) {
			return nil, fmt.Errorf("object %s, listed in the manifest, is missing", pc.Key)
		}
		if err != nil {
			return nil, err
		}
		if info.Size != pc.Size {
			return nil, fmt.Errorf("object %s has %d bytes, the manifest says %d: truncated or replaced", pc.Key, info.Size, pc.Size)
		}
	}
	return &pieceReader{ctx: ctx, st: st, pieces: pieces, attempts: attempts}, nil
}

type pieceReader struct {
	ctx      context.Context
	st       s3.Store
	attempts int
	pieces   []Piece
	cur      io.ReadCloser
	h        hash.Hash
	err      error // a checksum mismatch, returned by every later read too
}

func (r *pieceReader) Read(b []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	for {
		if r.cur == nil {
			if len(r.pieces) == 0 {
				return 0, io.EOF
			}
			rc, err := s3.OpenResuming(r.ctx, r.st, r.pieces[0].Key, r.pieces[0].Size, r.attempts)
			if err != nil {
				return 0, err
			}
			r.cur, r.h = rc, sha256.New()
		}
		n, err := r.cur.Read(b)
		r.h.Write(b[:n])
		if errors.Is(err, io.EOF) {
			pc := r.pieces[0]
			r.cur.Close()
			r.cur, r.pieces = nil, r.pieces[1:]
			if got := hex.EncodeToString(r.h.Sum(nil)); got != pc.SHA256 {
				r.err = fmt.Errorf("%w: sha256 of %s is %s, the manifest says %s", ErrChecksumMismatch, pc.Key, got, pc.SHA256)
				return n, r.err
			}
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

func (r *pieceReader) Close() error {
	if r.cur != nil {
		return r.cur.Close()
	}
	return nil
}
