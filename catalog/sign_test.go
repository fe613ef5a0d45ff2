package catalog

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/s3/s3test"
)

const signPrefix = "2026_11_23/3306/mysql-3306.v2/"

// signedManifest is a manifest that passes Check, of run "run1".
func signedManifest() *Manifest {
	sum := strings.Repeat("ab", 32)
	m := &Manifest{FormatVersion: ManifestVersion, Run: "run1", BinlogFile: "mysql-bin.000002", BinlogPos: 4}
	for _, role := range []string{RoleData, RoleBinlogs, RoleMyCnf} {
		m.Objects = append(m.Objects, Object{Role: role, Key: signPrefix + "run1/" + ObjectNames[role], Size: 10, SHA256: sum})
	}
	return m
}

func newSigner(t *testing.T) (*Signer, VerifyKey) {
	t.Helper()
	secret, public, err := NewSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/sign.key"
	if err := writeFile(path, "# comment\n"+secret+"\n"); err != nil {
		t.Fatal(err)
	}
	s, err := ReadSigner(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseVerifyKey(public)
	if err != nil || s.Public() != public {
		t.Fatalf("public key %q of the signer, %q printed: %v", s.Public(), public, err)
	}
	return s, k
}

func TestASignedManifestReadsBackWithItsPinnedKey(t *testing.T) {
	st := &s3test.Mem{}
	signer, key := newSigner(t)
	if err := PutManifest(t.Context(), st, signPrefix, signedManifest(), signer); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(t.Context(), st, signPrefix, []VerifyKey{key})
	if err != nil || m.Run != "run1" {
		t.Fatalf("ReadManifest: %+v, %v", m.Run, err)
	}
}

func TestReadManifestRefusesUnsignedForgedAndForeignManifests(t *testing.T) {
	signer, key := newSigner(t)
	other, _ := newSigner(t)
	for _, c := range []struct {
		name   string
		put    func(st *s3test.Mem)
		want   string
		signed bool
	}{
		{"unsigned", func(st *s3test.Mem) {
			PutManifest(t.Context(), st, signPrefix, signedManifest(), nil)
		}, "is not signed", true},
		{"signed by another key", func(st *s3test.Mem) {
			PutManifest(t.Context(), st, signPrefix, signedManifest(), other)
		}, "not signed by any key of backup_verify_keys", true},
		{"changed after signing", func(st *s3test.Mem) {
			PutManifest(t.Context(), st, signPrefix, signedManifest(), signer)
			st.Corrupt(signPrefix+ManifestName, func(b []byte) []byte {
				return bytes.Replace(b, []byte(`"binlog_pos": 4`), []byte(`"binlog_pos": 5`), 1)
			})
		}, "not signed by any key", true},
		{"objects of another run", func(st *s3test.Mem) {
			m := signedManifest()
			m.Objects[0].Key = "2026_11_22/3306/mysql-3306.v2/old/" + ObjectNames[RoleData]
			PutManifest(t.Context(), st, signPrefix, m, signer)
		}, "outside its run directory", false},
		{"a run that climbs out", func(st *s3test.Mem) {
			m := signedManifest()
			m.Run = ".."
			PutManifest(t.Context(), st, signPrefix, m, signer)
		}, "not a run directory name", false},
	} {
		st := &s3test.Mem{}
		c.put(st)
		_, err := ReadManifest(t.Context(), st, signPrefix, []VerifyKey{key})
		if err == nil || !strings.Contains(err.Error(), c.want) || errors.Is(err, ErrSignature) != c.signed {
			t.Errorf("%s: %v, want %q (a signature error: %v)", c.name, err, c.want, c.signed)
		}
		if !c.signed { // refused without pinned keys too
			if _, err := ReadManifest(t.Context(), st, signPrefix, nil); err == nil {
				t.Errorf("%s: read without pinned keys", c.name)
			}
		}
	}
}

func TestParseVerifyKeyNamesWhatIsWrong(t *testing.T) {
	for _, s := range []string{"age1qqq", "ed25519:AAAA", "ed25519:not base64!"} {
		if _, err := ParseVerifyKey(s); err == nil || !strings.Contains(err.Error(), "ed25519 public key") {
			t.Errorf("ParseVerifyKey(%q): %v", s, err)
		}
	}
}

func writeFile(path, body string) error { return os.WriteFile(path, []byte(body), 0o600) }
