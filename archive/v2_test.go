package archive

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

func x25519Keys(t *testing.T) (sealKeys, openKeys V2Keys) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	sealKeys, err = RecipientKeys([]string{id.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(path, []byte("# created: now\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	openKeys, err = IdentityFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sealKeys, openKeys
}

func seal(t *testing.T, keys V2Keys, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := SealV2(&buf, keys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(keys V2Keys, sealed []byte) ([]byte, error) {
	r, err := OpenV2(bytes.NewReader(sealed), keys)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// compressible test data: text with some randomness.
func sample(n int) []byte {
	var b bytes.Buffer
	rnd := make([]byte, 16)
	for b.Len() < n {
		rand.Read(rnd)
		b.WriteString("row ")
		b.Write(rnd[:4])
		b.WriteString(strings.Repeat(" value", 20))
		b.WriteByte('\n')
	}
	return b.Bytes()[:n]
}

func TestV2SealOpenRoundTripsWithPublicKeysAndWithAPassphrase(t *testing.T) {
	plain := sample(3 << 20)
	sk, ok := x25519Keys(t)
	pass := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pass, []byte("correct horse\n"), 0o600)
	pk, err := PassphraseFile(pass)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name       string
		seal, open V2Keys
	}{{"x25519", sk, ok}, {"scrypt", pk, pk}} {
		sealed := seal(t, c.seal, plain)
		if len(sealed) >= len(plain)/2 {
			t.Errorf("%s: %d bytes sealed from %d: not compressed", c.name, len(sealed), len(plain))
		}
		got, err := open(c.open, sealed)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%s: open: %v (equal %v)", c.name, err, bytes.Equal(got, plain))
		}
	}
}

func TestV2OpenFailsOnWrongKeyFlippedByteTruncationAndAppendedBytes(t *testing.T) {
	sk, ok := x25519Keys(t)
	_, other := x25519Keys(t)
	sealed := seal(t, sk, sample(1<<20))
	if _, err := open(other, sealed); !errors.Is(err, ErrWrongKey) {
		t.Errorf("wrong key: got %v, want ErrWrongKey", err)
	}
	for name, damaged := range map[string][]byte{
		"flipped byte":  flip(sealed, len(sealed)/2),
		"truncated":     sealed[:len(sealed)-100],
		"cut at chunk":  sealed[:len(sealed)/2],
		"appended byte": append(append([]byte{}, sealed...), 0),
	} {
		if _, err := open(ok, damaged); err == nil {
			t.Errorf("%s: opened without error", name)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	c[i] ^= 0x40
	return c
}

func TestPassphraseFileRefusesAnEmptyFirstLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(p, []byte("\nsecond\n"), 0o600)
	if _, err := PassphraseFile(p); err == nil || !strings.Contains(err.Error(), "first line is empty") {
		t.Errorf("got %v", err)
	}
	if _, err := RecipientKeys([]string{"age1notakey"}); err == nil {
		t.Error("a malformed recipient was accepted")
	}
}

func TestReadTarRefusesDataAfterTheEnd(t *testing.T) {
	var buf bytes.Buffer
	tw := NewTarWriter(&buf, Owner{User: "root", Group: "root"})
	if err := tw.AddReader("bin/a", strings.NewReader("abc"), 3, 0o640, time.Now()); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	seen := map[string]string{}
	visit := func(name string, h *tar.Header, body io.Reader) error {
		b, err := io.ReadAll(body)
		seen[name] = string(b)
		return err
	}
	padded := append(append([]byte{}, buf.Bytes()...), make([]byte, 9216)...)
	if _, err := ReadTar(bytes.NewReader(padded), []string{"bin"}, visit); err != nil || seen["bin/a"] != "abc" {
		t.Fatalf("zero padding: %v %q", err, seen)
	}
	if _, err := ReadTar(bytes.NewReader(append(padded, 'x')), []string{"bin"}, visit); err == nil {
		t.Error("data after the tar end was accepted")
	}
}

// mbstreamOf streams files with the real mbstream -c.
func mbstreamOf(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	bin := testbed.Need(t, "mbstream")[0]
	dir := t.TempDir()
	var names []string
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	sort.Strings(names) // the last file has a payload: cutting its end chunk must show
	cmd := exec.Command(bin, append([]string{"-c", "-C", dir}, names...)...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mbstream -c: %v: %s", err, stderr.String())
	}
	return out.Bytes()
}

func TestReadXbstreamReadsWhatMbstreamWritesAndCatchesDamage(t *testing.T) {
	files := map[string][]byte{
		"ibdata1":                sample(25 << 20 / 10),
		"app/t.ibd":              sample(100 << 10),
		"xtrabackup_binlog_info": []byte("mysql-bin.000002\t1234\t0-1-7\n"),
		"empty":                  {},
	}
	stream := mbstreamOf(t, files)
	got := map[string][]byte{}
	st, err := ReadXbstream(bytes.NewReader(stream), func(name string, off int64, data []byte) error {
		if int64(len(got[name])) != off {
			t.Errorf("%s: chunk at %d after %d bytes", name, off, len(got[name]))
		}
		got[name] = append(got[name], data...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != len(files) {
		t.Errorf("files: %d, want %d", st.Files, len(files))
	}
	for name, body := range files {
		if !bytes.Equal(got[name], body) {
			t.Errorf("%s: %d bytes read, want %d", name, len(got[name]), len(body))
		}
	}
	small := SmallFiles{Want: map[string]bool{"xtrabackup_binlog_info": true}}
	if _, err := ReadXbstream(bytes.NewReader(stream), small.Visit); err != nil || string(small.Files["xtrabackup_binlog_info"]) != string(files["xtrabackup_binlog_info"]) {
		t.Errorf("small files: %v %q", err, small.Files)
	}
	for name, damaged := range map[string][]byte{
		"flipped payload byte": flip(stream, len(stream)/2),
		"truncated":            stream[:len(stream)-10],
		"without its last end": stream[:bytes.LastIndex(stream, []byte(xbMagic))],
		"garbage appended":     append(append([]byte{}, stream...), "junk"...),
	} {
		if _, err := ReadXbstream(bytes.NewReader(damaged), nil); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
}

func TestParallelZstdFramesReadBackAsOneStreamInOrder(t *testing.T) {
	for _, size := range []int{0, 1, zstdChunk - 1, zstdChunk, 3*zstdChunk + 12345} {
		plain := sample(size)
		var buf bytes.Buffer
		z, err := newParallelZstd(&buf, 2, zstdChunk)
		if err != nil {
			t.Fatal(err)
		}
		for p := plain; len(p) > 0; { // odd write sizes across chunk ends
			n := min(len(p), 1<<20+7)
			if _, err := z.Write(p[:n]); err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
		zr, err := zstd.NewReader(&buf)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		zr.Close()
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("size %d: read back %d bytes, err %v, equal %v", size, len(got), err, bytes.Equal(got, plain))
		}
	}
}

func TestReadXbstreamRefusesNamesOutsideTheTarget(t *testing.T) {
	for _, name := range []string{"../evil", "/etc/cron.d/x", "a/../../b", "."} {
		var b bytes.Buffer
		payload := []byte("x")
		b.WriteString(xbMagic)
		b.Write([]byte{0, xbPayload})
		binary.Write(&b, binary.LittleEndian, uint32(len(name)))
		b.WriteString(name)
		binary.Write(&b, binary.LittleEndian, uint64(len(payload)))
		binary.Write(&b, binary.LittleEndian, uint64(0))
		binary.Write(&b, binary.LittleEndian, crc32.ChecksumIEEE(payload))
		b.Write(payload)
		if _, err := ReadXbstream(&b, nil); err == nil || !strings.Contains(err.Error(), "unsafe path") {
			t.Errorf("%q: got %v, want an unsafe path error", name, err)
		}
	}
}

func TestSealBytesIsReadByOpenV2(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("binlog event "), 1000)
	sealed, err := SealBytes(data, V2Keys{Recipients: []age.Recipient{id.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenV2(bytes.NewReader(sealed), V2Keys{Identities: []age.Identity{id}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("opened %d bytes, %v; want the %d sealed", len(got), err, len(data))
	}
}
