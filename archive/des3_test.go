package archive

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"testing/iotest"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

// awkwardSizes straddle the block (8) and chunk (64 KiB) boundaries.
var awkwardSizes = []int{0, 1, 7, 8, 9, 15, 16, 17, chunk - 1, chunk, chunk + 1, 3*chunk + 5, parallelChunk - 8, parallelChunk, 3*parallelChunk + 13}

func payload(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(n)})
	r.Read(b)
	return b
}

func encrypt(t *testing.T, plain, pw []byte, d Digest) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := Des3Encrypt(&buf, pw, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, iotest.OneByteReader(bytes.NewReader(plain))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decrypt runs the serial and the parallel decryptor and fails the test
// unless both give the same plaintext or both fail with the same error.
func decrypt(t testing.TB, ct, pw []byte, d Digest) ([]byte, error) {
	t.Helper()
	serial, serr := func() ([]byte, error) {
		r, err := Des3Decrypt(iotest.HalfReader(bytes.NewReader(ct)), pw, d)
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	}()
	for _, workers := range []int{1, 3} {
		par, perr := func() ([]byte, error) {
			r, err := Des3DecryptParallel(iotest.HalfReader(bytes.NewReader(ct)), pw, d, workers)
			if err != nil {
				return nil, err
			}
			defer r.Close()
			return io.ReadAll(r)
		}()
		if !errors.Is(perr, serr) && (perr == nil || serr == nil || perr.Error() != serr.Error()) {
			t.Fatalf("%d workers: error %v, serial %v", workers, perr, serr)
		}
		if serr == nil && !bytes.Equal(par, serial) {
			t.Fatalf("%d workers: %d bytes differ from the serial %d", workers, len(par), len(serial))
		}
	}
	return serial, serr
}

func openssl(t *testing.T, in []byte, pwFile string, d Digest, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(testbed.Need(t, "openssl")[0], append([]string{"des3", "-md", string(d), "-pass", "file:" + pwFile}, args...)...)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %v: %v: %s", args, err, stderr.String())
	}
	return out
}

func pwFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "des3_password")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDes3InteroperatesWithOpenSSLBothWays(t *testing.T) {
	// The file has a second line and a trailing newline: only line one counts.
	pf := pwFile(t, "s3cr3t pass\nignored second line\n")
	pw, err := ReadPasswordFile(pf)
	if err != nil || string(pw) != "s3cr3t pass" {
		t.Fatalf("password %q, %v", pw, err)
	}
	for _, d := range []Digest{MD5, SHA256} {
		for _, n := range awkwardSizes {
			plain := payload(n)
			if got := openssl(t, encrypt(t, plain, pw, d), pf, d, "-d"); !bytes.Equal(got, plain) {
				t.Errorf("%s %d bytes: openssl decrypted %d bytes that differ", d, n, len(got))
			}
			got, err := decrypt(t, openssl(t, plain, pf, d), pw, d)
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("%s %d bytes: decrypting openssl's output gave %d bytes, %v", d, n, len(got), err)
			}
		}
	}
}

func TestDes3TruncatedCiphertextFailsInsteadOfDecryptingAPrefix(t *testing.T) {
	pw := []byte("pw")
	ct := encrypt(t, payload(2*parallelChunk+100), pw, MD5)
	for _, cut := range []int{1, 7, 8, 9, 4096, len(ct) - 17, len(ct) - 16 - parallelChunk} {
		_, err := decrypt(t, ct[:len(ct)-cut], pw, MD5)
		if err == nil {
			t.Errorf("cut %d bytes: decrypted without error", cut)
		}
	}
	if _, err := decrypt(t, ct[:10], pw, MD5); !errors.Is(err, ErrNotEncrypted) {
		t.Errorf("header cut: got %v, want ErrNotEncrypted", err)
	}
}

func TestDes3WrongPasswordOrDigestIsReported(t *testing.T) {
	// A fixed salt keeps this deterministic: with a random one a wrong key
	// gives valid-looking padding about once in 256 runs (restore also
	// checks the gzip header for that case).
	var buf bytes.Buffer
	w, err := des3EncryptSalted(&buf, []byte("right"), MD5, []byte("8bytesal"))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(payload(5000))
	w.Close()
	ct := buf.Bytes()
	for _, c := range []struct {
		pw string
		d  Digest
	}{{"wrong", MD5}, {"right", SHA256}} {
		if _, err := decrypt(t, ct, []byte(c.pw), c.d); !errors.Is(err, ErrBadPadding) {
			t.Errorf("%s/%s: got %v, want ErrBadPadding", c.pw, c.d, err)
		}
	}
	if _, err := decrypt(t, []byte("plain gzip, not encrypted"), []byte("x"), MD5); !errors.Is(err, ErrNotEncrypted) {
		t.Errorf("plaintext: got %v, want ErrNotEncrypted", err)
	}
}

func TestReadPasswordFileKeepsCarriageReturnAsOpenSSLDoes(t *testing.T) {
	pw, err := ReadPasswordFile(pwFile(t, "abc\r\nxyz"))
	if err != nil || string(pw) != "abc\r" {
		t.Errorf("got %q, %v; want \"abc\\r\"", pw, err)
	}
	if _, err := ReadPasswordFile(pwFile(t, "\nsecond")); err == nil {
		t.Error("empty first line accepted")
	}
}

func FuzzDes3RoundTrip(f *testing.F) {
	f.Add([]byte("hello"), []byte("pw"))
	f.Fuzz(func(t *testing.T, plain, pw []byte) {
		got, err := decrypt(t, encrypt(t, plain, pw, MD5), pw, MD5)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("round trip of %d bytes: %d bytes, %v", len(plain), len(got), err)
		}
	})
}

func TestParallelDecryptCloseMidStreamStopsItsGoroutines(t *testing.T) {
	ct := encrypt(t, payload(8*parallelChunk), []byte("pw"), MD5)
	before := runtime.NumGoroutine()
	r, err := Des3DecryptParallel(bytes.NewReader(ct), []byte("pw"), MD5, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	r.Close()
	for range 100 { // the goroutines exit promptly; give the scheduler a moment
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("%d goroutines after Close, %d before", runtime.NumGoroutine(), before)
}
