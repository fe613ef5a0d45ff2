// Package s3test holds an in-memory s3.Store for fast unit tests of code
// that stores objects. It keeps the Store contract (the conformance suite
// in package s3 runs against it as against MinIO) and can be told to fail.
package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mysqlbackup/mysqlbackup/s3"
)

// Mem is an in-memory bucket. The zero value is empty and ready.
type Mem struct {
	mu      sync.Mutex
	objects map[string]object
	// FailPut, when set, makes Put of a key it returns an error for fail
	// with that error after reading the whole body.
	FailPut func(key string) error
	// Fail, when set, makes Get, Head, List and Copy fail with the error
	// it returns for op ("get", "head", "list" or "copy") and key (List:
	// the prefix; Copy: the source), as a store answering 503 SlowDown,
	// or one without server-side copy, would.
	Fail func(op, key string) error
	// Now, when set, is the clock that stamps what Put and Copy store.
	Now func() time.Time
}

// Fault is an error of a store that answered but did not serve the
// request (a 503 SlowDown, a timeout), for Fail.
var Fault = errors.New("503 SlowDown: please reduce your request rate")

func (m *Mem) fail(op, key string) error {
	if m.Fail == nil {
		return nil
	}
	if err := m.Fail(op, key); err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	return nil
}

func (m *Mem) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

type object struct {
	data     []byte
	meta     map[string]string
	modified time.Time
	tag      string
}

// tags numbers every version stored, for Swap.
var tags atomic.Int64

var _ s3.Store = (*Mem)(nil)

// Put implements s3.Store: the object appears only when r ended cleanly.
func (m *Mem) Put(ctx context.Context, key string, r io.Reader, meta map[string]string) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if m.FailPut != nil {
		if err := m.FailPut(key); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.objects == nil {
		m.objects = map[string]object{}
	}
	m.objects[key] = object{data: data, meta: lower(meta), modified: m.now(), tag: fmt.Sprintf("%q", fmt.Sprint(tags.Add(1)))}
	return nil
}

// ReadTagged implements s3.Store.
func (m *Mem) ReadTagged(_ context.Context, key string, limit int64) ([]byte, string, error) {
	if err := m.fail("get", key); err != nil {
		return nil, "", err
	}
	o, err := m.get(key)
	if err != nil {
		return nil, "", err
	}
	if int64(len(o.data)) > limit {
		return nil, "", fmt.Errorf("get %s: over the %d bytes expected", key, limit)
	}
	return bytes.Clone(o.data), o.tag, nil
}

// Swap implements s3.Store.
func (m *Mem) Swap(ctx context.Context, key string, data []byte, match string) (string, error) {
	if m.FailPut != nil {
		if err := m.FailPut(key); err != nil {
			return "", fmt.Errorf("put %s: %w", key, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.objects == nil {
		m.objects = map[string]object{}
	}
	if o, ok := m.objects[key]; (ok && o.tag != match) || (!ok && match != "") {
		return "", fmt.Errorf("put %s: %w", key, s3.ErrChanged)
	}
	o := object{data: bytes.Clone(data), meta: map[string]string{}, modified: m.now(), tag: fmt.Sprintf("%q", fmt.Sprint(tags.Add(1)))}
	m.objects[key] = o
	return o.tag, nil
}

func lower(meta map[string]string) map[string]string {
	out := make(map[string]string, len(meta))
	for k, v := range meta {
		out[strings.ToLower(k)] = v
	}
	return out
}

func (m *Mem) get(key string) (object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	if !ok {
		return object{}, fmt.Errorf("%s: %w", key, s3.ErrNotExist)
	}
	return o, nil
}

// Get implements s3.Store.
func (m *Mem) Get(_ context.Context, key string, offset int64) (io.ReadCloser, error) {
	if err := m.fail("get", key); err != nil {
		return nil, err
	}
	o, err := m.get(key)
	if err != nil {
		return nil, err
	}
	if offset > int64(len(o.data)) {
		return nil, fmt.Errorf("get %s at %d: beyond its %d bytes", key, offset, len(o.data))
	}
	return io.NopCloser(bytes.NewReader(o.data[offset:])), nil
}

// Head implements s3.Store.
func (m *Mem) Head(_ context.Context, key string) (s3.Info, error) {
	if err := m.fail("head", key); err != nil {
		return s3.Info{}, err
	}
	o, err := m.get(key)
	if err != nil {
		return s3.Info{}, err
	}
	return s3.Info{Key: key, Size: int64(len(o.data)), Modified: o.modified, Metadata: maps.Clone(o.meta)}, nil
}

// List implements s3.Store.
func (m *Mem) List(_ context.Context, prefix string) ([]s3.Info, error) {
	if err := m.fail("list", prefix); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []s3.Info
	for _, k := range slices.Sorted(maps.Keys(m.objects)) {
		if strings.HasPrefix(k, prefix) {
			o := m.objects[k]
			out = append(out, s3.Info{Key: k, Size: int64(len(o.data)), Modified: o.modified})
		}
	}
	return out, nil
}

// Copy implements s3.Store.
func (m *Mem) Copy(ctx context.Context, src, dst string, meta map[string]string) error {
	if err := m.fail("copy", src); err != nil {
		return err
	}
	o, err := m.get(src)
	if err != nil {
		return err
	}
	return m.Put(ctx, dst, bytes.NewReader(o.data), meta)
}

// Delete implements s3.Store.
func (m *Mem) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

// AbortUploads implements s3.Store: Mem has no unfinished uploads.
func (m *Mem) AbortUploads(context.Context, string) error { return nil }

// PendingUploads is always empty: a failed Put stores nothing.
func (m *Mem) PendingUploads(context.Context, string) ([]string, error) { return nil, nil }

// Corrupt changes the object at key with fn (a flipped byte, a cut), as a
// damaged store would, keeping its metadata.
func (m *Mem) Corrupt(key string, fn func([]byte) []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.objects[key]
	o.data = fn(slices.Clone(o.data))
	m.objects[key] = o
}
