package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// legacyArchive builds an encrypted archive of the given tar entries with
// the project's writer.
func legacyArchive(t *testing.T, pw []byte, d Digest, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewLegacyWriter(&buf, pw, d, Owner{User: "mysql-3309", Group: "mysql"})
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := w.AddReader(name, strings.NewReader(body), int64(len(body)), 0o640, time.Unix(1700000000, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var tops = []string{"mysql-3309-backup", "mysql-3309-binlog"}

func TestExtractLegacyRoundTripsWithEitherDigestDetected(t *testing.T) {
	pw := []byte("pw")
	for _, d := range []Digest{MD5, SHA256} {
		ar := legacyArchive(t, pw, d, map[string]string{"mysql-3309-backup/my.cnf": "[mysqld]\n", "mysql-3309-binlog/mysql-bin.index": "./mysql-bin.000001\n"})
		br := bufio.NewReader(bytes.NewReader(ar))
		got, err := DetectDigest(br, pw, other(d)) // the wrong one preferred
		if err != nil || got != d {
			t.Fatalf("detected %q, %v; want %q", got, err, d)
		}
		dir := t.TempDir()
		st, err := ExtractLegacy(br, pw, got, dir, tops)
		if err != nil || st.Files != 2 {
			t.Fatalf("extract: %+v %v", st, err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "mysql-3309-backup", "my.cnf")); string(b) != "[mysqld]\n" {
			t.Errorf("my.cnf = %q", b)
		}
	}
}

func TestDetectDigestReportsAWrongPassword(t *testing.T) {
	ar := legacyArchive(t, []byte("right"), MD5, map[string]string{"mysql-3309-backup/a": "x"})
	if _, err := DetectDigest(bufio.NewReader(bytes.NewReader(ar)), []byte("wrong"), MD5); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("got %v, want ErrWrongPassword", err)
	}
	if _, err := DetectDigest(bufio.NewReader(strings.NewReader("plain text, long enough to peek")), []byte("x"), MD5); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("plaintext: got %v", err)
	}
}

func TestExtractLegacyRejectsEntriesOutsideTheBackupDirs(t *testing.T) {
	pw := []byte("pw")
	for _, name := range []string{"../evil", "/etc/passwd", "other-dir/x", "mysql-3309-backup/../../x"} {
		ar := legacyArchive(t, pw, MD5, map[string]string{name: "x"})
		dir := t.TempDir()
		if _, err := ExtractLegacy(bytes.NewReader(ar), pw, MD5, dir, tops); err == nil || !strings.Contains(err.Error(), "unexpected entry") {
			t.Errorf("%q: got %v, want a refusal", name, err)
		}
	}
}

func TestExtractLegacyRejectsSymlinksAndTrailingData(t *testing.T) {
	pw := []byte("pw")
	// A tar with a symlink entry, gzipped and encrypted by hand.
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "mysql-3309-backup/l", Typeflag: tar.TypeSymlink, Linkname: "/etc"})
	tw.Close()
	var gzb bytes.Buffer
	gz := gzip.NewWriter(&gzb)
	gz.Write(tb.Bytes())
	gz.Close()
	for name, plain := range map[string][]byte{
		"symlink":            gzb.Bytes(),
		"bytes after gzip":   append(append([]byte{}, gzipOf(t, tarOf(t))...), "junk"...),
		"second gzip member": append(gzipOf(t, tarOf(t)), gzipOf(t, []byte("more"))...),
	} {
		var enc bytes.Buffer
		w, _ := Des3Encrypt(&enc, pw, MD5)
		w.Write(plain)
		w.Close()
		if _, err := ExtractLegacy(bytes.NewReader(enc.Bytes()), pw, MD5, t.TempDir(), tops); err == nil {
			t.Errorf("%s: extracted without error", name)
		}
	}
}

func tarOf(t *testing.T) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "mysql-3309-backup/a", Mode: 0o600, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("a"))
	tw.Close()
	return b.Bytes()
}

func gzipOf(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	gz := gzip.NewWriter(&out)
	gz.Write(b)
	gz.Close()
	return out.Bytes()
}
