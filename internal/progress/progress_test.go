package progress

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestBytesAndRateUseBinaryUnits(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536 << 20: "1.5 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := Rate(10<<20, 2*time.Second); got != "5.0 MiB/s" {
		t.Errorf("Rate = %q", got)
	}
	if got := Rate(1, 0); got != "-" {
		t.Errorf("Rate over no time = %q, want -", got)
	}
}

func TestPhasesKeepOrderAndTimeAFailedStepToo(t *testing.T) {
	var p Phases
	log := slog.New(slog.DiscardHandler)
	_ = p.Run(log, "check", func() error { return nil })
	err := p.Run(log, "download", func() error { time.Sleep(5 * time.Millisecond); return errors.New("boom") })
	if err == nil || err.Error() != "boom" {
		t.Fatalf("Run returned %v, want the step's error", err)
	}
	steps := p.Steps()
	if len(steps) != 2 || steps[0].Name != "check" || steps[1].Name != "download" || steps[1].Took < 5*time.Millisecond {
		t.Errorf("steps %+v", steps)
	}
	if s := p.String(); !strings.HasPrefix(s, "check=") || !strings.Contains(s, " download=") {
		t.Errorf("String() = %q", s)
	}
}

func TestReportDrawsALiveLineOnATerminal(t *testing.T) {
	var term bytes.Buffer
	var c Counter
	c.Write(make([]byte, 3<<20))
	stop := Report(t.Context(), slog.New(slog.DiscardHandler), &term, "upload", &c, 6<<20)
	time.Sleep(time.Second) // a few redraws at 250 ms
	stop()
	if !strings.Contains(term.String(), "upload") || !strings.Contains(term.String(), "MB") {
		t.Errorf("terminal shows %q, want the phase and the bytes", term.String())
	}
}

func TestSequenceStopsAtTheFirstFailureAndNamesItsStep(t *testing.T) {
	var p Phases
	var ran []string
	step := func(name string, err error) Task {
		return Task{Name: name, Fn: func(context.Context) error { ran = append(ran, name); return err }}
	}
	boom := errors.New("boom")
	err := p.Sequence(t.Context(), slog.New(slog.DiscardHandler), step("check", nil), step("copy-back", boom), step("replay", nil))
	if !errors.Is(err, boom) || err.Error() != "copy-back: boom" {
		t.Fatalf("Sequence returned %v, want copy-back: boom", err)
	}
	if strings.Join(ran, ",") != "check,copy-back" {
		t.Errorf("ran %v, want check and copy-back only", ran)
	}
	if len(p.Steps()) != 2 {
		t.Errorf("timed steps %+v, want the two that ran", p.Steps())
	}
}
