package proc

import (
	"context"
	"io"
	"os"
	"sync"
)

// Output is a running program read as a stream: its stdout, through an OS
// pipe it writes into directly. The exit status is part of the stream: at
// the end of the output Read waits for the program and returns its
// *ExitError instead of io.EOF when it failed, so a tool that stops early
// with status 1 after writing a well-formed prefix never reads as a
// complete stream. Close before the end stops the program (SIGTERM, then
// SIGKILL after the spec's WaitDelay) and reaps it.
type Output struct {
	r      *os.File
	p      *Process
	cancel context.CancelFunc
	once   sync.Once
	err    error // the exit status, once waited for
	eof    bool
}

// StartOutput starts the program described by s (s.Stdout is ignored)
// and returns its output. The caller must Close it.
func StartOutput(ctx context.Context, s Spec) (*Output, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s.Stdout = w
	p, err := Start(ctx, s)
	w.Close() // the program holds its own end: EOF comes when it exits
	if err != nil {
		cancel()
		r.Close()
		return nil, err
	}
	return &Output{r: r, p: p, cancel: cancel}, nil
}

// Read reads the program's output; at its end it returns the program's
// failure, or io.EOF when it exited with status 0.
func (o *Output) Read(b []byte) (int, error) {
	if o.eof {
		return 0, o.endErr()
	}
	n, err := o.r.Read(b)
	if err == io.EOF {
		o.eof = true
		o.wait()
		return n, o.endErr()
	}
	return n, err
}

func (o *Output) endErr() error {
	if o.err != nil {
		return o.err
	}
	return io.EOF
}

func (o *Output) wait() {
	o.once.Do(func() { o.err = o.p.Wait() })
}

// Close stops the program if its output was not read to the end, waits
// for it exactly once and releases the pipe. It returns the program's
// failure when the end was reached (so that `defer Close` after a read
// that ignored Read's error still reports it), and nil when the caller
// abandoned the stream: the program was stopped on purpose.
func (o *Output) Close() error {
	o.cancel()
	o.r.Close() // a program still writing gets EPIPE
	if !o.eof {
		o.wait()
		o.err = nil
	}
	return o.err
}

// Input is a running program written as a stream: its stdin. Close means
// done: it ends the input and returns the program's exit status.
type Input struct {
	w      *os.File
	p      *Process
	cancel context.CancelFunc
	once   sync.Once
	err    error
}

// StartInput starts the program described by s (s.Stdin is ignored) and
// returns its input. The caller must Close or Abort it.
func StartInput(ctx context.Context, s Spec) (*Input, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s.Stdin = r
	p, err := Start(ctx, s)
	r.Close() // the program holds its own end
	if err != nil {
		cancel()
		w.Close()
		return nil, err
	}
	return &Input{w: w, p: p, cancel: cancel}, nil
}

// Write writes to the program's input. A program that exited makes the
// write fail with its own error when it failed.
func (in *Input) Write(b []byte) (int, error) {
	n, err := in.w.Write(b)
	if err != nil {
		in.w.Close()
		in.wait()
		if in.err != nil {
			return n, in.err
		}
	}
	return n, err
}

func (in *Input) wait() {
	in.once.Do(func() { in.err = in.p.Wait() })
}

// Close ends the program's input and waits for it: nil only when it
// exited with status 0.
func (in *Input) Close() error {
	in.w.Close()
	in.wait()
	in.cancel()
	return in.err
}

// Abort stops the program (its input is incomplete), waits for it and
// releases the pipe.
func (in *Input) Abort() {
	in.cancel()
	in.w.Close()
	in.wait()
}
