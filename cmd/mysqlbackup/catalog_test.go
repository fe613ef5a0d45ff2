package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

func TestCatalogueListVerifyRemovePruneAndLatest(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nretention_count: 1\n")
	st := m.Store()
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(32))", "INSERT INTO app.t VALUES (1, 'A')")
	backupAt := func(date string) {
		t.Helper()
		if r := runCLI(t, "--conf-path", confPath, "--date-str", date, "backup"); r.code != 0 {
			t.Fatalf("backup %s: exit %d: %s", date, r.code, lastLine(r.stderr))
		}
	}
	backupAt("2026_11_20")
	in.Exec("INSERT INTO app.t VALUES (2, 'B')")
	backupAt("2026_11_21")
	key := func(date string) string { return fmt.Sprintf("%s/%d/mysql-%d.tgz.des3", date, in.Port, in.Port) }
	put := func(k string, body []byte, meta map[string]string) {
		t.Helper()
		if err := st.Put(t.Context(), k, bytes.NewReader(body), meta); err != nil {
			t.Fatal(err)
		}
	}
	put(key("2026_11_22")+catalog.PartialSuffix, []byte("a dead run"), nil)
	put("2026_11_20/9999/mysql-9999.tgz.des3", []byte("another port"), map[string]string{"sha1": "00"})

	t.Run("ListShowsThePortsBackupsCompleteOrNot", func(t *testing.T) {
		r := runCLI(t, "--conf-path", confPath, "list", "--json")
		var doc struct{ Backups []catalog.Backup }
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 {
			t.Fatalf("exit %d, %v: %s", r.code, err, r.stdout)
		}
		got := doc.Backups
		if len(got) != 3 || got[0].Date != "2026_11_20" || got[1].Date != "2026_11_21" || got[2].Complete {
			t.Fatalf("backups %+v; want 20, 21 complete and 22 incomplete", got)
		}
		for _, b := range got[:2] {
			if !b.Complete || !strings.HasPrefix(b.Checksum, "sha1:") || !strings.HasPrefix(b.Position, "mysql-bin.") || b.GTID == "" || b.Size == 0 {
				t.Errorf("backup %+v lacks checksum, position or GTID", b)
			}
		}
		if r := runCLI(t, "--conf-path", confPath, "list", "--all-ports"); !strings.Contains(r.stdout, "9999") || !strings.Contains(r.stdout, "INCOMPLETE") {
			t.Errorf("--all-ports table:\n%s", r.stdout)
		}
	})

	good := getObject(t, m, key("2026_11_21"))
	info, _ := st.Head(t.Context(), key("2026_11_21"))
	t.Run("VerifyPassesAGoodBackup", func(t *testing.T) {
		r := runCLI(t, "--conf-path", confPath, "--date-str", "latest", "verify")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "verify ok: s3 key "+key("2026_11_21")) {
			t.Errorf("exit %d: %s %s", r.code, r.stdout, lastLine(r.stderr))
		}
	})
	t.Run("VerifyCatchesEveryDefect", func(t *testing.T) {
		flipped := append([]byte{}, good...)
		flipped[len(flipped)/3] ^= 1
		const bad = "2026_11_19"
		for _, c := range []struct {
			name string
			body []byte
			meta map[string]string
			want string
		}{
			{"flipped byte, sha1 of the good object", flipped, info.Metadata, "checksum mismatch"},
			{"flipped byte, matching sha1", flipped, map[string]string{"sha1": sha1Hex(t, bytes.NewReader(flipped))}, "error: s3 key"},
			{"truncated", good[:len(good)/2], map[string]string{"sha1": sha1Hex(t, bytes.NewReader(good[:len(good)/2]))}, "error: s3 key"}, // short block, bad padding or gzip EOF: where the cut falls
		} {
			put(key(bad), c.body, c.meta)
			r := runCLI(t, "--conf-path", confPath, "--date-str", bad, "verify")
			if r.code != 1 || !strings.Contains(lastLine(r.stderr), c.want) {
				t.Errorf("%s: exit %d, %q; want exit 1 and %q", c.name, r.code, lastLine(r.stderr), c.want)
			}
		}
		if err := st.Delete(t.Context(), key(bad)); err != nil {
			t.Fatal(err)
		}
		if r := runCLI(t, "--conf-path", confPath, "--date-str", bad, "verify"); r.code != 1 || !strings.Contains(lastLine(r.stderr), "no backup for date_str "+bad) {
			t.Errorf("missing object: exit %d, %q", r.code, lastLine(r.stderr))
		}
		pwFile := filepath.Join(in.ConfBase, "des3_password")
		os.WriteFile(pwFile, []byte("not the key\n"), 0o600)
		r := runCLI(t, "--conf-path", confPath, "--date-str", "2026_11_21", "verify")
		os.WriteFile(pwFile, []byte(testPassword+"\n"), 0o600)
		if r.code != 1 || !strings.Contains(lastLine(r.stderr), "wrong des3 password") {
			t.Errorf("wrong key: exit %d, %q", r.code, lastLine(r.stderr))
		}
	})
	t.Run("BackupIfOlderThanSkipsWhenAFreshOneExists", func(t *testing.T) {
		r := runCLI(t, "--conf-path", confPath, "--date-str", "2026_11_23", "backup", "--if-older-than", "20h")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "backup skipped: "+key("2026_11_21")) {
			t.Errorf("exit %d, %q", r.code, r.stdout)
		}
		if _, err := st.Head(t.Context(), key("2026_11_23")); err == nil {
			t.Error("a skipped backup uploaded something")
		}
	})
	t.Run("RestoreLatestTakesTheNewestCompleteBackup", func(t *testing.T) {
		wipe(t, in)
		if r := runCLI(t, "--conf-path", confPath, "--date-str", "latest", "restore"); r.code != 0 || !strings.Contains(r.stdout, key("2026_11_21")) {
			t.Fatalf("exit %d: %s %s", r.code, r.stdout, lastLine(r.stderr))
		}
		in.Start()
		if n := in.Query("SELECT COUNT(*) FROM app.t"); n != "2" {
			t.Errorf("restored %s rows, want the 2 of the newest complete backup", n)
		}
	})
	t.Run("RemoveNeedsADateAndRemovesIt", func(t *testing.T) {
		if r := runCLI(t, "--conf-path", confPath, "remove"); r.code != 2 {
			t.Errorf("remove without --date-str: exit %d, want 2", r.code)
		}
		if r := runCLI(t, "--conf-path", confPath, "--date-str", "2026_11_22", "remove"); r.code != 0 || !strings.Contains(r.stdout, "removed 2026_11_22") {
			t.Errorf("exit %d: %s %s", r.code, r.stdout, lastLine(r.stderr))
		}
	})
	t.Run("PruneKeepsWhatRetentionSaysAndTheNewest", func(t *testing.T) {
		r := runCLI(t, "--conf-path", confPath, "prune", "--dry-run")
		if r.code != 0 || strings.TrimSpace(r.stdout) == "" || !strings.HasPrefix(r.stdout, "would remove 2026_11_20") || strings.Contains(r.stdout, "2026_11_21") {
			t.Fatalf("dry run: exit %d:\n%s", r.code, r.stdout)
		}
		if _, err := st.Head(t.Context(), key("2026_11_20")); err != nil {
			t.Fatal("--dry-run removed something")
		}
		if r := runCLI(t, "--conf-path", confPath, "prune"); r.code != 0 || !strings.HasPrefix(r.stdout, "removed 2026_11_20") {
			t.Fatalf("prune: exit %d:\n%s", r.code, r.stdout)
		}
		r = runCLI(t, "--conf-path", confPath, "list", "--json")
		var doc struct{ Backups []catalog.Backup }
		json.Unmarshal([]byte(r.stdout), &doc)
		if len(doc.Backups) != 1 || doc.Backups[0].Date != "2026_11_21" {
			t.Errorf("after prune: %+v, want only 2026_11_21", doc.Backups)
		}
	})
	t.Run("PruneAndLatestStopAtABackupTheyCannotClassify", func(t *testing.T) {
		prefix := catalog.V2Prefix("2026_11_24", fmt.Sprint(in.Port))
		put(prefix+catalog.ManifestName, []byte(`{"format_version": 99}`), nil)
		defer st.Delete(t.Context(), prefix+catalog.ManifestName)
		r := runCLI(t, "--conf-path", confPath, "prune")
		if line := lastLine(r.stderr); r.code != 1 || !strings.Contains(line, "prune kept 1 backup(s) it could not classify: "+prefix+" (manifest written by a newer mysqlbackup") {
			t.Errorf("prune: exit %d, %q; want exit 1 naming the backup written by a newer mysqlbackup", r.code, line)
		}
		if _, err := st.Head(t.Context(), prefix+catalog.ManifestName); err != nil {
			t.Errorf("prune removed the manifest it could not read: %v", err)
		}
		if r := runCLI(t, "--conf-path", confPath, "list"); r.code != 0 || !strings.Contains(r.stdout, "UNKNOWN") {
			t.Errorf("list: exit %d:\n%s", r.code, r.stdout)
		}
		r = runCLI(t, "--conf-path", confPath, "--date-str", "latest", "verify")
		if line := lastLine(r.stderr); r.code != 1 || !strings.Contains(line, "not falling back to an older one") || !strings.Contains(line, prefix) {
			t.Errorf("verify latest: exit %d, %q; want exit 1 naming the newest backup, unreadable", r.code, line)
		}
	})
}
