package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/cipher"
	"crypto/des"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// ErrWrongPassword means no digest turns the archive's first block into a
// gzip header: the password is wrong, or the file is not such an archive.
var ErrWrongPassword = errors.New("wrong des3 password or not an encrypted archive")

var gzipMagic = []byte{0x1f, 0x8b}

// DetectDigest peeks at the start of an encrypted archive and returns the
// digest, trying preferred first, whose key decrypts the first block to a
// gzip header. r is not advanced.
func DetectDigest(r *bufio.Reader, password []byte, preferred Digest) (Digest, error) {
	head, err := r.Peek(16 + blockSize)
	if err != nil || string(head[:8]) != saltMagic {
		return "", fmt.Errorf("%w (%v)", ErrWrongPassword, ErrNotEncrypted)
	}
	for _, d := range []Digest{preferred, other(preferred)} {
		key, iv := bytesToKey(d, password, head[8:16])
		block, err := des.NewTripleDESCipher(key)
		if err != nil {
			return "", err
		}
		plain := make([]byte, blockSize)
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, head[16:])
		if bytes.HasPrefix(plain, gzipMagic) {
			return d, nil
		}
	}
	return "", ErrWrongPassword
}

func other(d Digest) Digest {
	if d == SHA256 {
		return MD5
	}
	return SHA256
}

// ExtractStats counts what an extraction wrote.
type ExtractStats struct {
	Files int
	Bytes int64
}

// ExtractLegacy decrypts, decompresses and unpacks a legacy archive into
// dir. Only entries under the top-level directories tops are accepted, and
// only directories and regular files. It reads r to its very end: the
// gzip trailer and the des3 padding are checked, and bytes after the tar
// end are an error, so a truncated or extended archive fails.
func ExtractLegacy(r io.Reader, password []byte, d Digest, dir string, tops []string) (ExtractStats, error) {
	as := map[string]string{}
	for _, t := range tops {
		as[t] = t
	}
	return ExtractLegacyAs(r, password, d, dir, as)
}

// ExtractLegacyAs is ExtractLegacy with each top dir of the archive (a
// key of as) unpacked under another name (its value): a legacy archive's
// paths name its port, and a copy restored into another port unpacks
// them under its own.
func ExtractLegacyAs(r io.Reader, password []byte, d Digest, dir string, as map[string]string) (ExtractStats, error) {
	tops := make([]string, 0, len(as))
	for t := range as {
		tops = append(tops, t)
	}
	return ReadLegacy(r, password, d, tops, func(name string, h *tar.Header, body io.Reader) error {
		top, rest, _ := strings.Cut(name, "/")
		return writeEntry(body, h, filepath.Join(dir, as[top], filepath.FromSlash(rest)))
	})
}

// ReadLegacy decrypts and decompresses a legacy archive and hands each
// checked entry (a clean name below one of tops) to visit, reading the
// stream to its very end as ExtractLegacy describes.
func ReadLegacy(r io.Reader, password []byte, d Digest, tops []string, visit func(name string, h *tar.Header, body io.Reader) error) (ExtractStats, error) {
	// Decryption, unlike encryption, runs on every core: it bounds restore.
	plain, err := Des3DecryptParallel(r, password, d, runtime.GOMAXPROCS(0))
	if err != nil {
		return ExtractStats{}, err
	}
	defer plain.Close()
	// Regression: the check for bytes after the gzip stream must read this
	// buffered reader, which has already pulled them from plain.
	buffered := bufio.NewReaderSize(plain, 1<<20)
	gz, err := gzip.NewReader(buffered)
	if err != nil {
		return ExtractStats{}, fmt.Errorf("gunzip: %w", err)
	}
	gz.Multistream(false)
	st, err := untar(tar.NewReader(gz), tops, visit)
	if err != nil {
		return st, err
	}
	// tar stops at its end-of-archive blocks; gzip may hold padding after
	// them. Read to the gzip end to check its CRC, then nothing may follow.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return st, fmt.Errorf("gunzip: %w", err)
	}
	if n, err := io.Copy(io.Discard, buffered); err != nil {
		return st, err
	} else if n > 0 {
		return st, fmt.Errorf("archive has %d bytes after the gzip stream", n)
	}
	return st, nil
}

// ReadTar reads a plain tar stream (a v2 object's plaintext) to its very
// end, handing each checked entry below tops to visit. After the tar end
// only zero padding may follow.
func ReadTar(r io.Reader, tops []string, visit func(name string, h *tar.Header, body io.Reader) error) (ExtractStats, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	st, err := untar(tar.NewReader(br), tops, visit)
	if err != nil {
		return st, err
	}
	var rest [4096]byte
	for {
		n, err := br.Read(rest[:])
		if bytes.ContainsFunc(rest[:n], func(r rune) bool { return r != 0 }) {
			return st, errors.New("untar: data after the end of the tar")
		}
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		if err != nil {
			return st, err
		}
	}
}

// ExtractTar unpacks a plain tar stream into dir as ReadTar reads it.
func ExtractTar(r io.Reader, dir string, tops []string) (ExtractStats, error) {
	return ReadTar(r, tops, func(name string, h *tar.Header, body io.Reader) error {
		return writeEntry(body, h, filepath.Join(dir, filepath.FromSlash(name)))
	})
}

// ExtractTarAs unpacks a plain tar stream into dir as ExtractTar does,
// each entry's top-level directory (one of tops) renamed to as: the tar
// of a backup of another port, restored into this one.
func ExtractTarAs(r io.Reader, dir string, tops []string, as string) (ExtractStats, error) {
	return ReadTar(r, tops, func(name string, h *tar.Header, body io.Reader) error {
		_, rest, _ := strings.Cut(name, "/")
		return writeEntry(body, h, filepath.Join(dir, as, filepath.FromSlash(rest)))
	})
}

func untar(tr *tar.Reader, tops []string, visit func(string, *tar.Header, io.Reader) error) (ExtractStats, error) {
	var st ExtractStats
	allowed := map[string]bool{}
	for _, t := range tops {
		allowed[t] = true
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("untar: %w", err)
		}
		name, err := safeName(h.Name, allowed)
		if err != nil {
			return st, err
		}
		if err := visit(name, h, tr); err != nil {
			return st, err
		}
		if h.Typeflag == tar.TypeReg {
			st.Files++
			st.Bytes += h.Size
		}
	}
}

// safeName cleans an entry name and checks it stays below an allowed
// top-level directory.
func safeName(name string, allowed map[string]bool) (string, error) {
	clean := path.Clean(strings.TrimPrefix(name, "./"))
	top, _, _ := strings.Cut(clean, "/")
	if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || !allowed[top] {
		return "", fmt.Errorf("untar: unexpected entry %q (want only %s)", name, strings.Join(keys(allowed), ", "))
	}
	return clean, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k+"/")
	}
	return out
}

func writeEntry(tr io.Reader, h *tar.Header, target string) error {
	mode := os.FileMode(h.Mode).Perm()
	switch h.Typeflag {
	case tar.TypeDir:
		if err := os.MkdirAll(target, max(mode, 0o700)); err != nil {
			return fmt.Errorf("untar: %w", err)
		}
		return nil
	case tar.TypeReg:
		if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
			return fmt.Errorf("untar: %w", err)
		}
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return fmt.Errorf("untar: %w", err)
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("untar %s: %w", h.Name, err)
		}
		return os.Chtimes(target, time.Time{}, h.ModTime)
	}
	return fmt.Errorf("untar: entry %q of type %q: only directories and regular files belong in a backup", h.Name, h.Typeflag)
}
