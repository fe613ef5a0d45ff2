package restore

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"filippo.io/age"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/s3/s3test"
)

// testConfig is the part of a config the source readers use.
func testConfig() *conf.Config {
	return &conf.Config{Des3Digest: "md5", BackupDataTail: "mysql-3306-backup", BackupBinlogTail: "mysql-3306-binlog"}
}

var quiet = progress.Reporter{Log: slog.New(slog.DiscardHandler)}

// backupEntries are the entries of a small backup that holds what a
// restore needs, with some bulk so that damage lands inside the stream.
func backupEntries(t *testing.T, tw *archive.TarWriter, cfg *conf.Config) {
	t.Helper()
	now := time.Now()
	bulk := bytes.Repeat([]byte("innodb page "), 20000)
	for name, body := range map[string][]byte{
		cfg.BackupDataTail + "/xtrabackup_binlog_info":     []byte("mysql-bin.000002\t1234\t0-1-7\n"),
		cfg.BackupDataTail + "/xtrabackup_info":            []byte("server_version = 10.11.6-MariaDB\n"),
		cfg.BackupDataTail + "/my.cnf":                     []byte("[mysqld]\nserver-id=1\n"),
		cfg.BackupDataTail + "/ibdata1":                    bulk,
		cfg.BackupBinlogTail + "/mysql-bin.index":          []byte("./mysql-bin.000002\n"),
		cfg.BackupBinlogTail + "/mysql-bin.000002":         bulk[:5000],
		cfg.BackupDataTail + "/app/t.ibd":                  bulk[:70000],
		cfg.BackupDataTail + "/mariadb_backup_checkpoints": []byte("backup_type = full-prepared\n"),
	} {
		if err := tw.AddReader(name, bytes.NewReader(body), int64(len(body)), 0o640, now); err != nil {
			t.Fatal(err)
		}
	}
}

// legacyArchive is a legacy archive of a small backup and its SHA-1.
func legacyArchive(t *testing.T, cfg *conf.Config, password []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	aw, err := archive.NewLegacyWriter(&buf, password, archive.MD5, archive.Owner{})
	if err != nil {
		t.Fatal(err)
	}
	backupEntries(t, aw.TarWriter, cfg)
	if err := aw.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(buf.Bytes())
	return buf.Bytes(), hex.EncodeToString(sum[:])
}

// legacyFrom is a legacy source reading data through a reader that
// returns half of what is asked each time, as a network stream may.
func legacyFrom(cfg *conf.Config, data []byte, sum string, password []byte) *legacySource {
	return &legacySource{
		name: "s3 key 2026_11_23/3306/mysql-3306.tgz.des3", bytes: int64(len(data)),
		open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(iotest.HalfReader(bytes.NewReader(data))), nil
		},
		algo: "sha1", sum: sum, password: password, cfg: cfg, progress: quiet,
	}
}

func flipByte(data []byte, at int) []byte {
	out := bytes.Clone(data)
	out[at] ^= 0x40
	return out
}

func TestLegacySourceNamesEachKindOfDamage(t *testing.T) {
	cfg := testConfig()
	password := []byte("des3 pass phrase")
	data, sum := legacyArchive(t, cfg, password)
	ok, err := legacyFrom(cfg, data, sum, password).verify(t.Context())
	if err != nil || !strings.Contains(ok, "sha1:"+sum) {
		t.Fatalf("intact archive: %q, %v", ok, err)
	}
	for _, c := range []struct {
		name     string
		data     []byte
		sum      string
		password []byte
		want     string
		corrupt  bool
	}{
		{"flipped byte", flipByte(data, len(data)/2), sum, password, "the stored archive is corrupt", true},
		{"flipped byte in the last block", flipByte(data, len(data)-3), sum, password, "checksum mismatch", true},
		{"truncated", data[:len(data)*2/3], sum, password, "the stored archive is corrupt", true},
		{"wrong password", data, sum, []byte("another pass phrase"), "wrong des3 password", false},
		{"no checksum recorded, flipped byte", flipByte(data, len(data)/2), "", password, "s3 key 2026_11_23/3306/mysql-3306.tgz.des3: ", false},
	} {
		src := legacyFrom(cfg, c.data, c.sum, c.password)
		if c.sum == "" {
			src.algo = ""
		}
		_, err := src.verify(t.Context())
		t.Logf("%s: %v", c.name, err)
		switch {
		case err == nil:
			t.Errorf("%s: verify passed", c.name)
		case !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: %v, want it to say %q", c.name, err, c.want)
		case errors.Is(err, catalog.ErrChecksumMismatch) != c.corrupt:
			t.Errorf("%s: %v: is a checksum mismatch = %v, want %v", c.name, err, !c.corrupt, c.corrupt)
		}
	}
}

func TestLegacySourceRefusesAnArchiveThatLacksWhatARestoreNeeds(t *testing.T) {
	cfg := testConfig()
	password := []byte("pw")
	var buf bytes.Buffer
	aw, err := archive.NewLegacyWriter(&buf, password, archive.MD5, archive.Owner{})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("x")
	if err := aw.AddReader(cfg.BackupDataTail+"/ibdata1", bytes.NewReader(body), 1, 0o640, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := aw.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(buf.Bytes())
	_, err = legacyFrom(cfg, buf.Bytes(), hex.EncodeToString(sum[:]), password).verify(t.Context())
	if err == nil || !strings.Contains(err.Error(), "lacks mysql-3306-backup/xtrabackup_binlog_info") || !strings.Contains(err.Error(), "mysql-3306-binlog/*.index") {
		t.Errorf("verify of an archive without position file and index: %v", err)
	}
}

// v2Backup stores one object of role binlogs (the tar of a small backup)
// in a memory store and returns the source reading it with opening.
func v2Backup(t *testing.T, sealing archive.V2Keys) (*v2Source, *s3test.Mem, string) {
	t.Helper()
	cfg := testConfig()
	st := &s3test.Mem{}
	key := "2026_11_23/3306/mysql-3306.v2/run/" + catalog.ObjectNames[catalog.RoleBinlogs]
	pw := catalog.NewPieceWriter(t.Context(), st, key, 1<<20)
	sw, err := archive.SealV2(pw, sealing)
	if err != nil {
		t.Fatal(err)
	}
	var plain progress.Counter
	tw := archive.NewTarWriter(io.MultiWriter(sw, &plain), archive.Owner{})
	backupEntries(t, tw, cfg)
	if err := errors.Join(tw.Close(), sw.Close(), pw.Close()); err != nil {
		t.Fatal(err)
	}
	o := catalog.Object{Role: catalog.RoleBinlogs, Key: key, Size: pw.Size(), SHA256: pw.SHA256(), PlainSize: plain.N()}
	v := &v2Source{st: st, prefix: "2026_11_23/3306/mysql-3306.v2/", cfg: cfg, progress: quiet,
		manifest: catalog.Manifest{Encryption: "age-x25519", Objects: []catalog.Object{o}}}
	return v, st, key
}

func TestV2SourceNamesEachKindOfDamage(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	sealing := archive.V2Keys{Recipients: []age.Recipient{id.Recipient()}, Kind: "x25519"}
	opening := archive.V2Keys{Identities: []age.Identity{id}, Kind: "x25519"}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	readTar := func(v *v2Source) error {
		return v.read(t.Context(), quiet, catalog.RoleBinlogs, func(in io.Reader) error {
			_, err := archive.ReadTar(iotest.OneByteReader(in), []string{v.cfg.BackupBinlogTail, v.cfg.BackupDataTail}, func(_ string, _ *tar.Header, body io.Reader) error {
				_, err := io.Copy(io.Discard, body)
				return err
			})
			return err
		})
	}
	v, _, _ := v2Backup(t, sealing)
	v.keys = opening
	if err := readTar(v); err != nil {
		t.Fatalf("intact object: %v", err)
	}
	for _, c := range []struct {
		name    string
		damage  func([]byte) []byte
		keys    archive.V2Keys
		want    string
		corrupt bool
	}{
		{"flipped byte", func(b []byte) []byte { return flipByte(b, len(b)/2) }, opening, "the stored object is corrupt", true},
		{"truncated", func(b []byte) []byte { return b[:len(b)*2/3] }, opening, "truncated or replaced", false},
		{"wrong key", nil, archive.V2Keys{Identities: []age.Identity{other}, Kind: "x25519"}, "(encrypted with age-x25519)", false},
	} {
		v, st, key := v2Backup(t, sealing)
		v.keys = c.keys
		if c.damage != nil {
			st.Corrupt(key, c.damage)
		}
		err := readTar(v)
		t.Logf("%s: %v", c.name, err)
		switch {
		case err == nil:
			t.Errorf("%s: read passed", c.name)
		case !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: %v, want it to say %q", c.name, err, c.want)
		case errors.Is(err, catalog.ErrChecksumMismatch) != c.corrupt:
			t.Errorf("%s: %v: is a checksum mismatch = %v, want %v", c.name, err, !c.corrupt, c.corrupt)
		}
	}
}

func TestRunAllCancelsTheOthersAtTheFirstFailureAndKeepsTheTerminalForTheFirst(t *testing.T) {
	var term bytes.Buffer
	rep := progress.Reporter{Log: quiet.Log, Term: &term}
	boom := errors.New("binlogs: boom")
	var terms [3]bool
	err := runAll(t.Context(), rep,
		func(ctx context.Context, r progress.Reporter) error {
			terms[0] = r.Term != nil
			<-ctx.Done() // a long download, stopped by the failure beside it
			return ctx.Err()
		},
		func(_ context.Context, r progress.Reporter) error { terms[1] = r.Term != nil; return boom },
		func(_ context.Context, r progress.Reporter) error { terms[2] = r.Term != nil; return nil },
	)
	if !errors.Is(err, boom) {
		t.Errorf("runAll returned %v, want the first failure", err)
	}
	if terms != [3]bool{true, false, false} {
		t.Errorf("terminal given to %v, want the first only", terms)
	}
}

func TestLatestRefusesToFallBackPastAnUnreadableNewestBackup(t *testing.T) {
	mem := &s3test.Mem{}
	cfg := &conf.Config{Port: "3306", S3Bucket: "b"}
	put := func(key string, body string) {
		if err := mem.Put(t.Context(), key, strings.NewReader(body), map[string]string{"sha1": "00"}); err != nil {
			t.Fatal(err)
		}
	}
	put("2026_11_20/3306/mysql-3306.tgz.des3", "older")
	manifest := catalog.V2Prefix("2026_11_21", "3306") + catalog.ManifestName
	put(manifest, `{"format_version": 2}`)
	mem.Fail = func(op, key string) error {
		if op == "get" && key == manifest {
			return s3test.Fault
		}
		return nil
	}
	b, err := latest(t.Context(), mem, cfg)
	if err == nil || !strings.Contains(err.Error(), "not falling back") || !strings.Contains(err.Error(), manifest+": 503") {
		t.Errorf("latest: %q, %v; want an error naming the unreadable manifest of 2026_11_21", b.Key, err)
	}
}
