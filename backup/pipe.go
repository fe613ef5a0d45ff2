package backup

import (
	"fmt"
	"io"
)

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
