package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/s3/dirstore"
)

// TestBackupStoreDirServesEveryCommandWithoutS3: with backup_store_dir
// and no S3, both formats are backed up into the bucket's dated layout as
// plain files (the legacy archive opens with the stock tools), listed,
// verified, restored (by date, and latest) into a wiped instance that
// then starts, removed and pruned, their directories with them.
func TestBackupStoreDirServesEveryCommandWithoutS3(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	store := filepath.Join(t.TempDir(), "backups")
	if err := os.Mkdir(store, 0o700); err != nil {
		t.Fatal(err)
	}
	legacy := instanceConf(t, in, nil, "purge_binlog_days: 0\nretention_count: 1\nbackup_store_dir: "+store+"\n")
	v2 := filepath.Join(in.ConfBase, "backup_conf_v2.yaml")
	body, _ := os.ReadFile(legacy)
	if err := os.WriteFile(v2, append(body, v2Conf(t, in)...), 0o600); err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(in.Port)
	archive := func(date string) string { return filepath.Join(store, date, port, "mysql-"+port+".tgz.des3") }
	backup := func(conf, date string) {
		t.Helper()
		if r := runCLI(t, "--conf-path", conf, "--date-str", date, "backup"); r.code != 0 {
			t.Fatalf("backup %s: exit %d: %s", date, r.code, lastLine(r.stderr))
		}
	}
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1)")
	backup(legacy, "2026_11_20")
	in.Exec("INSERT INTO app.t VALUES (2)")
	backup(v2, "2026_11_21")

	t.Run("TheDirectoryHoldsTheBucketLayoutAsPlainFiles", func(t *testing.T) {
		f, err := os.Open(archive("2026_11_20"))
		if err != nil {
			t.Fatalf("legacy archive not at {date}/{port}/mysql-{port}.tgz.des3: %v", err)
		}
		defer f.Close()
		st, _ := dirstore.Open(store)
		info, err := st.Head(t.Context(), "2026_11_20/"+port+"/mysql-"+port+".tgz.des3")
		if sum := sha1Hex(t, f); err != nil || info.Metadata["sha1"] != sum {
			t.Errorf("sha1 metadata %q, %v; want the file's %s", info.Metadata["sha1"], err, sum)
		}
		f.Seek(0, 0)
		extractWithStockTools(t, f, filepath.Join(in.ConfBase, "des3_password"), "md5", t.TempDir())
		if _, err := os.Stat(filepath.Join(store, "2026_11_21", port, "mysql-"+port+".v2", catalog.ManifestName)); err != nil {
			t.Errorf("v2 manifest not at {date}/{port}/mysql-{port}.v2/: %v", err)
		}
		if err := noLeftovers(store); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(filepath.Join(in.BackupBase, "mysql-"+port+".tgz.des3")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the local backup_tgz_des3 slot was written too: %v", err)
		}
	})
	t.Run("ListAndVerifyReadBothFormats", func(t *testing.T) {
		bs := listBackups(t, legacy)
		if len(bs) != 2 || !bs[0].Complete || !bs[1].Complete || bs[0].Format == bs[1].Format {
			t.Fatalf("list:\n%s\nwant a complete legacy and a complete v2 backup", describe(bs))
		}
		for _, date := range []string{"2026_11_20", "latest"} {
			if r := runCLI(t, "--conf-path", v2, "--date-str", date, "verify"); r.code != 0 || !strings.HasPrefix(r.stdout, "verify ok") {
				t.Errorf("verify %s: exit %d: %s %s", date, r.code, r.stdout, lastLine(r.stderr))
			}
		}
	})
	t.Run("RestoreByDateAndLatestStartsNormally", func(t *testing.T) {
		for _, c := range []struct{ date, rows string }{{"2026_11_20", "1"}, {"latest", "2"}} {
			wipe(t, in)
			if r := runCLI(t, "--conf-path", v2, "--date-str", c.date, "restore"); r.code != 0 {
				t.Fatalf("restore %s: exit %d: %s", c.date, r.code, lastLine(r.stderr))
			}
			in.Start()
			if n := in.Query("SELECT COUNT(*) FROM app.t"); n != c.rows {
				t.Errorf("restore %s: %s rows, want %s", c.date, n, c.rows)
			}
		}
	})
	t.Run("RemoveAndPruneTakeTheirDirectoriesAlong", func(t *testing.T) {
		if r := runCLI(t, "--conf-path", legacy, "--date-str", "2026_11_20", "remove"); r.code != 0 {
			t.Fatalf("remove: exit %d: %s", r.code, lastLine(r.stderr))
		}
		backup(legacy, "2026_11_22")
		if r := runCLI(t, "--conf-path", legacy, "prune"); r.code != 0 || !strings.HasPrefix(r.stdout, "removed 2026_11_21") {
			t.Fatalf("prune: exit %d: %s %s", r.code, r.stdout, lastLine(r.stderr))
		}
		entries, _ := os.ReadDir(store)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if strings.Join(names, " ") != ".locks 2026_11_22" {
			t.Errorf("store directory holds %q; want .locks and 2026_11_22 alone", names)
		}
		if bs := listBackups(t, legacy); len(bs) != 1 || bs[0].Date != "2026_11_22" {
			t.Errorf("after prune:\n%s\nwant 2026_11_22 alone", describe(bs))
		}
	})
}

// noLeftovers fails when a file being written, or a .partial, is left in
// the store directory.
func noLeftovers(root string) error {
	return filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err == nil && (strings.HasPrefix(e.Name(), ".tmp.") || strings.HasSuffix(e.Name(), catalog.PartialSuffix)) {
			return fmt.Errorf("left in the store: %s", p)
		}
		return err
	})
}
