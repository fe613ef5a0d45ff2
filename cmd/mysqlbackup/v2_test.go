package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// v2Conf writes an age key pair into the instance's conf_base and returns
// the configuration of v2 backups encrypted to it.
func v2Conf(t *testing.T, in *testbed.Instance) string {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in.ConfBase, "age.key"), []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("archive_format: v2\nencryption_recipients:\n  - %s\nencryption_identity_file: age.key\nparallel: 2\n", id.Recipient())
}

func TestV2RestoreAndCatchupRecoverWhatOnlyThePeersHold(t *testing.T) {
	restoreAndCatchupScenario(t, func(in *testbed.Instance) string { return v2Conf(t, in) })
}

// listBackups lists the port's backups through the CLI.
func listBackups(t *testing.T, confPath string) []catalog.Backup {
	t.Helper()
	r := runCLI(t, "--conf-path", confPath, "list", "--json")
	var doc struct{ Backups []catalog.Backup }
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 {
		t.Fatalf("list: exit %d, %v: %s %s", r.code, err, r.stdout, lastLine(r.stderr))
	}
	return doc.Backups
}

func describe(bs []catalog.Backup) string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Describe())
	}
	return strings.Join(out, "\n")
}

func TestV2CatalogueListsBothFormatsAndVerifyCatchesEveryDefect(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	st := m.Store()
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(32))", "INSERT INTO app.t VALUES (1, 'A')")
	backupAt := func(confPath, date string) {
		t.Helper()
		if r := runCLI(t, "--conf-path", confPath, "--date-str", date, "backup"); r.code != 0 {
			t.Fatalf("backup %s: exit %d: %s", date, r.code, lastLine(r.stderr))
		}
	}
	legacyConf := instanceConf(t, in, m, "purge_binlog_days: 0\n")
	backupAt(legacyConf, "2026_11_19")
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nretention_count: 1\n"+v2Conf(t, in))
	backupAt(confPath, "2026_11_20")
	in.Exec("INSERT INTO app.t VALUES (2, 'B')")
	backupAt(confPath, "2026_11_21")

	bs := listBackups(t, confPath)
	if len(bs) != 3 || bs[0].Format != "legacy" || bs[1].Format != "v2" || bs[2].Format != "v2" || bs[2].Date != "2026_11_21" {
		t.Fatalf("list:\n%s\nwant legacy 19, v2 20 and 21", describe(bs))
	}
	for _, b := range bs[1:] {
		if !b.Complete || !strings.HasPrefix(b.Checksum, "sha256:") || !strings.HasPrefix(b.Position, "mysql-bin.") || b.GTID == "" || b.Size == 0 || b.Host == "" {
			t.Errorf("v2 backup %+v lacks checksum, position, GTID, size or host", b)
		}
	}
	if r := runCLI(t, "--conf-path", confPath, "--date-str", "latest", "verify"); r.code != 0 || !strings.Contains(r.stdout, "format=v2") {
		t.Fatalf("verify latest: exit %d: %s %s", r.code, r.stdout, lastLine(r.stderr))
	}
	if r := runCLI(t, "--conf-path", confPath, "--date-str", "2026_11_19", "verify"); r.code != 0 || !strings.Contains(r.stdout, "tgz.des3") {
		t.Fatalf("verify of the legacy backup with the v2 config: exit %d: %s %s", r.code, r.stdout, lastLine(r.stderr))
	}

	var manifest catalog.Manifest
	if err := json.Unmarshal(getObject(t, m, catalog.V2Prefix("2026_11_21", fmt.Sprint(in.Port))+catalog.ManifestName), &manifest); err != nil {
		t.Fatal(err)
	}
	keyOf := func(role string) string { o, _ := manifest.Object(role); return o.Key }
	put := func(k string, body []byte) {
		t.Helper()
		if err := st.Put(t.Context(), k, bytes.NewReader(body), nil); err != nil {
			t.Fatal(err)
		}
	}
	verify := func() (int, string) {
		r := runCLI(t, "--conf-path", confPath, "--date-str", "2026_11_21", "verify")
		return r.code, lastLine(r.stderr)
	}
	for _, role := range []string{catalog.RoleData, catalog.RoleBinlogs, catalog.RoleMyCnf} {
		good := getObject(t, m, keyOf(role))
		for _, c := range []struct {
			name string
			body []byte // nil: the object is deleted
			want string
		}{
			{"flipped byte", flipByte(good, len(good)*2/3), "checksum mismatch: sha256 of " + keyOf(role)},
			{"truncated", good[:len(good)-7], "the manifest says"},
			{"missing", nil, "listed in the manifest, is missing"},
		} {
			if c.body == nil {
				st.Delete(t.Context(), keyOf(role))
			} else {
				put(keyOf(role), c.body)
			}
			if code, line := verify(); code != 1 || !strings.Contains(line, c.want) {
				t.Errorf("%s object, %s: exit %d, %q; want exit 1 and %q", role, c.name, code, line, c.want)
			}
			put(keyOf(role), good)
		}
	}
	if code, line := verify(); code != 0 {
		t.Fatalf("the repaired backup fails verify: %s", line)
	}
	keyFile := filepath.Join(in.ConfBase, "age.key")
	good, _ := os.ReadFile(keyFile)
	other, _ := age.GenerateX25519Identity()
	os.WriteFile(keyFile, []byte(other.String()+"\n"), 0o600)
	code, line := verify()
	os.WriteFile(keyFile, good, 0o600)
	if code != 1 || !strings.Contains(line, "wrong key") {
		t.Errorf("wrong key: exit %d, %q", code, line)
	}

	t.Run("PruneKeepsTheNewestAcrossFormats", func(t *testing.T) {
		r := runCLI(t, "--conf-path", confPath, "prune", "--dry-run")
		if r.code != 0 || strings.Count(r.stdout, "would remove") != 2 || strings.Contains(r.stdout, "2026_11_21") {
			t.Fatalf("dry run: exit %d:\n%s", r.code, r.stdout)
		}
		if len(listBackups(t, confPath)) != 3 {
			t.Fatal("--dry-run removed something")
		}
		if r := runCLI(t, "--conf-path", confPath, "prune"); r.code != 0 || strings.Count(r.stdout, "removed") != 2 {
			t.Fatalf("prune: exit %d:\n%s %s", r.code, r.stdout, lastLine(r.stderr))
		}
		if bs := listBackups(t, confPath); len(bs) != 1 || bs[0].Date != "2026_11_21" {
			t.Errorf("after prune:\n%s\nwant only 2026_11_21", describe(bs))
		}
		objs, _ := st.List(t.Context(), "2026_11_20/")
		if len(objs) != 0 {
			t.Errorf("objects of the pruned v2 backup left: %v", objs)
		}
	})
}

func flipByte(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	c[i] ^= 0x10
	return c
}

func TestV2BackupKilledMidStreamIsIncompleteSkippedByLatestAndPruned(t *testing.T) {
	in, m, _, _ := bigInstance(t)
	st := m.Store()
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nretention_count: 5\nclean_after_restore: true\n"+v2Conf(t, in))
	// One 5 MiB part per piece: the 48 MiB data object goes in pieces,
	// which the restore below reads back as one stream.
	defer func(n int64) { catalog.PiecePartsMax = n }(catalog.PiecePartsMax)
	catalog.PiecePartsMax = 1
	if r := runCLI(t, "--conf-path", confPath, "--date-str", "2026_11_20", "backup"); r.code != 0 {
		t.Fatalf("backup: exit %d: %s", r.code, lastLine(r.stderr))
	}
	var manifest catalog.Manifest
	if err := json.Unmarshal(getObject(t, m, catalog.V2Prefix("2026_11_20", fmt.Sprint(in.Port))+catalog.ManifestName), &manifest); err != nil {
		t.Fatal(err)
	}
	if data, _ := manifest.Object(catalog.RoleData); len(data.Pieces) < 9 {
		t.Fatalf("data object in %d pieces, want at least 9 of 5 MiB", len(data.Pieces))
	}
	prefix := catalog.V2Prefix(testDate, fmt.Sprint(in.Port))
	cmd, exited, dataKey := startV2BackupUntilUploading(t, st, confPath, prefix)
	cmd.Process.Kill()
	<-exited

	bs := listBackups(t, confPath)
	if len(bs) != 2 || !bs[0].Complete || bs[1].Complete || bs[1].Date != testDate || bs[1].Format != "v2" {
		t.Fatalf("list after the kill:\n%s\nwant 2026_11_20 complete and %s incomplete", describe(bs), testDate)
	}
	if r := runCLI(t, "--conf-path", confPath, "verify"); r.code != 1 || !strings.Contains(lastLine(r.stderr), "dates with a backup of port") {
		t.Errorf("verify of the killed run: exit %d, %q; want no such backup", r.code, lastLine(r.stderr))
	}
	wipe(t, in)
	r := runCLI(t, "--conf-path", confPath, "--date-str", "latest", "restore")
	if r.code != 0 || !strings.Contains(r.stdout, catalog.V2Prefix("2026_11_20", fmt.Sprint(in.Port))) {
		t.Fatalf("restore latest: exit %d: %s %s", r.code, r.stdout, lastLine(r.stderr))
	}
	in.Start()
	if n := in.Query("SELECT COUNT(*) FROM big.b"); n != "48" {
		t.Errorf("restored %s rows, want 48", n)
	}
	in.Kill()

	r = runCLI(t, "--conf-path", confPath, "prune")
	if r.code != 0 || !strings.Contains(r.stdout, "removed "+testDate) || strings.Contains(r.stdout, "2026_11_20") {
		t.Fatalf("prune: exit %d: %s %s", r.code, r.stdout, lastLine(r.stderr))
	}
	if objs, _ := st.List(t.Context(), prefix); len(objs) != 0 {
		t.Errorf("objects of the killed run left after prune: %v", objs)
	}
	if pending, err := st.PendingUploads(t.Context(), dataKey); err != nil || len(pending) != 0 {
		t.Errorf("unfinished multipart upload of the killed run left: %v %v", pending, err)
	}
}

func TestKeygenWritesAKeyPairThatOpensWhatItsPublicKeySeals(t *testing.T) {
	p := filepath.Join(t.TempDir(), "age.key")
	r := runCLI(t, "keygen", "--output", p)
	pub := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(pub, "age1") {
		t.Fatalf("keygen: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	sealKeys, err := archive.RecipientKeys([]string{pub})
	if err != nil {
		t.Fatal(err)
	}
	openKeys, err := archive.IdentityFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var sealed bytes.Buffer
	w, _ := archive.SealV2(&sealed, sealKeys)
	w.Write([]byte("secret"))
	w.Close()
	rc, err := archive.OpenV2(&sealed, openKeys)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(rc); string(got) != "secret" {
		t.Errorf("opened %q", got)
	}
	if r := runCLI(t, "keygen", "--output", p); r.code != 1 || !strings.Contains(r.stderr, "never overwritten") {
		t.Errorf("second keygen on the same file: exit %d %q", r.code, r.stderr)
	}
}

// startV2BackupUntilUploading starts a v2 backup in a child process and
// returns once its data object's multipart upload is under way.
func startV2BackupUntilUploading(t *testing.T, st *s3.Bucket, confPath, prefix string) (*exec.Cmd, chan error, string) {
	t.Helper()
	cmd, exited := startCLI(t, "--conf-path", confPath, "backup")
	dataKey := ""
	for deadline := time.Now().Add(time.Minute); dataKey == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		objs, _ := st.List(t.Context(), prefix)
		for _, o := range objs {
			if strings.HasSuffix(o.Key, "/"+catalog.StartedName) {
				dataKey = strings.TrimSuffix(o.Key, catalog.StartedName) + catalog.ObjectNames[catalog.RoleData]
			}
		}
	}
	if dataKey == "" || !waitForUpload(t, st, dataKey, exited) {
		t.Fatal("no multipart upload of the data object was seen")
	}
	return cmd, exited, dataKey
}

func TestV2BackupStoppedBySIGTERMRemovesItsObjects(t *testing.T) {
	in, m, _, _ := bigInstance(t)
	st := m.Store()
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n"+v2Conf(t, in))
	prefix := catalog.V2Prefix(testDate, fmt.Sprint(in.Port))
	cmd, exited, dataKey := startV2BackupUntilUploading(t, st, confPath, prefix)
	stopWithSIGTERM(t, cmd, exited)
	if objs, _ := st.List(t.Context(), prefix); len(objs) != 0 {
		t.Errorf("objects left after SIGTERM: %v", objs)
	}
	if pending, err := st.PendingUploads(t.Context(), dataKey); err != nil || len(pending) != 0 {
		t.Errorf("unfinished multipart upload left: %v %v", pending, err)
	}
}

func TestV2BackupWhoseEngineFailsMidStreamReportsTheEngineAndLeavesNothing(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	engine := filepath.Join(t.TempDir(), "mariabackup")
	script := "#!/bin/sh\nprintf 'XBSTCK01\\000P'\necho 'engine exploded: disk on fire' >&2\nexit 3\n"
	if err := os.WriteFile(engine, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nxtrabackup_bin: "+engine+"\n"+v2Conf(t, in))
	r := runCLI(t, "--conf-path", confPath, "backup")
	if line := lastLine(r.stderr); r.code != 1 || !strings.Contains(line, "error: data: mariabackup: exit status 3: engine exploded: disk on fire") {
		t.Errorf("exit %d, %q; want exit 1 naming the engine's failure", r.code, line)
	}
	if objs, _ := m.Store().List(t.Context(), ""); len(objs) != 0 {
		t.Errorf("objects left by the failed backup: %v", objs)
	}
}

func TestV2WithAPassphraseBacksUpVerifiesAndRefusesAnotherPassphrase(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	passFile := filepath.Join(in.ConfBase, "v2-passphrase")
	os.WriteFile(passFile, []byte("a long passphrase\n"), 0o600)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\narchive_format: v2\nencryption_passphrase_file: v2-passphrase\n")
	if r := runCLI(t, "--conf-path", confPath, "backup"); r.code != 0 {
		t.Fatalf("backup: exit %d: %s", r.code, lastLine(r.stderr))
	}
	if bs := listBackups(t, confPath); len(bs) != 1 || !bs[0].Complete || bs[0].Format != "v2" {
		t.Fatalf("list:\n%s", describe(bs))
	}
	if r := runCLI(t, "--conf-path", confPath, "verify"); r.code != 0 || !strings.Contains(r.stdout, "format=v2") {
		t.Fatalf("verify: exit %d: %s %s", r.code, r.stdout, lastLine(r.stderr))
	}
	os.WriteFile(passFile, []byte("another passphrase\n"), 0o600)
	if r := runCLI(t, "--conf-path", confPath, "verify"); r.code != 1 || !strings.Contains(lastLine(r.stderr), "wrong key") {
		t.Errorf("another passphrase: exit %d, %q", r.code, lastLine(r.stderr))
	}
	noKeys := instanceConf(t, in, m, "purge_binlog_days: 0\narchive_format: v2\n")
	if r := runCLI(t, "--conf-path", noKeys, "--date-str", "2026_11_24", "backup"); r.code != 2 || !strings.Contains(lastLine(r.stderr), "encryption_recipients: archive_format v2 and binlog-archive need age public keys") {
		t.Errorf("v2 without keys: exit %d, %q; want the config error (exit 2)", r.code, lastLine(r.stderr))
	}
	if r := runCLI(t, "--conf-path", noKeys, "verify"); r.code != 2 || !strings.Contains(lastLine(r.stderr), "encryption_identity_file") {
		t.Errorf("verify without keys: exit %d, %q; want the config error (exit 2)", r.code, lastLine(r.stderr))
	}
}

func TestV2SignedManifestIsVerifiedAndAPlantedOneRefused(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	r := runCLI(t, "keygen", "--signing", "--output", filepath.Join(in.ConfBase, "sign.key"))
	pub := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(pub, "ed25519:") {
		t.Fatalf("keygen --signing: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	signing := "backup_signing_key: sign.key\nbackup_verify_keys:\n  - " + pub + "\n"
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n"+v2Conf(t, in)+signing)
	if r := runCLI(t, "--conf-path", confPath, "backup"); r.code != 0 {
		t.Fatalf("signed backup: exit %d: %s", r.code, lastLine(r.stderr))
	}
	if r := runCLI(t, "--conf-path", confPath, "verify"); r.code != 0 {
		t.Fatalf("verify of a signed backup: exit %d: %s", r.code, lastLine(r.stderr))
	}
	// Whoever can write the bucket rewrites the manifest (here: another
	// snapshot position); the objects' sums would still match.
	key := catalog.V2Prefix(testDate, fmt.Sprint(in.Port)) + catalog.ManifestName
	planted := bytes.Replace(getObject(t, m, key), []byte(`"binlog_pos": `), []byte(`"binlog_pos": 1`), 1)
	if err := m.Store().Put(t.Context(), key, bytes.NewReader(planted), nil); err != nil {
		t.Fatal(err)
	}
	wipe(t, in)
	for _, cmd := range []string{"verify", "restore"} {
		r := runCLI(t, "--conf-path", confPath, cmd)
		if r.code == 0 || !strings.Contains(lastLine(r.stderr), "is not signed by any key of backup_verify_keys") {
			t.Errorf("%s of a planted manifest: exit %d, %q", cmd, r.code, lastLine(r.stderr))
		}
	}
	if _, err := os.Stat(in.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused restore left a datadir: %v", err)
	}
}

// With pinned keys, whoever can write the bucket must not get around the
// signature by deleting the manifest or planting a legacy archive.
func TestRestoreWithPinnedKeysRefusesAnUnsignedLegacyArchive(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	_, pub, err := catalog.NewSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nbackup_verify_keys: ["+pub+"]\n")
	if r := runCLI(t, "--conf-path", confPath, "backup"); r.code != 0 { // a legacy archive
		t.Fatalf("backup: exit %d: %s", r.code, lastLine(r.stderr))
	}
	wipe(t, in)
	for _, cmd := range []string{"verify", "restore"} {
		r := runCLI(t, "--conf-path", confPath, cmd)
		if r.code != 1 || !strings.Contains(lastLine(r.stderr), "backup_verify_keys refuses an unsigned legacy archive") {
			t.Errorf("%s: exit %d, %q; want a refusal", cmd, r.code, lastLine(r.stderr))
		}
	}
	if _, err := os.Stat(in.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused restore left a datadir: %v", err)
	}
}
