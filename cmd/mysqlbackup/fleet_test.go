package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/s3/dirstore"
)

// busyGroup is a group of two members on one port (127.0.0.1 and
// 127.0.0.2), holding 40 MiB of incompressible rows so that a backup
// spends seconds uploading 5 MiB parts, configured with extra.
func busyGroup(t *testing.T, m *testbed.MinIO, extra func(*testbed.Instance) string) (member, member) {
	t.Helper()
	a, b := groupOf(t, m, testbed.Options{ID: 1}, testbed.Options{ID: 2, Host: "127.0.0.2", Port: -1}, extra)
	a.Exec("CREATE TABLE app.big (id INT PRIMARY KEY, v LONGBLOB)")
	insertRandomMiB(t, a.Instance, "app.big", 40)
	testbed.WaitCaughtUp(t, b.Instance, a.Instance)
	return a, b
}

func TestGroupMembersBackingUpOneDateAtOnceBothSucceedAndTheLastPublishWins(t *testing.T) {
	// Every member of a group backs up the same port on the same night:
	// the second starts while the first is uploading. Neither may abort
	// the other's upload; both exit 0; the final object is one whole
	// archive, of the run that published last, whose sha1 matches; no
	// temporary object or unfinished upload is left.
	m := testbed.StartMinIO(t)
	a, b := busyGroup(t, m, nil)
	st := m.Store()
	key := fmt.Sprintf("%s/%d/mysql-%d.tgz.des3", testDate, a.Port, a.Port)

	first, firstDone, tmpA := startBackupUntilUploading(t, st, a.conf, key)
	second, secondDone := startCLI(t, "--conf-path", b.conf, "backup")
	for name, done := range map[string]chan error{"first": firstDone, "second": secondDone} {
		if err := <-done; err != nil {
			t.Errorf("%s member's backup: %v", name, err)
		}
	}

	info, err := st.Head(t.Context(), key)
	if err != nil {
		t.Fatalf("no archive at %s: %v", key, err)
	}
	if run := info.Metadata[catalog.MetaRun]; !strings.Contains(run, fmt.Sprintf(".%d.", first.Process.Pid)) && !strings.Contains(run, fmt.Sprintf(".%d.", second.Process.Pid)) {
		t.Errorf("the archive's run %q is neither member's (the first uploaded to %s)", run, tmpA)
	}
	obj := getObject(t, m, key)
	if got := sha1Hex(t, bytes.NewReader(obj)); got != info.Metadata["sha1"] || int64(len(obj)) != info.Size {
		t.Errorf("archive of %d bytes with sha1 %s; metadata says %d bytes, sha1 %s", len(obj), got, info.Size, info.Metadata["sha1"])
	}
	for _, conf := range []string{a.conf, b.conf} {
		if r := runCLI(t, "--conf-path", conf, "verify"); r.code != 0 {
			t.Errorf("verify: exit %d: %s", r.code, lastLine(r.stderr))
		}
	}
	assertNoUploadLeftovers(t, st, key, tmpA)
	objs, err := st.List(t.Context(), "")
	if err != nil || len(objs) != 1 {
		t.Errorf("objects in the bucket: %v %v, want the archive alone", objs, err)
	}
}

func TestGroupMembersBackingUpOneDateAtOnceInV2LeaveOneCommittedRun(t *testing.T) {
	// The same in format v2: each run has its own directory; the date's
	// manifest is replaced by compare-and-swap, and whichever run commits
	// second removes the first's objects, so one complete run is left.
	m := testbed.StartMinIO(t)
	a, b := busyGroup(t, m, func(in *testbed.Instance) string {
		if err := os.WriteFile(filepath.Join(in.ConfBase, "v2-passphrase"), []byte("the group's passphrase\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return "archive_format: v2\nencryption_passphrase_file: v2-passphrase\n"
	})
	st := m.Store()
	_, aDone := startCLI(t, "--conf-path", a.conf, "backup")
	_, bDone := startCLI(t, "--conf-path", b.conf, "backup")
	for name, done := range map[string]chan error{"A": aDone, "B": bDone} {
		if err := <-done; err != nil {
			t.Errorf("member %s's backup: %v", name, err)
		}
	}
	prefix := catalog.V2Prefix(testDate, fmt.Sprint(a.Port))
	var man catalog.Manifest
	if err := catalog.ReadJSON(t.Context(), st, prefix+catalog.ManifestName, &man); err != nil {
		t.Fatal(err)
	}
	objs, err := st.List(t.Context(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Key != prefix+catalog.ManifestName && !strings.HasPrefix(o.Key, prefix+man.Run+"/") {
			t.Errorf("object %s outside the committed run %s", o.Key, man.Run)
		}
	}
	if r := runCLI(t, "--conf-path", a.conf, "verify"); r.code != 0 {
		t.Errorf("verify: exit %d: %s", r.code, lastLine(r.stderr))
	}
}

func TestGroupMembersBackingUpOneDateIntoOneDirectoryStoreBothSucceed(t *testing.T) {
	// The same night on a shared directory (an NFS export) instead of S3:
	// both members exit 0 and the directory holds one whole archive, of
	// one of the two runs, and nothing else.
	store := t.TempDir()
	a, b := groupOf(t, nil, testbed.Options{ID: 1}, testbed.Options{ID: 2, Host: "127.0.0.2", Port: -1}, func(*testbed.Instance) string {
		return "backup_store_dir: " + store + "\n"
	})
	_, aDone := startCLI(t, "--conf-path", a.conf, "backup")
	_, bDone := startCLI(t, "--conf-path", b.conf, "backup")
	for name, done := range map[string]chan error{"A": aDone, "B": bDone} {
		if err := <-done; err != nil {
			t.Errorf("member %s's backup: %v", name, err)
		}
	}
	st, err := dirstore.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("%s/%d/mysql-%d.tgz.des3", testDate, a.Port, a.Port)
	objs, err := st.List(t.Context(), "")
	if err != nil || len(objs) != 1 || objs[0].Key != key {
		t.Errorf("objects in the store: %v %v, want %s alone", objs, err, key)
	}
	for _, conf := range []string{a.conf, b.conf} {
		if r := runCLI(t, "--conf-path", conf, "verify"); r.code != 0 {
			t.Errorf("verify: exit %d: %s", r.code, lastLine(r.stderr))
		}
	}
}
