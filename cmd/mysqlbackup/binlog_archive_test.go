package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/binlogsync"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

// archiveMatchesServer decodes every archived binlog file and compares it
// with the server's file, byte for byte: closed files whole, the last one
// up to where the archive ends. It returns the archived files' names.
func archiveMatchesServer(t *testing.T, in *testbed.Instance, m *testbed.MinIO) []string {
	t.Helper()
	ix, err := binlogarchive.ReadIndex(t.Context(), m.Store(), seriesOf(in))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := archive.IdentityFile(filepath.Join(in.ConfBase, "age.key"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i, f := range ix.Files {
		var got bytes.Buffer
		if err := binlogarchive.ReadFile(t.Context(), m.Store(), keys, seriesOf(in), f, &got); err != nil {
			t.Fatalf("read the archived %s: %v", f.Name, err)
		}
		want, err := os.ReadFile(filepath.Join(in.BinlogDir(), f.Name))
		if err != nil {
			t.Fatal(err)
		}
		if f.Closed || i < len(ix.Files)-1 {
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("archived %s: %d bytes, the server's file has %d (or differs)", f.Name, got.Len(), len(want))
			}
		} else if !sameOpenBinlog(got.Bytes(), want) {
			t.Errorf("archived %s (open): its %d bytes are not the start of the server's file", f.Name, got.Len())
		}
		names = append(names, f.Name)
	}
	return names
}

func TestBinlogArchiveHoldsTheServersBinlogsByteForByteAcrossRotationsAndRuns(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n"+v2Conf(t, in))
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64))",
		"INSERT INTO app.t SELECT seq, 'first' FROM app.seq_1_to_2000", "FLUSH BINARY LOGS",
		"INSERT INTO app.t SELECT seq, 'second' FROM app.seq_2001_to_3000", "FLUSH BINARY LOGS",
		"UPDATE app.t SET v = 'third' WHERE id < 100")
	r := runCLI(t, "--conf-path", confPath, "binlog-archive", "--once")
	if r.code != 0 {
		t.Fatalf("binlog-archive --once: exit %d: %s", r.code, lastLine(r.stderr))
	}
	if names := archiveMatchesServer(t, in, m); len(names) < 3 {
		t.Fatalf("archived %v, want every binlog since the oldest", names)
	}
	// A second run resumes where the first ended: no gap, no duplicate.
	in.Exec("INSERT INTO app.t SELECT seq, 'fourth' FROM app.seq_3001_to_4000", "FLUSH BINARY LOGS", "DELETE FROM app.t WHERE id > 3900")
	if r := runCLI(t, "--conf-path", confPath, "binlog-archive", "--once"); r.code != 0 {
		t.Fatalf("second binlog-archive --once: exit %d: %s", r.code, lastLine(r.stderr))
	}
	names := archiveMatchesServer(t, in, m)

	r = runCLI(t, "--conf-path", confPath, "list", "--binlogs")
	if r.code != 0 || !strings.Contains(r.stdout, names[0]) || !strings.Contains(r.stdout, names[len(names)-1]) || !strings.Contains(r.stdout, "closed") {
		t.Errorf("list --binlogs: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, "--conf-path", confPath, "verify", "--binlogs")
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("files=%d", len(names))) || !strings.Contains(r.stdout, "gaps=0") {
		t.Fatalf("verify --binlogs: exit %d %q %s", r.code, r.stdout, lastLine(r.stderr))
	}
	// binlog-fetch writes the server's files; mariadb-binlog reads them.
	dir := filepath.Join(t.TempDir(), "binlogs")
	r = runCLI(t, "--conf-path", confPath, "binlog-fetch", "--to", dir)
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("binlog-fetch ok: s3 %s files=%d", seriesOf(in).Prefix(), len(names))) {
		t.Fatalf("binlog-fetch: exit %d %q %s", r.code, r.stdout, lastLine(r.stderr))
	}
	for _, name := range names[:len(names)-1] {
		got, _ := os.ReadFile(filepath.Join(dir, name))
		want, _ := os.ReadFile(filepath.Join(in.BinlogDir(), name))
		if len(got) == 0 || !bytes.Equal(got, want) {
			t.Errorf("fetched %s: %d bytes, the server's %d (or they differ)", name, len(got), len(want))
		}
	}
	decoded, err := exec.Command("mariadb-binlog", filepath.Join(dir, names[0]), filepath.Join(dir, names[len(names)-1])).CombinedOutput()
	if err != nil || !strings.Contains(string(decoded), "CREATE TABLE app.t") {
		t.Errorf("mariadb-binlog on the fetched files: %v\n%.400s", err, decoded)
	}
	if r := runCLI(t, "--conf-path", confPath, "binlog-fetch", "--to", dir); r.code != 1 || !strings.Contains(lastLine(r.stderr), "already holds "+names[0]) {
		t.Errorf("binlog-fetch into a directory holding the files: exit %d, %q", r.code, lastLine(r.stderr))
	}
	// A segment damaged in the store is caught.
	ix, _ := binlogarchive.ReadIndex(t.Context(), m.Store(), seriesOf(in))
	segs, err := binlogarchive.ReadSegments(t.Context(), m.Store(), seriesOf(in), ix.Files[0].Name)
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments of %s: %v", ix.Files[0].Name, err)
	}
	seg := segs[0]
	if err := m.Store().Put(t.Context(), seg.Key, bytes.NewReader(flipByte(getObject(t, m, seg.Key), int(seg.Stored/2))), nil); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "--conf-path", confPath, "verify", "--binlogs")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "checksum mismatch: binlog segment "+seg.Key) {
		t.Errorf("verify --binlogs of a damaged segment: exit %d, %q", r.code, lastLine(r.stderr))
	}
}

func TestBinlogArchiveKilledWhileArchivingResumesWithoutAGapOrADuplicate(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nbinlog_archive_interval: 200ms\n"+v2Conf(t, in))
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64))")
	cmd := cliCommand(t, "--conf-path", confPath, "binlog-archive")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for i := 1; i <= 30; i++ {
		in.Exec(fmt.Sprintf("INSERT INTO app.t SELECT seq, 'row' FROM app.seq_%d_to_%d", i*100, i*100+99))
		if i%10 == 0 {
			in.Exec("FLUSH BINARY LOGS")
		}
		time.Sleep(20 * time.Millisecond) // let segments be written while the load goes on
	}
	select {
	case err := <-exited:
		t.Fatalf("the archiver ended on its own: %v", err)
	default:
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	in.Exec("INSERT INTO app.t SELECT seq, 'after the kill' FROM app.seq_5000_to_5100")
	if r := runCLI(t, "--conf-path", confPath, "binlog-archive", "--once"); r.code != 0 {
		t.Fatalf("binlog-archive --once after a SIGKILL: exit %d: %s", r.code, lastLine(r.stderr))
	}
	if names := archiveMatchesServer(t, in, m); len(names) < 4 {
		t.Errorf("archived %v, want the four binlog files", names)
	}
}

func TestBinlogArchiveRecordsAGapWhenTheServerPurgedWhatItHadNotArchived(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n"+v2Conf(t, in))
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)")
	if r := runCLI(t, "--conf-path", confPath, "binlog-archive", "--once"); r.code != 0 {
		t.Fatalf("binlog-archive --once: exit %d: %s", r.code, lastLine(r.stderr))
	}
	in.Exec("INSERT INTO app.t VALUES (1)", "FLUSH BINARY LOGS", "INSERT INTO app.t VALUES (2)", "FLUSH BINARY LOGS",
		"PURGE BINARY LOGS BEFORE NOW() + INTERVAL 1 DAY")
	r := runCLI(t, "--conf-path", confPath, "binlog-archive", "--once")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "the server purged binlogs the archive did not have: a gap after") {
		t.Fatalf("binlog-archive over a purge: exit %d, %q; want the gap named", r.code, lastLine(r.stderr))
	}
	ix, err := binlogarchive.ReadIndex(t.Context(), m.Store(), seriesOf(in))
	if err != nil || len(ix.Gaps) != 1 {
		t.Fatalf("index gaps %+v, %v; want the one gap", ix.Gaps, err)
	}
	in.Exec("INSERT INTO app.t VALUES (3)")
	if r := runCLI(t, "-v", "--conf-path", confPath, "binlog-archive", "--once"); r.code != 0 {
		t.Fatalf("binlog-archive after the gap: exit %d: %s\n%s", r.code, lastLine(r.stderr), r.stderr)
	}
	archiveMatchesServerAfterGap(t, in, m)
	// binlog-fetch hands out nothing across the gap.
	ix, _ = binlogarchive.ReadIndex(t.Context(), m.Store(), seriesOf(in))
	r = runCLI(t, "--conf-path", confPath, "binlog-fetch", "--to", t.TempDir(), "--from", ix.Files[0].Name)
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "a gap in the binlog archive s3 "+seriesOf(in).Prefix()+" after "+ix.Files[0].Name) {
		t.Errorf("binlog-fetch across the gap: exit %d, %q", r.code, lastLine(r.stderr))
	}
	r = runCLI(t, "--conf-path", confPath, "binlog-fetch", "--to", t.TempDir())
	if last := ix.Files[len(ix.Files)-1]; r.code != 0 || !strings.Contains(r.stdout, "from "+ix.Files[1].Name+" to "+fmt.Sprintf("%s:%d", last.Name, last.End)) {
		t.Errorf("binlog-fetch after the gap: exit %d, %q %s", r.code, r.stdout, lastLine(r.stderr))
	}
}

// archiveMatchesServerAfterGap compares the files the server still has.
func archiveMatchesServerAfterGap(t *testing.T, in *testbed.Instance, m *testbed.MinIO) {
	t.Helper()
	ix, err := binlogarchive.ReadIndex(t.Context(), m.Store(), seriesOf(in))
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := archive.IdentityFile(filepath.Join(in.ConfBase, "age.key"))
	last := ix.Files[len(ix.Files)-1]
	var got bytes.Buffer
	if err := binlogarchive.ReadFile(t.Context(), m.Store(), keys, seriesOf(in), last, &got); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(in.BinlogDir(), last.Name))
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() == 0 || !sameOpenBinlog(got.Bytes(), want) {
		t.Errorf("the file archived after the gap, %s: %d bytes, not the start of the server's %d", last.Name, got.Len(), len(want))
	}
}

// sameOpenBinlog says whether got is the start of the server's open binlog
// want. The server sends a file's first event (its format description)
// with the "in use" flag cleared, as the file has it once closed; that
// flag and the event's checksum are the only bytes that may differ.
func sameOpenBinlog(got, want []byte) bool {
	if len(got) > len(want) || len(got) < 23 {
		return false
	}
	fde := 4 + int(binary.LittleEndian.Uint32(got[4+9:4+13]))
	if fde > len(got) {
		return false
	}
	flags := 4 + 17
	return bytes.Equal(got[:flags], want[:flags]) && got[flags]|1 == want[flags]|1 && got[flags+1] == want[flags+1] &&
		bytes.Equal(got[flags+2:fde-4], want[flags+2:fde-4]) && bytes.Equal(got[fde:], want[fde:len(got)])
}

// With a binlog archive, purge_binlog_days purges only what the archive
// holds whole: a binlog it has not stored yet stays, however old.
func TestBackupPurgesNoBinlogTheArchiveHasNotStored(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 1\n"+v2Conf(t, in))
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1)", "FLUSH BINARY LOGS",
		"INSERT INTO app.t VALUES (2)", "FLUSH BINARY LOGS")
	if r := runCLI(t, "--conf-path", confPath, "binlog-archive", "--once"); r.code != 0 { // holds 000001 and 000002 whole
		t.Fatalf("binlog-archive --once: exit %d: %s", r.code, lastLine(r.stderr))
	}
	in.Exec("INSERT INTO app.t VALUES (3)", "FLUSH BINARY LOGS", "INSERT INTO app.t VALUES (4)") // 000003 closed, not archived
	old := time.Now().Add(-72 * time.Hour)
	files, _ := filepath.Glob(filepath.Join(in.BinlogDir(), "mysql-bin.[0-9]*"))
	for _, f := range files[:len(files)-1] { // every closed binlog is three days old
		os.Chtimes(f, old, old)
	}
	if r := runCLI(t, "--conf-path", confPath, "backup"); r.code != 0 {
		t.Fatalf("backup: exit %d: %s", r.code, lastLine(r.stderr))
	}
	var left []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			left = append(left, filepath.Base(f))
		}
	}
	if strings.Join(left, ",") != "mysql-bin.000003,mysql-bin.000004" {
		t.Errorf("binlogs left %v, want the archived ones purged and the unarchived 000003 kept", left)
	}
}

// The store down for a while: the archiver waits and retries, counting the
// failures in its metrics, and loses nothing; SIGTERM then makes what is
// pending durable and ends it with exit 0.
func TestBinlogArchiveSurvivesTheStoreGoingDownAndReportsItsState(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	metrics := filepath.Join(t.TempDir(), "mysqlbackup.prom")
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nbinlog_archive_interval: 200ms\nmetrics_file: "+metrics+"\n"+v2Conf(t, in))
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64))")
	cmd := cliCommand(t, "--conf-path", confPath, "binlog-archive")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	in.Exec("INSERT INTO app.t SELECT seq, 'before' FROM app.seq_1_to_100")
	waitFor(t, "a first segment", func() bool {
		ix, err := binlogarchive.ReadIndex(t.Context(), m.Store(), seriesOf(in))
		return err == nil && len(ix.Files) > 0 && ix.Files[0].Segments > 0
	})
	m.Stop()
	in.Exec("INSERT INTO app.t SELECT seq, 'while the store is down' FROM app.seq_101_to_200", "FLUSH BINARY LOGS",
		"INSERT INTO app.t SELECT seq, 'after the rotation' FROM app.seq_201_to_300")
	waitFor(t, "a store failure in the metrics", func() bool {
		data, _ := os.ReadFile(metrics)
		return strings.Contains(string(data), "mysqlbackup_binlog_archive_errors_total") && !strings.Contains(string(data), "errors_total{port=\""+fmt.Sprint(in.Port)+"\"} 0")
	})
	st := archiverStatusOf(t, confPath)
	if !st.Running || st.PID != cmd.Process.Pid || st.StoreFailingSince.IsZero() || st.Errors == 0 {
		t.Errorf("status --json while the store is down: %+v; want running, pid %d, the store failing, errors counted", st, cmd.Process.Pid)
	}
	m.Start()
	in.Exec("INSERT INTO app.t SELECT seq, 'after' FROM app.seq_301_to_400")
	time.Sleep(time.Second) // a few intervals for the retries to get through
	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err != nil {
		t.Fatalf("the archiver stopped by SIGTERM: %v; stdout %s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "binlog-archive ok:") {
		t.Errorf("stdout %q, want the result line", stdout.String())
	}
	names := archiveMatchesServer(t, in, m)
	st = archiverStatusOf(t, confPath)
	ix, _ := binlogarchive.ReadIndex(t.Context(), m.Store(), seriesOf(in))
	last := ix.Files[len(ix.Files)-1]
	if st.Running || !st.StoreFailingSince.IsZero() || st.LastError != "" || st.ObjectsToday < len(names) || st.BytesToday == 0 ||
		st.Position != fmt.Sprintf("%s:%d", last.Name, last.End) || len(st.GTIDs) == 0 {
		t.Errorf("status --json after the archiver stopped: %+v; want it not running, no error, the archive's end %s:%d, its objects and bytes counted", st, last.Name, last.End)
	}
	if r := runCLI(t, "--conf-path", confPath, "status"); !strings.Contains(r.stdout, "binlog archive: NOT RUNNING  at "+st.Position) {
		t.Errorf("status: %s", r.stdout)
	}
	data, _ := os.ReadFile(metrics)
	for _, name := range []string{"mysqlbackup_binlog_archive_last_event_timestamp_seconds", "mysqlbackup_binlog_archive_lag_seconds", "mysqlbackup_binlog_archive_last_flush_timestamp_seconds"} {
		if !strings.Contains(string(data), name+"{port=") {
			t.Errorf("metrics file lacks %s:\n%s", name, data)
		}
	}
}

// archiverStatusOf is the binlog archiver in `status --json`.
func archiverStatusOf(t *testing.T, confPath string) binlogarchive.Status {
	t.Helper()
	r := runCLI(t, "--conf-path", confPath, "status", "--json")
	var out struct {
		Archiver *binlogarchive.Status `json:"binlog_archive"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Archiver == nil {
		t.Fatalf("status --json: exit %d, %v, no binlog_archive in %s", r.code, err, r.stdout)
	}
	return *out.Archiver
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("no %s within a minute", what)
}

// seriesOf is the binlog archive series of the instance.
func seriesOf(in *testbed.Instance) binlogarchive.Series {
	return binlogarchive.Series{Port: fmt.Sprint(in.Port), ServerID: uint32(in.ID)}
}

// After RESET MASTER (or on a host rebuilt from a backup) the server
// writes another history under names the archive has: the archiver must
// refuse, not splice the two into one file.
func TestBinlogArchiveRefusesAnotherHistoryUnderTheSameNames(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n"+v2Conf(t, in))
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1)", "FLUSH BINARY LOGS", "INSERT INTO app.t VALUES (2)")
	if r := runCLI(t, "--conf-path", confPath, "binlog-archive", "--once"); r.code != 0 {
		t.Fatalf("binlog-archive --once: exit %d: %s", r.code, lastLine(r.stderr))
	}
	time.Sleep(1100 * time.Millisecond) // the new files' creation time differs by a second at least
	in.Exec("RESET MASTER", "INSERT INTO app.t VALUES (3)", "FLUSH BINARY LOGS", "INSERT INTO app.t VALUES (4)", "FLUSH BINARY LOGS", "INSERT INTO app.t VALUES (5)")
	r := runCLI(t, "--conf-path", confPath, "binlog-archive", "--once")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "another history") {
		t.Fatalf("binlog-archive after RESET MASTER: exit %d, %q; want a refusal", r.code, lastLine(r.stderr))
	}
}

// A crash with sync_binlog=0 may lose the tail of the server's binlog that
// the archive already holds; the server goes on in a new file. The archive
// keeps its copy, records the divergence and goes on.
func TestBinlogArchiveGoesOnWhenTheServerLostATailItHad(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\n"+v2Conf(t, in))
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1)", "INSERT INTO app.t VALUES (2)")
	if r := runCLI(t, "--conf-path", confPath, "binlog-archive", "--once"); r.code != 0 {
		t.Fatalf("binlog-archive --once: exit %d: %s", r.code, lastLine(r.stderr))
	}
	in.Kill()
	ix, _ := binlogarchive.ReadIndex(t.Context(), m.Store(), seriesOf(in))
	last := ix.Files[len(ix.Files)-1]
	if err := os.Truncate(filepath.Join(in.BinlogDir(), last.Name), int64(last.End)-30); err != nil {
		t.Fatal(err)
	}
	in.Start()
	in.Exec("INSERT INTO app.t VALUES (3)")
	r := runCLI(t, "--conf-path", confPath, "binlog-archive", "--once")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "before the archive's copy does: a gap after "+last.Name) {
		t.Fatalf("binlog-archive after the lost tail: exit %d, %q", r.code, lastLine(r.stderr))
	}
	if r := runCLI(t, "--conf-path", confPath, "binlog-archive", "--once"); r.code != 0 {
		t.Fatalf("the next binlog-archive: exit %d: %s", r.code, lastLine(r.stderr))
	}
	archiveMatchesServerAfterGap(t, in, m)
}

// A file that got RotateAfter segments is rotated by the archiver, and a
// closed file held in several segments is compacted into one object:
// the lists stay short, the bytes the same.
func TestBinlogArchiveRotatesALongOpenFileAndCompactsClosedOnes(t *testing.T) {
	old := binlogarchive.RotateAfter
	binlogarchive.RotateAfter = 3
	t.Cleanup(func() { binlogarchive.RotateAfter = old })
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nbinlog_archive_interval: 100ms\n"+v2Conf(t, in))
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)")
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() { done <- run(ctx, []string{"--conf-path", confPath, "binlog-archive"}, &out, &errb) }()
	first := ""
	for i := 1; i <= 200; i++ {
		in.Exec(fmt.Sprintf("INSERT INTO app.t VALUES (%d)", i))
		time.Sleep(30 * time.Millisecond)
		ix, err := binlogarchive.ReadIndex(t.Context(), m.Store(), seriesOf(in))
		if err == nil && len(ix.Files) > 1 && ix.Files[0].Closed && ix.Files[0].Segments == 1 {
			first = ix.Files[0].Name
			break
		}
	}
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("binlog-archive stopped: exit %d: %s", code, errb.String())
	}
	if first == "" {
		t.Fatalf("no file was rotated and compacted into one object:\n%s", errb.String())
	}
	segs, err := binlogarchive.ReadSegments(t.Context(), m.Store(), seriesOf(in), first)
	if err != nil || len(segs) != 1 || segs[0].Key != seriesOf(in).CompactKey(first, 0, segs[0].End) {
		t.Errorf("the compacted %s's list: %+v, %v", first, segs, err)
	}
	objs, _ := m.Store().List(t.Context(), seriesOf(in).Prefix()+first+"/")
	if len(objs) != 2 { // the compacted object and the list
		t.Errorf("%d objects left under %s, want the compacted one and its list", len(objs), first)
	}
	archiveMatchesServer(t, in, m)
}

// The server restarts while the archiver runs: it reconnects, the file the
// server closed at shutdown is archived whole (its stop event included),
// and the archive goes on in the new file.
func TestBinlogArchiveFollowsTheServerAcrossARestart(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nbinlog_archive_interval: 100ms\n"+v2Conf(t, in))
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1)")
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() { done <- run(ctx, []string{"--conf-path", confPath, "binlog-archive"}, &out, &errb) }()
	waitFor(t, "a first segment", func() bool {
		ix, err := binlogarchive.ReadIndex(t.Context(), m.Store(), seriesOf(in))
		return err == nil && len(ix.Files) > 0 && ix.Files[0].Segments > 0
	})
	in.Stop()
	in.Start()
	in.Exec("INSERT INTO app.t VALUES (2)", "INSERT INTO app.t VALUES (3)")
	waitFor(t, "the file after the restart", func() bool {
		ix, err := binlogarchive.ReadIndex(t.Context(), m.Store(), seriesOf(in))
		return err == nil && len(ix.Files) > 1 && ix.Files[0].Closed && ix.Files[1].End > 4
	})
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("binlog-archive: exit %d: %s", code, errb.String())
	}
	if names := archiveMatchesServer(t, in, m); len(names) < 2 {
		t.Errorf("archived %v, want the file closed by the restart and the new one", names)
	}
}

// prune removes the archived binlogs the oldest kept backup does not need,
// while the archiver runs: the archiver takes the prune in rather than
// writing the removed files back, and what stays is still the server's.
func TestPruneRemovesArchivedBinlogsOlderThanTheOldestKeptBackupWhileTheArchiverRuns(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nretention_count: 1\nbinlog_archive_interval: 100ms\n"+v2Conf(t, in))
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1)", "FLUSH BINARY LOGS",
		"INSERT INTO app.t VALUES (2)", "FLUSH BINARY LOGS")
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() { done <- run(ctx, []string{"--conf-path", confPath, "binlog-archive"}, &out, &errb) }()
	backupAt := func(date string) {
		t.Helper()
		if r := runCLI(t, "--conf-path", confPath, "--date-str", date, "backup"); r.code != 0 {
			t.Fatalf("backup %s: exit %d: %s", date, r.code, lastLine(r.stderr))
		}
	}
	backupAt("2026_11_20")
	in.Exec("INSERT INTO app.t VALUES (3)", "FLUSH BINARY LOGS", "INSERT INTO app.t VALUES (4)", "FLUSH BINARY LOGS")
	time.Sleep(1100 * time.Millisecond) // the next backup starts a second after the last event before it
	backupAt("2026_11_21")
	in.Exec("INSERT INTO app.t VALUES (5)", "FLUSH BINARY LOGS", "INSERT INTO app.t VALUES (6)")
	caughtUp := func() bool {
		ix, err := binlogarchive.ReadIndex(t.Context(), m.Store(), seriesOf(in))
		files, _ := filepath.Glob(filepath.Join(in.BinlogDir(), "mysql-bin.[0-9]*"))
		return err == nil && len(ix.Files) > 0 && ix.Files[len(ix.Files)-1].Name == filepath.Base(files[len(files)-1]) && ix.Files[len(ix.Files)-1].End > 4
	}
	waitFor(t, "the archive to catch up", caughtUp)
	r := runCLI(t, "--conf-path", confPath, "list", "--json")
	var doc struct{ Backups []catalog.Backup }
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Backups) != 2 {
		t.Fatalf("list --json: %v %s", err, r.stdout)
	}
	kept, _, _ := strings.Cut(doc.Backups[1].Position, ":")
	keptSeq, _ := binlogsync.SeqNumber(kept)

	r = runCLI(t, "--conf-path", confPath, "prune")
	if r.code != 0 || !strings.Contains(r.stdout, "binlog archive s3 "+seriesOf(in).Prefix()+": removed") {
		t.Fatalf("prune: exit %d %q %s", r.code, r.stdout, lastLine(r.stderr))
	}
	t.Logf("prune: %s; kept backup at %s", r.stdout, doc.Backups[1].Position)
	in.Exec("INSERT INTO app.t VALUES (7)", "FLUSH BINARY LOGS", "INSERT INTO app.t VALUES (8)")
	waitFor(t, "the archive to catch up after the prune", caughtUp)
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("binlog-archive: exit %d: %s", code, errb.String())
	}
	ix, err := binlogarchive.ReadIndex(t.Context(), m.Store(), seriesOf(in))
	if err != nil || ix.Pruned == nil || ix.Pruned.Backup != "2026_11_21" {
		t.Fatalf("index after the prune and more archiving: pruned %+v, %v", ix.Pruned, err)
	}
	first, _ := binlogsync.SeqNumber(ix.Files[0].Name)
	if first < keptSeq-1 || first > keptSeq+1 {
		t.Errorf("the archive starts at %s; the kept backup's snapshot is in %s", ix.Files[0].Name, kept)
	}
	objs, _ := m.Store().List(t.Context(), seriesOf(in).Prefix())
	for _, o := range objs {
		file, _, _ := strings.Cut(strings.TrimPrefix(o.Key, seriesOf(in).Prefix()), "/")
		if n, err := binlogsync.SeqNumber(file); err == nil && n < first {
			t.Errorf("object %s of a pruned file left", o.Key)
		}
	}
	archiveMatchesServer(t, in, m)
	if r := runCLI(t, "--conf-path", confPath, "verify", "--binlogs"); r.code != 0 {
		t.Errorf("verify --binlogs after the prune: exit %d: %s", r.code, lastLine(r.stderr))
	}
	if r := runCLI(t, "--conf-path", confPath, "list", "--binlogs"); !strings.Contains(r.stdout, "the files before "+ix.Files[0].Name+", which the oldest kept backup (2026_11_21") {
		t.Errorf("list --binlogs after the prune:\n%s", r.stdout)
	}
}

// With binlog_archive_semisync the archiver is a semi-synchronous replica
// that acknowledges a transaction once it is durable in S3: when a commit
// returns, the archive holds it, however long binlog_archive_interval is.
// With the store down the server stops waiting after its timeout and goes
// on asynchronously, and the archiver says so; once the store is back the
// archive catches up and the server waits for it again.
func TestSemiSyncArchiveHoldsEveryTransactionWhenItsCommitReturns(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nbinlog_archive_interval: 10s\nbinlog_archive_semisync: true\n"+v2Conf(t, in))
	in.Exec("SET GLOBAL rpl_semi_sync_master_enabled = ON", "SET GLOBAL rpl_semi_sync_master_timeout = 1000",
		"CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)")
	cmd := cliCommand(t, "--conf-path", confPath, "binlog-archive")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waitFor(t, "the archiver as a semi-synchronous replica", func() bool {
		return in.Query("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_STATUS'") == "ON"
	})
	archivedEnd := func() string {
		ix, err := binlogarchive.ReadIndex(t.Context(), m.Store(), seriesOf(in))
		if err != nil || len(ix.Files) == 0 {
			return fmt.Sprint(err)
		}
		last := ix.Files[len(ix.Files)-1]
		return fmt.Sprintf("%s:%d", last.Name, last.End)
	}
	noTx := func() string {
		return in.Query("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_NO_TX'")
	}
	before := noTx()
	for i := 1; i <= 5; i++ {
		in.Exec(fmt.Sprintf("INSERT INTO app.t VALUES (%d)", i))
		files, _ := filepath.Glob(filepath.Join(in.BinlogDir(), "mysql-bin.[0-9]*"))
		fi, err := os.Stat(files[len(files)-1])
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("%s:%d", filepath.Base(files[len(files)-1]), fi.Size())
		if got := archivedEnd(); got != want {
			t.Fatalf("after commit %d returned, the archive ends at %s, the server's binlog at %s", i, got, want)
		}
	}
	if after := noTx(); after != before {
		t.Errorf("transactions committed without the archive's acknowledgement: %s before, %s after", before, after)
	}
	waitFor(t, "semisync on in status", func() bool { return archiverStatusOf(t, confPath).SemiSync == "on" })

	t0 := time.Now()
	t.Log("store down")
	m.Stop()
	in.Exec("INSERT INTO app.t VALUES (100)") // waits rpl_semi_sync_master_timeout, then goes on
	waitFor(t, "the fallback in status", func() bool {
		return strings.Contains(archiverStatusOf(t, confPath).SemiSync, "fell back to asynchronous")
	})
	t.Log("store up", time.Since(t0))
	m.Start()
	in.Exec("INSERT INTO app.t VALUES (101)")
	t.Log("inserted", time.Since(t0))
	waitFor(t, "semi-synchronous again", func() bool { return archiverStatusOf(t, confPath).SemiSync == "on" })
	t.Log("on again", time.Since(t0))
	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err != nil {
		t.Fatalf("the archiver stopped by SIGTERM: %v", err)
	}
	archiveMatchesServer(t, in, m)
}

// Two archivers of one series (two configs of the port that do not share
// a lock: another backup_base, another replica id): one is stopped at its
// first list or index write over the other's, naming the index or list,
// and the archive stays whole: every segment a list names is the one it
// names (no run writes another run's object), and the server's bytes.
func TestASecondArchiverOfTheSameSeriesStopsAndLeavesTheArchiveWhole(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	m := testbed.StartMinIO(t)
	confPath := instanceConf(t, in, m, "purge_binlog_days: 0\nbinlog_archive_interval: 100ms\n"+v2Conf(t, in))
	data, _ := os.ReadFile(confPath)
	second := strings.Replace(string(data), "backup_base: "+in.BackupBase, "backup_base: "+t.TempDir(), 1) + "binlog_archive_server_id: 4242\n"
	secondPath := filepath.Join(in.ConfBase, "second.yaml")
	if err := os.WriteFile(secondPath, []byte(second), 0o600); err != nil {
		t.Fatal(err)
	}
	in.Exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
	writing, stopWriting := context.WithCancel(t.Context())
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		db := in.DB()
		defer db.Close()
		for writing.Err() == nil {
			db.ExecContext(writing, "INSERT INTO app.t (v) VALUES (1)")
			time.Sleep(5 * time.Millisecond)
		}
	}()
	ctx, stop := context.WithCancel(t.Context())
	type ended struct {
		code int
		err  string
	}
	done := make(chan ended, 2)
	for _, c := range []string{confPath, secondPath} {
		go func() {
			var out, errb bytes.Buffer
			done <- ended{run(ctx, []string{"--conf-path", c, "binlog-archive"}, &out, &errb), errb.String()}
		}()
	}
	var first ended
	select {
	case first = <-done:
	case <-time.After(30 * time.Second):
	}
	stopWriting()
	<-wrote
	stop()
	rest := <-done
	if first.code != 1 || !strings.Contains(lastLine(first.err), "written by another process") {
		t.Errorf("with two archivers of one series, the first to end: exit %d, %q; want one stopped as another writer", first.code, lastLine(first.err))
	}
	if rest.code != 0 {
		t.Errorf("the archiver that went on: exit %d: %s", rest.code, lastLine(rest.err))
	}
	if r := runCLI(t, "--conf-path", confPath, "binlog-archive", "--once"); r.code != 0 {
		t.Fatalf("binlog-archive --once afterwards: exit %d: %s", r.code, lastLine(r.stderr))
	}
	if r := runCLI(t, "--conf-path", confPath, "verify", "--binlogs"); r.code != 0 {
		t.Errorf("verify --binlogs after two writers: exit %d: %s", r.code, lastLine(r.stderr))
	}
	archiveMatchesServer(t, in, m)
}

// binlog-fetch sees a gap by the names too: a file missing between two
// whole ones (a run killed between a rotation and the next file's first
// segment, then a purge) is a gap.
func TestFetchRangeStopsAtAGapBetweenWholeFiles(t *testing.T) {
	ix := &binlogarchive.Index{Port: "3306", ServerID: 1, Files: []binlogarchive.File{
		{Name: "mysql-bin.000001", Closed: true, End: 100}, {Name: "mysql-bin.000002", Closed: true, End: 100},
		{Name: "mysql-bin.000004", End: 50},
	}}
	files, err := fetchRange(ix, "")
	if err != nil || len(files) != 1 || files[0].Name != "mysql-bin.000004" {
		t.Errorf("fetch without --from: %v, %v; want only the files after the gap", files, err)
	}
	if _, err := fetchRange(ix, "mysql-bin.000002"); err == nil || !strings.Contains(err.Error(), "the files from mysql-bin.000003 to the one before mysql-bin.000004 are not in the archive") {
		t.Errorf("fetch --from across the gap: %v", err)
	}
}
