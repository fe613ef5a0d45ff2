package proc

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestRunReportsExitStatusAndStderrTail(t *testing.T) {
	err := Run(t.Context(), Spec{Name: "sh", Args: []string{"-c", "echo one >&2; echo two >&2; exit 3"}})
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("got %v, want *ExitError", err)
	}
	if want := "sh: exit status 3: one | two"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

func TestRunKeepsOnlyTheLastStderrLines(t *testing.T) {
	err := Run(t.Context(), Spec{Name: "sh", Args: []string{"-c", "for i in 1 2 3 4 5 6 7 8; do echo l$i >&2; done; exit 1"}})
	if err == nil || !strings.HasSuffix(err.Error(), "l4 | l5 | l6 | l7 | l8") || strings.Contains(err.Error(), "l3") {
		t.Errorf("got %v, want the last 5 lines only", err)
	}
}

func TestStartOfMissingProgramNamesIt(t *testing.T) {
	err := Run(t.Context(), Spec{Name: "/nonexistent/tool"})
	if err == nil || !strings.HasPrefix(err.Error(), "tool: ") {
		t.Errorf("got %v, want an error naming the tool", err)
	}
}

func TestCancelledContextStopsTheProgramWithSIGTERM(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	// The trap proves SIGTERM (not SIGKILL) arrived first.
	pr, pw := io.Pipe()
	p, err := Start(ctx, Spec{Name: "sh", Args: []string{"-c", "trap 'echo got-term >&2; exit 7' TERM; echo ready; while :; do sleep 0.05; done"}, Stdout: pw, WaitDelay: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(pr).ReadString('\n'); err != nil { // the trap is installed
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	cancel()
	err = p.Wait()
	if err == nil || !strings.Contains(err.Error(), "got-term") {
		t.Errorf("got %v, want the program to see SIGTERM", err)
	}
}
