package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/internal/secretfile"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// The v2 format stores each part of a backup (the engine's xbstream, a tar
// of the binary logs, my.cnf) as its own object: zstd, then age. age gives
// authenticated encryption in 64 KiB chunks (a flipped, cut or appended
// byte fails), to public keys, so the host that backs up cannot read its
// backups; or to a passphrase (scrypt).

// V2Compression and V2Encryption name the v2 pipeline in the manifest.
const (
	V2Compression = "zstd"
	V2Encryption  = "age"
)

// V2Keys are what encrypts or decrypts v2 objects.
type V2Keys struct {
	Recipients []age.Recipient // backup
	Identities []age.Identity  // restore, verify
	Kind       string          // "x25519" (public keys) or "scrypt" (passphrase)
}

// RecipientKeys parses age public keys ("age1…", one per entry).
func RecipientKeys(keys []string) (V2Keys, error) {
	if len(keys) == 0 {
		return V2Keys{}, errors.New("no age recipients")
	}
	rs, err := age.ParseRecipients(strings.NewReader(strings.Join(keys, "\n")))
	if err != nil {
		return V2Keys{}, fmt.Errorf("age recipients: %w", err)
	}
	return V2Keys{Recipients: rs, Kind: "x25519"}, nil
}

// IdentityFile reads age secret keys ("AGE-SECRET-KEY-1…" lines, as
// age-keygen writes them) from path.
func IdentityFile(path string) (V2Keys, error) {
	data, err := secretfile.Read(path, "age identity file")
	if err != nil {
		return V2Keys{}, err
	}
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		return V2Keys{}, fmt.Errorf("age identity file %s: %w", path, err)
	}
	return V2Keys{Identities: ids, Kind: "x25519"}, nil
}

// PassphraseFile reads a passphrase (first line of path) for both ways.
func PassphraseFile(path string) (V2Keys, error) {
	data, err := secretfile.Read(path, "encryption passphrase file")
	if err != nil {
		return V2Keys{}, err
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	}
	pass := strings.TrimSuffix(string(data), "\r")
	if pass == "" {
		return V2Keys{}, fmt.Errorf("encryption passphrase file %s: first line is empty", path)
	}
	r, err := age.NewScryptRecipient(pass)
	if err != nil {
		return V2Keys{}, err
	}
	id, err := age.NewScryptIdentity(pass)
	if err != nil {
		return V2Keys{}, err
	}
	return V2Keys{Recipients: []age.Recipient{r}, Identities: []age.Identity{id}, Kind: "scrypt"}, nil
}

// zstdChunk is the size of the independent frames a v2 object is cut into.
const zstdChunk = 4 << 20

// ErrWrongKey means none of the identities opens an object.
var ErrWrongKey = errors.New("wrong key: none of the age identities opens it")

type sealer struct {
	zw  io.WriteCloser
	enc io.WriteCloser
}

func (s *sealer) Write(p []byte) (int, error) { return s.zw.Write(p) }

// Close finishes zstd and then age; it does not close the destination.
func (s *sealer) Close() error { return errors.Join(s.zw.Close(), s.enc.Close()) }

// SealV2 returns a writer that compresses and encrypts into dst. Close
// finishes the object.
func SealV2(dst io.Writer, keys V2Keys) (io.WriteCloser, error) {
	if len(keys.Recipients) == 0 {
		return nil, errors.New("seal: no age recipients")
	}
	enc, err := age.Encrypt(dst, keys.Recipients...)
	if err != nil {
		return nil, fmt.Errorf("age: %w", err)
	}
	// The fastest level, in independent 4 MiB frames on every core: one
	// zstd stream is serial and, at about 130-250 MB/s a core on database
	// pages and binlogs, would be what limits the backup.
	zw, err := newParallelZstd(enc, max(2, runtime.GOMAXPROCS(0)), zstdChunk, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithWindowSize(zstdChunk))
	if err != nil {
		return nil, err
	}
	return &sealer{zw: zw, enc: enc}, nil
}

type opener struct {
	zr *zstd.Decoder
}

func (o *opener) Read(p []byte) (int, error) {
	n, err := o.zr.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("zstd: %w", err)
	}
	return n, err
}

func (o *opener) Close() error { o.zr.Close(); return nil }

// OpenV2 returns the plaintext of a v2 object read from src. Reading it to
// EOF proves the object whole: age authenticates every chunk and its end,
// zstd checks its frames.
func OpenV2(src io.Reader, keys V2Keys) (io.ReadCloser, error) {
	if len(keys.Identities) == 0 {
		return nil, errors.New("open: no age identities")
	}
	plain, err := age.Decrypt(src, keys.Identities...)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) {
			return nil, ErrWrongKey
		}
		return nil, fmt.Errorf("age: %w", err)
	}
	zr, err := zstd.NewReader(ageErrors{plain}, zstd.WithDecoderConcurrency(2), zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, err
	}
	return &opener{zr: zr}, nil
}

// ageErrors names age as the origin of its read errors (a damaged chunk).
type ageErrors struct{ r io.Reader }

func (a ageErrors) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("age: %w", err)
	}
	return n, err
}

// smallZstd compresses small objects whole (EncodeAll is safe for
// concurrent use): one encoder for the process, not one per object.
var smallZstd, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))

// SealBytes compresses and encrypts a small object (a binlog segment) in
// memory, as SealV2 would: OpenV2 reads it.
func SealBytes(data []byte, keys V2Keys) ([]byte, error) {
	if len(keys.Recipients) == 0 {
		return nil, errors.New("seal: no age recipients")
	}
	var out bytes.Buffer
	enc, err := age.Encrypt(&out, keys.Recipients...)
	if err != nil {
		return nil, fmt.Errorf("age: %w", err)
	}
	if _, err := enc.Write(smallZstd.EncodeAll(data, nil)); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
