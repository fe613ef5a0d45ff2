package proc

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func sh(script string) Spec {
	return Spec{Name: "sh", Args: []string{"-c", script}, WaitDelay: 5 * time.Second}
}

func TestOutputReadToTheEndOfASucceedingToolEndsInEOF(t *testing.T) {
	o, err := StartOutput(t.Context(), sh("printf 'hello, stream'"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(o)
	if err != nil || string(got) != "hello, stream" {
		t.Errorf("read %q, %v; want the whole output and no error", got, err)
	}
	if err := o.Close(); err != nil {
		t.Errorf("Close after a clean exit: %v", err)
	}
}

func TestOutputOfAToolThatFailsAfterAWellFormedPrefixEndsInItsError(t *testing.T) {
	o, err := StartOutput(t.Context(), sh("printf 'complete-looking'; echo 'disk full' >&2; exit 3"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(o)
	var ee *ExitError
	if string(got) != "complete-looking" || !errors.As(err, &ee) || !strings.Contains(ee.Tail, "disk full") {
		t.Errorf("read %q, %v; want the prefix and the tool's exit error with its stderr", got, err)
	}
	if err := o.Close(); !errors.As(err, &ee) {
		t.Errorf("Close after a failed tool: %v, want its exit error again", err)
	}
}

func TestOutputClosedEarlyStopsAndReapsTheTool(t *testing.T) {
	o, err := StartOutput(t.Context(), Spec{Name: "yes", WaitDelay: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(o, buf); err != nil {
		t.Fatal(err)
	}
	pid := o.p.Pid()
	start := time.Now()
	if err := o.Close(); err != nil {
		t.Errorf("Close of an abandoned stream: %v, want nil (stopped on purpose)", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("tool %d still exists after Close: %v", pid, err)
	}
	t.Logf("stopped in %s", time.Since(start).Round(time.Millisecond))
}

func TestInputClosedReturnsTheToolsExitStatus(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "out")
	in, err := StartInput(t.Context(), sh("cat > '"+dst+"'"))
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789"), 100000) // more than a pipe holds
	if _, err := in.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Errorf("the tool received %d bytes, want %d", len(got), len(data))
	}

	in, err = StartInput(t.Context(), sh("cat > /dev/null; echo 'bad chunk' >&2; exit 4"))
	if err != nil {
		t.Fatal(err)
	}
	in.Write([]byte("x"))
	var ee *ExitError
	if err := in.Close(); !errors.As(err, &ee) || !strings.Contains(ee.Tail, "bad chunk") {
		t.Errorf("Close of a failing tool: %v, want its exit error with stderr", err)
	}
}

func TestInputToAToolThatExitsZeroWithoutReadingFailsTheWrite(t *testing.T) {
	// mbstream exits 0 after refusing a chunk: what it did not read must
	// not look delivered.
	in, err := StartInput(t.Context(), sh("head -c 1 > /dev/null"))
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for range 100 {
		if _, werr = in.Write(bytes.Repeat([]byte("y"), 64<<10)); werr != nil {
			break
		}
	}
	if werr == nil {
		t.Error("6 MiB written to a tool that read 1 byte and exited, and no write failed")
	}
	if err := in.Close(); err != nil {
		t.Errorf("Close: %v (the tool exited 0)", err)
	}
}

func TestInputAbortStopsTheTool(t *testing.T) {
	in, err := StartInput(t.Context(), sh("exec sleep 100"))
	if err != nil {
		t.Fatal(err)
	}
	pid := in.p.Pid()
	done := make(chan struct{})
	go func() { in.Abort(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Abort did not return within 10 s")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("tool %d still exists after Abort: %v", pid, err)
	}
}

func TestRedactRewritesStderrBeforeItIsLoggedOrKept(t *testing.T) {
	var logged bytes.Buffer
	spec := sh("echo 'unknown variable key=hunter2' >&2; exit 1")
	spec.Log = slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	spec.Redact = func(l string) string { return strings.ReplaceAll(l, "hunter2", "<redacted>") }
	err := Run(t.Context(), spec)
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "key=<redacted>") {
		t.Errorf("error %v: want the line, redacted", err)
	}
	if strings.Contains(logged.String(), "hunter2") {
		t.Errorf("the log holds the secret: %s", logged.String())
	}
}
