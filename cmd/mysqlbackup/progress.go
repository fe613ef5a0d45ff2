package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
)

// counter counts the bytes written through it.
type counter struct{ n atomic.Int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// progressEvery is how often a long phase reports.
const progressEvery = 10 * time.Second

// reportProgress logs the bytes counted so far and the rate every
// progressEvery until ctx ends. It returns a function that stops it.
func reportProgress(ctx context.Context, log *slog.Logger, phase string, c *counter) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		start := time.Now()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				n := c.n.Load()
				log.Info("progress", "phase", phase, "bytes", humanBytes(n), "rate", humanRate(n, time.Since(start)))
			}
		}
	}()
	return func() { cancel(); <-done }
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
