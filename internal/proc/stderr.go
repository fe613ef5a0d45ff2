package proc

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
)

const (
	tailLines   = 5
	maxLineSize = 4096
)

// stderrLog is a tool's stderr: each line goes to the log at debug level,
// and the last few lines are kept for the error message.
type stderrLog struct {
	mu      sync.Mutex
	log     *slog.Logger
	redact  func(string) string
	partial []byte
	last    []string
}

func newStderrLog(log *slog.Logger, redact func(string) string) *stderrLog {
	return &stderrLog{log: log, redact: redact}
}

func (s *stderrLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.line(string(s.partial[:i]))
		s.partial = s.partial[i+1:]
	}
	if len(s.partial) > maxLineSize {
		s.line(string(s.partial))
		s.partial = s.partial[:0]
	}
	return len(p), nil
}

func (s *stderrLog) line(l string) {
	l = strings.TrimRight(l, "\r ")
	if l == "" {
		return
	}
	if len(l) > maxLineSize {
		l = l[:maxLineSize]
	}
	if s.redact != nil {
		l = s.redact(l)
	}
	s.log.Log(context.Background(), slog.LevelDebug, l)
	s.last = append(s.last, l)
	if len(s.last) > tailLines {
		s.last = s.last[1:]
	}
}

func (s *stderrLog) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.partial) > 0 {
		s.line(string(s.partial))
		s.partial = nil
	}
}

// tail is the last stderr lines joined on one line, for an error message.
func (s *stderrLog) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.last, " | ")
}
