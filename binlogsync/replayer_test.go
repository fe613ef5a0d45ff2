package binlogsync

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeTools writes a client and a binlog tool as shell scripts named like
// MariaDB's, so that errors read as they do in life. In the scripts, $DIR
// is the directory they live in.
func fakeTools(t *testing.T, client, binlog string) (Replayer, string) {
	t.Helper()
	dir := t.TempDir()
	r := Replayer{
		ClientBin: filepath.Join(dir, "mariadb"), BinlogBin: filepath.Join(dir, "mariadb-binlog"),
		ClientDefaults: filepath.Join(dir, "client.cnf"), Log: slog.New(slog.DiscardHandler),
	}
	for path, body := range map[string]string{r.ClientBin: client, r.BinlogBin: binlog, r.ClientDefaults: ""} {
		body = "#!/bin/sh\nDIR=" + dir + "\n" + body + "\n"
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r, dir
}

var twoFiles = ReplayPlan{Dir: "/b", Files: []string{"b.000002", "b.000003"}, Pos: 4711}

// replayOrHang runs the replay under a generous deadline that is only a
// safety net: a replay that needed it to return hangs in life.
func replayOrHang(t *testing.T, ctx context.Context, r Replayer) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := r.Replay(ctx, twoFiles)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("the replay returned only when the safety deadline stopped it (it hangs): %v", err)
	}
	return err
}

func TestReplayFailsNamingTheClientWhenItExitsAtOnce(t *testing.T) {
	client := `echo "ERROR 2002 (HY000): Can't connect to local server through socket '/run/x.sock' (2)" >&2; exit 1`
	want := "mariadb (client) exited with status 1: ERROR 2002 (HY000): Can't connect to local server through socket '/run/x.sock' (2)"
	for name, binlog := range map[string]string{
		"BinlogToolStillWriting": `exec yes "INSERT INTO t VALUES (1);"`,
		"BinlogToolStuck":        `exec sleep 600`, // reading a slow disk: it must be stopped
	} {
		t.Run(name, func(t *testing.T) {
			r, _ := fakeTools(t, client, binlog)
			if err := replayOrHang(t, t.Context(), r); err == nil || err.Error() != want {
				t.Errorf("replay error:\n%v\nwant:\n%s", err, want)
			}
		})
	}
}

func TestReplayFailsNamingTheBinlogToolAndStopsAClientThatWaits(t *testing.T) {
	// The client waits (on a lock in the server, say): it must be stopped,
	// not waited for, and its forced end is not the cause.
	r, _ := fakeTools(t, `exec sleep 600`,
		`echo "ERROR: Could not read entry at offset 4711: Error in log format or read error 1." >&2; exit 1`)
	want := "mariadb-binlog (binlog tool) exited with status 1: ERROR: Could not read entry at offset 4711: Error in log format or read error 1."
	if err := replayOrHang(t, t.Context(), r); err == nil || err.Error() != want {
		t.Errorf("replay error:\n%v\nwant:\n%s", err, want)
	}
}

func TestReplayFailsWhenTheClientStopsReadingBeforeTheEnd(t *testing.T) {
	r, _ := fakeTools(t, `exit 0`, `exec yes "INSERT INTO t VALUES (1);"`)
	want := "mariadb-binlog (binlog tool) ended by signal: broken pipe"
	if err := replayOrHang(t, t.Context(), r); err == nil || err.Error() != want {
		t.Errorf("replay error:\n%v\nwant:\n%s", err, want)
	}
}

func TestReplayFeedsEveryFileIntoOneClientSessionThatReadsOnlyItsOwnOptionFile(t *testing.T) {
	r, dir := fakeTools(t,
		`echo run >> "$DIR/client.runs"; printf '%s\n' "$@" > "$DIR/client.args"; cat > "$DIR/client.stdin"`,
		`printf '%s\n' "$@" > "$DIR/binlog.args"; printf 'events of %s\n' "$@"`)
	if err := replayOrHang(t, t.Context(), r); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if runs := read("client.runs"); runs != "run\n" {
		t.Errorf("client runs %q, want one session for every file", runs)
	}
	client := strings.Fields(read("client.args"))
	if len(client) == 0 || client[0] != "--defaults-file="+r.ClientDefaults || !slices.Contains(client, "--binary-mode") {
		t.Errorf("client args %q, want --defaults-file=%s first and --binary-mode", client, r.ClientDefaults)
	}
	binlog := read("binlog.args")
	if want := "--no-defaults\n--disable-log-bin\n--start-position=4711\n/b/b.000002\n/b/b.000003\n"; binlog != want {
		t.Errorf("binlog tool args:\n%s\nwant:\n%s", binlog, want)
	}
	if got, want := read("client.stdin"), eventsOf(binlog); got != want {
		t.Errorf("client read %q, want the binlog tool's whole output %q", got, want)
	}
}

func eventsOf(args string) string {
	var b strings.Builder
	for _, a := range strings.Fields(args) {
		b.WriteString("events of " + a + "\n")
	}
	return b.String()
}

func TestReplayStopsBothToolsWhenTheContextEnds(t *testing.T) {
	r, dir := fakeTools(t, `touch "$DIR/started"; exec sleep 600`, `exec sleep 600`)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for ctx.Err() == nil {
			if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	if err := replayOrHang(t, ctx, r); !errors.Is(err, context.Canceled) {
		t.Errorf("replay error %v, want context.Canceled", err)
	}
}
