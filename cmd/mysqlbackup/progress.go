package main

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

// counter counts the bytes written through it.
type counter struct{ n atomic.Int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// progressEvery is how often a long phase reports.
const progressEvery = 10 * time.Second

// reportProgress shows the bytes counted so far until the returned stop
// is called: a live line with the rate on a terminal (a bar when total is
// known, > 0), otherwise a log line every progressEvery (cron).
func reportProgress(app *App, phase string, c *counter, total int64) (stop func()) {
	ctx, cancel := context.WithCancel(app.Ctx)
	done := make(chan struct{})
	every, show := progressEvery, logProgress(app.Log, phase)
	if app.Term != nil {
		every, show = 250*time.Millisecond, barProgress(app.Term, phase, total)
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
				show(c.n.Load(), time.Since(start))
			}
		}
	}()
	return func() { cancel(); <-done }
}

// logProgress logs one line per call; n < 0 means the phase ended.
func logProgress(log *slog.Logger, phase string) func(n int64, took time.Duration) {
	return func(n int64, took time.Duration) {
		if n >= 0 {
			log.Info("progress", "phase", phase, "bytes", humanBytes(n), "rate", humanRate(n, took))
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

// peakRSS is this process's peak resident memory (VmHWM), or "?".
func peakRSS() string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return humanBytes(kb << 10)
		}
	}
	return "?"
}

func humanBytes(n int64) string {
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

func humanRate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return humanBytes(int64(float64(n)/d.Seconds())) + "/s"
}

// phases records how long each step took, in order.
type phases struct {
	names []string
	took  map[string]time.Duration
}

// run times fn as phase name and logs its start and end.
func (p *phases) run(log *slog.Logger, name string, fn func() error) error {
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

// String is "name=1.2s name=3.4s …".
func (p *phases) String() string {
	parts := make([]string, len(p.names))
	for i, n := range p.names {
		parts[i] = fmt.Sprintf("%s=%s", n, p.took[n].Round(10*time.Millisecond))
	}
	return strings.Join(parts, " ")
}

// pipeTo runs produce, writing into a pipe, and consume, reading from it,
// at the same time. Either side failing stops the other; the producer's
// error, the cause more often, wins.
func pipeTo(produce func(io.Writer) error, consume func(io.Reader) error) error {
	pr, pw := io.Pipe()
	prodErr := make(chan error, 1)
	go func() {
		err := produce(pw)
		pw.CloseWithError(err) // nil closes with EOF
		prodErr <- err
	}()
	cerr := consume(pr)
	if cerr == nil {
		cerr = drainCheck(pr)
	}
	pr.CloseWithError(fmt.Errorf("upload stopped: %v", cerr))
	if perr := <-prodErr; perr != nil {
		return perr
	}
	return cerr
}

// drainCheck makes sure the consumer read everything: a consumer that
// returns early without an error would otherwise lose the tail.
func drainCheck(r io.Reader) error {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("upload ended %d bytes before the archive did", n)
	}
	return nil
}
