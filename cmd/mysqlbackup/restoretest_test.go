package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/backup"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/restoretest"
)

// sqlTestConf is the legacy data-completeness pair on a heartbeat table.
const sqlTestConf = "sql_test_insert: \"insert into app.heartbeat (k, v) values ('test-backup', '{v}')\"\n" +
	"sql_test_get_2: \"select v from app.heartbeat order by id desc limit 2\"\n"

// restoreTestJSON runs restore-test --json.
func restoreTestJSON(t *testing.T, args ...string) (restoretest.Result, result) {
	t.Helper()
	r := runCLI(t, append(args, "restore-test", "--json")...)
	var res restoretest.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("restore-test --json: %v: %q %s", err, r.stdout, lastLine(r.stderr))
	}
	return res, r
}

// checkOf is the check of that name in res.
func checkOf(res restoretest.Result, name string) restoretest.Check {
	for _, c := range res.Checks {
		if c.Name == name {
			return c
		}
	}
	return restoretest.Check{Name: name, Status: "absent"}
}

// A good backup passes every check while the instance keeps serving
// writes on the same host: the copy has its own datadir, socket, pid
// file, port and lock, and the scratch is gone after success.
func TestRestoreTestPassesAGoodBackupWhileTheInstanceServesWrites(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	metrics := filepath.Join(t.TempDir(), "mysqlbackup.prom")
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nmetrics_file: "+metrics+"\n"+sqlTestConf+v2Conf(t, in))
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.heartbeat (id INT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(32), v VARCHAR(64))",
		"CREATE TABLE app.w (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(32))")
	backupWithDelta(t, in, confPath, 20)
	realPid, _ := os.ReadFile(in.PidFile)

	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var writes int
	wg.Go(func() {
		db := in.DB()
		defer db.Close()
		for ctx.Err() == nil {
			if _, err := db.ExecContext(ctx, "INSERT INTO app.w (v) VALUES ('serving')"); err == nil {
				writes++
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	res, r := restoreTestJSON(t, "--conf-path", confPath)
	stop()
	wg.Wait()
	if r.code != 0 || !res.OK {
		t.Fatalf("restore-test: exit %d %+v %s", r.code, res.Checks, lastLine(r.stderr))
	}
	for _, name := range []string{"restore", "start", "check-table", "tables", "gtid", "sql-test"} {
		if c := checkOf(res, name); c.Status != "ok" {
			t.Errorf("check %s: %s %s", name, c.Status, c.Detail)
		}
	}
	if writes == 0 || !in.Running() {
		t.Errorf("the instance did not serve during the test (%d writes, running %v)", writes, in.Running())
	}
	if pid, _ := os.ReadFile(in.PidFile); string(pid) != string(realPid) {
		t.Errorf("the instance's pid file changed: %q → %q", realPid, pid)
	}
	if _, err := os.Stat(res.Scratch); !os.IsNotExist(err) || res.Kept {
		t.Errorf("the scratch %s is left after success: %v", res.Scratch, err)
	}
	if data, _ := os.ReadFile(metrics); !strings.Contains(string(data), "mysqlbackup_restore_test_ok{port=") || !strings.Contains(string(data), "mysqlbackup_restore_test_last_success_timestamp_seconds") {
		t.Errorf("metrics:\n%s", data)
	}
	text := runCLI(t, "--conf-path", confPath, "restore-test")
	if text.code != 0 || !strings.HasPrefix(text.stdout, "restore-test ok: port=") || !strings.Contains(text.stdout, "gtid=ok") {
		t.Errorf("the result line: exit %d %q", text.code, text.stdout)
	}
}

// rewriteObject replaces the plaintext of the v2 backup's object of role
// with what edit makes of it, sealed again to the backup's recipients,
// and the manifest's size and SHA-256 with the new ones: a damage that
// verify, which checks the sums and the streams' own framing, lets pass.
func rewriteObject(t *testing.T, in *testbed.Instance, m *testbed.MinIO, keys, role string, edit func([]byte) []byte) {
	t.Helper()
	ctx, st := t.Context(), m.Store()
	prefix := catalog.V2Prefix(testDate, fmt.Sprint(in.Port))
	man, err := catalog.ReadManifest(ctx, st, prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	open, err := archive.IdentityFile(filepath.Join(in.ConfBase, "age.key"))
	if err != nil {
		t.Fatal(err)
	}
	recipient := keys[strings.Index(keys, "age1"):]
	seal, err := archive.RecipientKeys([]string{strings.Fields(recipient)[0]})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range man.Objects {
		if o.Role != role {
			continue
		}
		rc, err := st.Get(ctx, o.Key, 0)
		if err != nil {
			t.Fatal(err)
		}
		pr, err := archive.OpenV2(rc, open)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(pr)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		plain = edit(plain)
		var sealed bytes.Buffer
		sw, err := archive.SealV2(&sealed, seal)
		if err != nil {
			t.Fatal(err)
		}
		sw.Write(plain)
		if err := sw.Close(); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(sealed.Bytes())
		if err := st.Put(ctx, o.Key, bytes.NewReader(sealed.Bytes()), nil); err != nil {
			t.Fatal(err)
		}
		man.StoredBytes += int64(sealed.Len()) - o.Size
		man.PlainBytes += int64(len(plain)) - o.PlainSize
		man.Objects[i].Size, man.Objects[i].SHA256, man.Objects[i].PlainSize, man.Objects[i].Pieces = int64(sealed.Len()), hex.EncodeToString(sum[:]), int64(len(plain)), nil
		if err := catalog.PutManifest(ctx, st, prefix, &man, nil); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("the backup has no %s object", role)
}

// flipInXbstream flips one byte of file's payload at offset, the chunk's
// CRC-32 made anew: the stream stays well formed. (mariabackup streams the
// tablespace of a table created shortly before as its .new.)
func flipInXbstream(t *testing.T, stream []byte, file string, offset int64) []byte {
	t.Helper()
	out := append([]byte(nil), stream...)
	var seen []string
	for at := 0; at < len(out); {
		plen := int(binary.LittleEndian.Uint32(out[at+10:]))
		name, typ := string(out[at+14:at+14+plen]), out[at+9]
		at += 14 + plen
		if typ == 'E' {
			continue
		}
		length := int64(binary.LittleEndian.Uint64(out[at:]))
		start := int64(binary.LittleEndian.Uint64(out[at+8:]))
		if strings.Contains(name, "victim") {
			seen = append(seen, fmt.Sprintf("%s@%d+%d", name, start, length))
		}
		data := out[at+20 : at+20+int(length)]
		if (name == file || name == strings.TrimSuffix(file, ".ibd")+".new") && start <= offset && offset < start+length {
			data[offset-start] ^= 0xff
			binary.LittleEndian.PutUint32(out[at+16:], crc32.ChecksumIEEE(data))
			return out
		}
		at += 20 + int(length)
	}
	t.Fatalf("no chunk of %s holds offset %d (%s)", file, offset, seen)
	return nil
}

// truncateInTar cuts the tar entry name to size bytes.
func truncateInTar(t *testing.T, data []byte, name string, size int64) []byte {
	t.Helper()
	var out bytes.Buffer
	tr, tw := tar.NewReader(bytes.NewReader(data)), tar.NewWriter(&out)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if h.Name == name {
			body, h.Size, found = body[:size], size, true
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	if err := tw.Close(); err != nil || !found {
		t.Fatalf("tar: %v, %s found %v", err, name, found)
	}
	return out.Bytes()
}

// A backup whose objects verify passes (sums and framing intact) but whose
// data is damaged fails restore-test on CHECK TABLE naming the table; one
// whose binlog delta was cut off fails on the GTID position. Either way
// the scratch is kept, its path printed, and the metrics say so.
func TestRestoreTestFailsOnDamagedDataAndOnAMissingDelta(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	keys := v2Conf(t, in)
	metrics := filepath.Join(t.TempDir(), "mysqlbackup.prom")
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nmetrics_file: "+metrics+"\n"+keys)
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.victim (id INT PRIMARY KEY, v VARCHAR(200))",
		"INSERT INTO app.victim SELECT seq, REPEAT('x', 150) FROM app.seq_1_to_2000",
		"SET GLOBAL innodb_max_dirty_pages_pct = 0")
	// The table's pages must be on disk and behind the checkpoint: pages
	// the backup's redo log still describes are rebuilt by the prepare,
	// which would heal the damage below.
	status := func(name string) int {
		return atoi(t, in.Query("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = ?", name))
	}
	written := status("INNODB_LSN_CURRENT")
	waitFor(t, "InnoDB to checkpoint the table", func() bool {
		in.Exec("FLUSH TABLES app.victim FOR EXPORT", "UNLOCK TABLES")
		return status("INNODB_LSN_LAST_CHECKPOINT") >= written
	})
	backupWithDelta(t, in, confPath, 20)
	man := manifestOf(t, in, m, testDate)

	rewriteObject(t, in, m, keys, catalog.RoleData, func(b []byte) []byte { return flipInXbstream(t, b, "app/victim.ibd", 3*16384+2000) })
	if r := runCLI(t, "--conf-path", confPath, "verify"); r.code != 0 {
		t.Fatalf("verify of the damaged backup: exit %d %s; the damage must be one verify cannot see", r.code, lastLine(r.stderr))
	}
	res, r := restoreTestJSON(t, "--conf-path", confPath)
	if c := checkOf(res, "check-table"); r.code != 1 || c.Status != "failed" || !strings.Contains(c.Detail, "app.victim") {
		t.Errorf("damaged data: exit %d, check-table %+v, checks %+v", r.code, c, res.Checks)
	}
	if !res.Kept || !strings.Contains(lastLine(r.stderr), "scratch kept at "+res.Scratch) {
		t.Errorf("the failed test's scratch: kept %v, %q", res.Kept, lastLine(r.stderr))
	}
	if _, err := os.Stat(res.Scratch); err != nil {
		t.Errorf("the kept scratch: %v", err)
	}
	if data, _ := os.ReadFile(metrics); !strings.Contains(string(data), "mysqlbackup_restore_test_ok{port=\""+fmt.Sprint(in.Port)+"\"} 0") {
		t.Errorf("metrics after a failure:\n%s", data)
	}

	// A good backup again, then its delta cut off.
	app, _ := newApp(t, confPath)
	hook := func(context.Context) error {
		in.Exec("INSERT INTO app.t SELECT seq, 'delta 2' FROM app.seq_200001_to_200020")
		return nil
	}
	if err := runBackup(t.Context(), app, backup.Options{AfterData: hook}); err != nil {
		t.Fatalf("backup: %v", err)
	}
	man = manifestOf(t, in, m, testDate)
	rewriteObject(t, in, m, keys, catalog.RoleBinlogs, func(b []byte) []byte {
		return truncateInTar(t, b, fmt.Sprintf("mysql-%d-binlog/%s", in.Port, man.BinlogFile), int64(man.BinlogPos))
	})
	if r := runCLI(t, "--conf-path", confPath, "verify"); r.code != 0 {
		t.Fatalf("verify of the backup without its delta: exit %d %s", r.code, lastLine(r.stderr))
	}
	res, r = restoreTestJSON(t, "--conf-path", confPath) // clears the kept scratch first
	if c := checkOf(res, "gtid"); r.code != 1 || c.Status != "failed" || !strings.Contains(c.Detail, man.BinlogEndGTID) {
		t.Errorf("the delta cut off: exit %d, gtid %+v (recorded %s), checks %+v", r.code, c, man.BinlogEndGTID, res.Checks)
	}
}

// SIGKILL in the middle of a restore-test (its check server running)
// leaves the serving instance untouched; the next run clears the killed
// run's scratch and passes.
func TestRestoreTestKilledMidRunLeavesTheInstanceAndTheNextRunClearsItsScratch(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n"+v2Conf(t, in))
	backupWithDelta(t, in, confPath, 20)
	sum := in.Checksum("app.t")
	scratch := filepath.Join(in.BackupBase, fmt.Sprintf("restore-test-%d", in.Port))

	cmd, exited := startCLI(t, "--conf-path", confPath, "restore-test")
	pid := waitForPidFile(t, filepath.Join(scratch, "check", "*.pid"), exited)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	waitGone(t, pid) // the check server dies with it (DieWithParent)
	if !in.Running() || in.Checksum("app.t") != sum {
		t.Fatal("the killed restore-test touched the serving instance")
	}
	if _, err := os.Stat(scratch); err != nil {
		t.Fatalf("the killed run left no scratch to clear (%v): the kill came too late to test anything", err)
	}
	res, r := restoreTestJSON(t, "--conf-path", confPath)
	if r.code != 0 || !res.OK || res.Scratch != scratch {
		t.Fatalf("the run after the kill: exit %d %+v %s", r.code, res.Checks, lastLine(r.stderr))
	}
	if _, err := os.Stat(scratch); !os.IsNotExist(err) {
		t.Errorf("the scratch is left after the second run: %v", err)
	}
}

// A legacy archive (its paths name the instance's port) restores into the
// scratch's port and passes, the instance serving writes meanwhile: the GTID position from the object's
// metadata, sql_test_get_2; it records no table list.
func TestRestoreTestPassesALegacyArchive(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n"+sqlTestConf)
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.heartbeat (id INT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(32), v VARCHAR(64))")
	backupWithDelta(t, in, confPath, 20)
	w := startWriter(t, in) // the instance serves writes meanwhile
	res, r := restoreTestJSON(t, "--conf-path", confPath)
	w.Stop()
	if r.code != 0 || !res.OK {
		t.Fatalf("restore-test of a legacy archive: exit %d %+v %s", r.code, res.Checks, lastLine(r.stderr))
	}
	if !in.Running() {
		t.Error("the instance stopped serving")
	}
	for name, want := range map[string]string{"check-table": "ok", "gtid": "ok", "sql-test": "ok", "tables": "skipped"} {
		if c := checkOf(res, name); c.Status != want {
			t.Errorf("check %s: %s %s, want %s", name, c.Status, c.Detail, want)
		}
	}
}
