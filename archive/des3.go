// Package archive holds the formats a backup is packed in, as streaming io
// wrappers: the legacy archive (tar, gzip, OpenSSL-compatible 3DES) that
// mysqlbackup.py reads and writes; the v2 objects (zstd in independent
// frames, then age); and a reader of the engines' xbstream that checks
// every chunk's CRC on the way.
package archive

import (
	"bufio"
	"bytes"
	"crypto/cipher"
	"crypto/des"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/mysqlbackup/mysqlbackup/internal/secretfile"
)

// Digest is the hash OpenSSL's EVP_BytesToKey derives the 3DES key with.
// `openssl enc` used MD5 up to OpenSSL 1.0.2 (the archives of the legacy
// tool) and SHA-256 from 1.1.0 on.
type Digest string

// The digests `openssl enc -md` accepts here.
const (
	MD5    Digest = "md5"
	SHA256 Digest = "sha256"
)

// ParseDigest accepts "md5" or "sha256".
func ParseDigest(s string) (Digest, error) {
	switch d := Digest(s); d {
	case MD5, SHA256:
		return d, nil
	}
	return "", fmt.Errorf("des3 digest %q: want md5 or sha256", s)
}

func (d Digest) new() hash.Hash {
	if d == SHA256 {
		return sha256.New()
	}
	return md5.New()
}

// Errors of Des3Decrypt. Bad padding at the end means a wrong password
// or a stream cut at a block boundary or corrupted; DetectDigest tells a
// wrong password apart before any of that (ErrWrongPassword).
var (
	ErrNotEncrypted = errors.New("not an OpenSSL salted archive (no Salted__ header)")
	ErrBadPadding   = errors.New("bad padding at the end of the encrypted archive: it is truncated or corrupt, or the password is wrong")
	ErrTruncated    = errors.New("encrypted archive is truncated")
)

const (
	saltMagic = "Salted__"
	blockSize = des.BlockSize
	chunk     = 64 << 10 // a multiple of blockSize
)

// ReadPasswordFile returns the first line of the file, as `openssl enc
// -pass file:F` reads it: everything from the first newline on is dropped;
// a carriage return before it is kept.
func ReadPasswordFile(path string) ([]byte, error) {
	data, err := secretfile.Read(path, "des3 password file")
	if err != nil {
		return nil, err
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("des3 password file %s: first line is empty", path)
	}
	return data, nil
}

// bytesToKey is OpenSSL's EVP_BytesToKey with one iteration: 24 key and 8
// IV bytes from D_i = H(D_{i-1} || password || salt).
func bytesToKey(d Digest, password, salt []byte) (key, iv []byte) {
	var out, prev []byte
	for len(out) < 24+blockSize {
		h := d.new()
		h.Write(prev)
		h.Write(password)
		h.Write(salt)
		prev = h.Sum(nil)
		out = append(out, prev...)
	}
	return out[:24], out[24 : 24+blockSize]
}

func newCBC(d Digest, password, salt []byte, decrypt bool) (cipher.BlockMode, error) {
	key, iv := bytesToKey(d, password, salt)
	block, err := des.NewTripleDESCipher(key)
	if err != nil {
		return nil, err
	}
	if decrypt {
		return cipher.NewCBCDecrypter(block, iv), nil
	}
	return cipher.NewCBCEncrypter(block, iv), nil
}

type des3Writer struct {
	w    io.Writer
	mode cipher.BlockMode
	buf  []byte // plaintext not yet a whole block
	out  []byte
	err  error
}

// Des3Encrypt returns a writer that encrypts to w what `openssl des3 -md
// <d> -pass …` would write: "Salted__", an 8-byte random salt, then
// 3DES-CBC with PKCS#7 padding. Close writes the last block; it does not
// close w.
func Des3Encrypt(w io.Writer, password []byte, d Digest) (io.WriteCloser, error) {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	return des3EncryptSalted(w, password, d, salt)
}

func des3EncryptSalted(w io.Writer, password []byte, d Digest, salt []byte) (io.WriteCloser, error) {
	mode, err := newCBC(d, password, salt, false)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(w, saltMagic+string(salt)); err != nil {
		return nil, err
	}
	return &des3Writer{w: w, mode: mode, buf: make([]byte, 0, chunk), out: make([]byte, chunk)}, nil
}

func (e *des3Writer) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n := len(p)
	for len(p) > 0 {
		k := copy(e.buf[len(e.buf):cap(e.buf)], p)
		e.buf, p = e.buf[:len(e.buf)+k], p[k:]
		if len(e.buf) == cap(e.buf) {
			if e.err = e.emit(e.buf); e.err != nil {
				return 0, e.err
			}
			e.buf = e.buf[:0]
		}
	}
	return n, nil
}

// emit encrypts whole blocks and writes them.
func (e *des3Writer) emit(plain []byte) error {
	out := e.out[:len(plain)]
	e.mode.CryptBlocks(out, plain)
	_, err := e.w.Write(out)
	return err
}

func (e *des3Writer) Close() error {
	if e.err != nil {
		return e.err
	}
	whole := len(e.buf) - len(e.buf)%blockSize
	pad := blockSize - len(e.buf)%blockSize
	tail := append(bytes.Clone(e.buf[whole:]), bytes.Repeat([]byte{byte(pad)}, pad)...)
	if e.err = e.emit(append(e.buf[:whole:whole], tail...)); e.err == nil {
		e.err = errors.New("des3 writer is closed")
		return nil
	}
	return e.err
}

// heldTail holds decrypted bytes not yet handed out. Until the end of the
// stream proves which block carries the padding, the last block waits.
type heldTail struct{ held []byte }

// read hands out what may go: everything once ended, else all but the
// last block.
func (t *heldTail) read(p []byte, ended bool) (int, error) {
	if ended {
		if len(t.held) == 0 {
			return 0, io.EOF
		}
		n := copy(p, t.held)
		t.held = t.held[n:]
		return n, nil
	}
	n := copy(p, t.held[:len(t.held)-blockSize])
	t.held = t.held[n:]
	return n, nil
}

type des3Reader struct {
	heldTail
	r    io.Reader
	mode cipher.BlockMode
	in   []byte
	eof  bool
}

// Des3Decrypt returns a reader of the plaintext of an OpenSSL salted 3DES
// stream. A stream cut short or with bad padding ends in an error, never
// in a silent EOF.
func Des3Decrypt(r io.Reader, password []byte, d Digest) (io.Reader, error) {
	hdr := make([]byte, 16)
	if _, err := io.ReadFull(r, hdr); err != nil || string(hdr[:8]) != saltMagic {
		return nil, ErrNotEncrypted
	}
	mode, err := newCBC(d, password, hdr[8:], true)
	if err != nil {
		return nil, err
	}
	return &des3Reader{r: bufio.NewReaderSize(r, chunk), mode: mode, in: make([]byte, chunk)}, nil
}

func (d *des3Reader) Read(p []byte) (int, error) {
	for len(d.held) <= blockSize && !d.eof {
		if err := d.fill(); err != nil {
			return 0, err
		}
	}
	return d.heldTail.read(p, d.eof)
}

// fill decrypts the next whole blocks; at EOF it checks and strips the padding.
func (d *des3Reader) fill() error {
	n, err := io.ReadAtLeast(d.r, d.in, blockSize)
	switch {
	case errors.Is(err, io.EOF):
		return d.finish()
	case errors.Is(err, io.ErrUnexpectedEOF):
		return ErrTruncated
	case err != nil:
		return err
	}
	whole := n - n%blockSize
	if extra := n - whole; extra > 0 {
		// Read up to the block boundary so every block is whole.
		if _, err := io.ReadFull(d.r, d.in[n:n+blockSize-extra]); err != nil {
			return ErrTruncated
		}
		whole += blockSize
	}
	plain := make([]byte, whole)
	d.mode.CryptBlocks(plain, d.in[:whole])
	d.held = append(d.held, plain...)
	return nil
}

func (d *des3Reader) finish() error {
	plain, err := unpad(d.held)
	if err != nil {
		return err
	}
	d.held, d.eof = plain, true
	return nil
}

// unpad checks and strips the PKCS#7 padding of the whole decrypted tail.
func unpad(h []byte) ([]byte, error) {
	if len(h) < blockSize || len(h)%blockSize != 0 {
		return nil, ErrTruncated
	}
	pad := int(h[len(h)-1])
	if pad < 1 || pad > blockSize {
		return nil, ErrBadPadding
	}
	for _, b := range h[len(h)-pad:] {
		if int(b) != pad {
			return nil, ErrBadPadding
		}
	}
	return h[:len(h)-pad], nil
}
