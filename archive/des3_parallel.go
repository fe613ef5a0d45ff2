package archive

import (
	"crypto/cipher"
	"crypto/des"
	"errors"
	"io"
	"sync"
)

// parallelChunk is the ciphertext one worker decrypts at a time (a
// multiple of the block size).
const parallelChunk = 256 << 10

// des3Job is one chunk of ciphertext and the block before it.
type des3Job struct {
	iv   []byte
	data []byte
	out  chan []byte
}

// parallelReader decrypts 3DES-CBC on several cores: every plaintext block
// is D(C_i) XOR C_(i-1), so chunks that carry the previous chunk's last
// ciphertext block as their IV decrypt independently. Chunks come out in
// order; the last block waits for the end of the stream, where its padding
// is checked exactly as the serial reader does.
type parallelReader struct {
	order chan des3Job // jobs in stream order, for the consumer
	errc  chan error   // the producer's final error (nil at a clean end)
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup

	heldTail
	ended bool
	err   error
}

// Des3DecryptParallel is Des3Decrypt on up to workers cores. Close it to
// stop its goroutines when not reading to the end.
func Des3DecryptParallel(r io.Reader, password []byte, d Digest, workers int) (io.ReadCloser, error) {
	hdr := make([]byte, 16)
	if _, err := io.ReadFull(r, hdr); err != nil || string(hdr[:8]) != saltMagic {
		return nil, ErrNotEncrypted
	}
	key, iv := bytesToKey(d, password, hdr[8:])
	block, err := des.NewTripleDESCipher(key)
	if err != nil {
		return nil, err
	}
	workers = max(1, workers)
	p := &parallelReader{order: make(chan des3Job, 2*workers), errc: make(chan error, 1), stop: make(chan struct{})}
	jobs := make(chan des3Job, workers)
	for range workers {
		p.wg.Add(1)
		go p.work(block, jobs)
	}
	go p.produce(r, iv, jobs)
	return p, nil
}

func (p *parallelReader) work(block cipher.Block, jobs <-chan des3Job) {
	defer p.wg.Done()
	for j := range jobs {
		plain := make([]byte, len(j.data))
		cipher.NewCBCDecrypter(block, j.iv).CryptBlocks(plain, j.data)
		j.out <- plain // buffered: never blocks
	}
}

// produce reads whole chunks and hands each to a worker and, in order, to
// the consumer.
func (p *parallelReader) produce(r io.Reader, iv []byte, jobs chan<- des3Job) {
	defer close(p.order)
	defer close(jobs)
	for {
		buf := make([]byte, parallelChunk)
		n, err := io.ReadFull(r, buf)
		if n%blockSize != 0 {
			p.errc <- ErrTruncated
			return
		}
		if n > 0 {
			j := des3Job{iv: iv, data: buf[:n], out: make(chan []byte, 1)}
			iv = buf[n-blockSize : n]
			select {
			case jobs <- j:
			case <-p.stop:
				return
			}
			select {
			case p.order <- j:
			case <-p.stop:
				return
			}
		}
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			p.errc <- nil
			return
		case err != nil:
			p.errc <- err
			return
		}
	}
}

func (p *parallelReader) Read(b []byte) (int, error) {
	for len(p.held) <= blockSize && !p.ended && p.err == nil {
		p.next()
	}
	if p.err != nil {
		return 0, p.err
	}
	return p.heldTail.read(b, p.ended)
}

// next takes the following chunk in order, or ends the stream.
func (p *parallelReader) next() {
	j, ok := <-p.order
	if !ok {
		if p.err = <-p.errc; p.err == nil {
			p.finish()
		}
		return
	}
	plain := <-j.out
	p.held = append(p.held, plain...)
}

// finish checks and strips the padding of the last block.
func (p *parallelReader) finish() {
	plain, err := unpad(p.held)
	if err != nil {
		p.err = err
		return
	}
	p.held, p.ended = plain, true
}

// Close stops the producer and the workers.
func (p *parallelReader) Close() error {
	p.once.Do(func() { close(p.stop) })
	for range p.order { // let the producer reach its exit
	}
	p.wg.Wait()
	return nil
}
