// Package progress shows how far long work has got, on the channel the
// run has: a live line on a terminal, a log line every few seconds
// otherwise (cron); it counts bytes, times the steps of a command and
// formats sizes and rates.
package progress

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Counter counts the bytes written through it; safe for concurrent use.
type Counter struct{ n atomic.Int64 }

// Write counts p.
func (c *Counter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// N is the number of bytes counted.
func (c *Counter) N() int64 { return c.n.Load() }

// Every is how often a long phase logs when no terminal shows it.
const Every = 10 * time.Second

// Report shows the bytes counted so far until the returned stop is
// called: a live line with the rate on term (a bar when total is known,
// > 0), or, when term is nil, a log line every Every.
func Report(ctx context.Context, log *slog.Logger, term io.Writer, phase string, c *Counter, total int64) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	every, show := Every, logProgress(log, phase)
	if term != nil {
		every, show = 250*time.Millisecond, barProgress(term, phase, total)
	}
	go func() {
		defer close(done)
		start := time.Now()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				show(-1, 0)
				return
			case <-t.C:
				show(c.N(), time.Since(start))
			}
		}
	}()
	return func() { cancel(); <-done }
}

// logProgress logs one line per call; n < 0 means the phase ended.
func logProgress(log *slog.Logger, phase string) func(n int64, took time.Duration) {
	return func(n int64, took time.Duration) {
		if n >= 0 {
			log.Info("progress", "phase", phase, "bytes", Bytes(n), "rate", Rate(n, took))
		}
	}
}

// barProgress redraws a progress line on the terminal; n < 0 clears it.
func barProgress(w io.Writer, phase string, total int64) func(n int64, took time.Duration) {
	if total <= 0 {
		total = -1 // a spinner with bytes and rate
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(phase),
		progressbar.OptionShowBytes(true), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionSpinnerType(14))
	return func(n int64, _ time.Duration) {
		if n < 0 {
			_ = bar.Finish()
			return
		}
		_ = bar.Set64(n)
	}
}

// PeakRSS is this process's peak resident memory (VmHWM), or "?".
func PeakRSS() string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return Bytes(kb << 10)
		}
	}
	return "?"
}

// Bytes is n in binary units: 1.5 GiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Rate is n bytes over d, per second, or "-".
func Rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return Bytes(int64(float64(n)/d.Seconds())) + "/s"
}

// Phases records how long each step of a command took, in order.
type Phases struct {
	names []string
	took  map[string]time.Duration
}

// Run times fn as phase name and logs its start and end.
func (p *Phases) Run(log *slog.Logger, name string, fn func() error) error {
	if p.took == nil {
		p.took = map[string]time.Duration{}
	}
	log.Info("phase started", "phase", name)
	start := time.Now()
	err := fn()
	p.names = append(p.names, name)
	p.took[name] = time.Since(start)
	if err == nil {
		log.Info("phase done", "phase", name, "took", p.took[name].Round(time.Millisecond))
	}
	return err
}

// Step is one timed step.
type Step struct {
	Name string
	Took time.Duration
}

// Steps are the steps run so far, in order.
func (p *Phases) Steps() []Step {
	out := make([]Step, len(p.names))
	for i, n := range p.names {
		out[i] = Step{Name: n, Took: p.took[n]}
	}
	return out
}

// String is "name=1.2s name=3.4s …".
func (p *Phases) String() string {
	parts := make([]string, len(p.names))
	for i, n := range p.names {
		parts[i] = fmt.Sprintf("%s=%s", n, p.took[n].Round(10*time.Millisecond))
	}
	return strings.Join(parts, " ")
}

// Task is one named step of a command.
type Task struct {
	Name string
	Fn   func(context.Context) error
}

// Sequence runs tasks in order, each timed as a phase. The first failure
// ends it, prefixed with the name of its step ("copy-back: …").
func (p *Phases) Sequence(ctx context.Context, log *slog.Logger, tasks ...Task) error {
	for _, t := range tasks {
		if err := p.Run(log, t.Name, func() error { return t.Fn(ctx) }); err != nil {
			return fmt.Errorf("%s: %w", t.Name, err)
		}
	}
	return nil
}

// Reporter is where a run shows its progress: its log, and its terminal
// when it has one.
type Reporter struct {
	Log  *slog.Logger
	Term io.Writer // nil: no terminal, log lines only
}

// Start is Report on r's channels.
func (r Reporter) Start(ctx context.Context, phase string, c *Counter, total int64) (stop func()) {
	return Report(ctx, r.Log, r.Term, phase, c, total)
}

// Quiet is r without its terminal: for work running beside the one that
// draws the live line.
func (r Reporter) Quiet() Reporter {
	r.Term = nil
	return r
}
