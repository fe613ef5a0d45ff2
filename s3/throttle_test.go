package s3

import (
	"bytes"
	"context"
	"io"
	"math"
	"testing"
	"testing/iotest"
	"time"
)

// TestThrottleLetsTenMiBGoAtItsRateOnAFakeClock reserves 10 MiB in
// the reader's chunks from a full bucket on a clock that does not move:
// the last chunk may go only when the rate allows everything before it,
// less the bucket's depth of a tenth of a second.
func TestThrottleLetsTenMiBGoAtItsRateOnAFakeClock(t *testing.T) {
	const rate = 2 << 20 // 2 MiB/s
	th := NewThrottle(rate)
	if want := int(rate / 10); th.chunk != want {
		t.Fatalf("depth %d bytes, want a tenth of a second: %d", th.chunk, want)
	}
	t0 := time.Unix(1e9, 0)
	var last time.Duration
	sent := 0
	for ; sent < 10<<20; sent += th.chunk {
		r := th.lim.ReserveN(t0, th.chunk)
		if !r.OK() {
			t.Fatal("a chunk larger than the bucket")
		}
		last = r.DelayFrom(t0)
	}
	want := float64(sent-th.chunk) / rate // the bucket's depth went at once
	if got := last.Seconds(); math.Abs(got-want) > 0.01 {
		t.Errorf("10 MiB at 2 MiB/s: the last chunk waits %.3f s, want %.3f s", got, want)
	}
}

func TestThrottleDepthIsATenthOfASecondWithinBounds(t *testing.T) {
	for _, tt := range []struct {
		rate float64
		want int
	}{{1 << 10, 4 << 10}, {1 << 20, 104857}, {1 << 30, 256 << 10}} {
		if got := NewThrottle(tt.rate).chunk; got != tt.want {
			t.Errorf("rate %g B/s: depth %d, want %d", tt.rate, got, tt.want)
		}
	}
}

// askLog records the buffer sizes a reader is asked to fill.
type askLog struct {
	r    io.Reader
	most int
}

func (a *askLog) Read(p []byte) (int, error) {
	a.most = max(a.most, len(p))
	return a.r.Read(p)
}

func TestThrottledReaderPassesEveryByteInChunksOfTheBucketsDepth(t *testing.T) {
	th := NewThrottle(1 << 30)
	data := bytes.Repeat([]byte("0123456789abcdef"), 100_000) // 1.6 MB
	src := &askLog{r: bytes.NewReader(data)}
	if err := iotest.TestReader(th.Reader(t.Context(), src), data); err != nil {
		t.Fatal(err)
	}
	if src.most > th.chunk {
		t.Errorf("the source was asked for %d bytes at once, more than the depth %d", src.most, th.chunk)
	}
}

func TestThrottledReaderStopsWithItsContext(t *testing.T) {
	th := NewThrottle(1 << 10) // 4 KiB deep, 1 KiB/s: the second chunk waits 4 s
	ctx, cancel := context.WithCancel(t.Context())
	r := th.Reader(ctx, bytes.NewReader(make([]byte, 64<<10)))
	buf := make([]byte, 4<<10)
	if _, err := r.Read(buf); err != nil {
		t.Fatalf("first chunk, from the full bucket: %v", err)
	}
	cancel()
	if _, err := r.Read(buf); err == nil {
		t.Error("a read after the context ended waited instead of failing")
	}
}
