// Package s3 is the object store mysqlbackup keeps backups in: a small
// Store interface and its implementation over any S3-compatible service
// (AWS, MinIO, Ceph, the legacy "s2"); package dirstore implements it over
// a directory (a local disk or a network mount).
package s3

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotExist is returned (wrapped) when a key does not exist.
var ErrNotExist = errors.New("object does not exist")

// ErrChanged is returned (wrapped) by Swap when the object is no longer
// the one the caller read: another writer stored it meanwhile.
var ErrChanged = errors.New("object changed since it was read")

// Info describes one stored object.
type Info struct {
	Key      string
	Size     int64
	Modified time.Time
	// Metadata is the user metadata (x-amz-meta-*), keys in lower case.
	// List leaves it nil.
	Metadata map[string]string
}

// Store is a bucket of objects addressed by key.
type Store interface {
	// Put stores everything r yields under key with the given user
	// metadata. It returns only after the object is durable, and on
	// failure leaves no object and no unfinished multipart upload.
	Put(ctx context.Context, key string, r io.Reader, meta map[string]string) error
	// Get opens the object for reading from byte offset on. The reader
	// fails with an error, never a silent EOF, if the object ends early.
	Get(ctx context.Context, key string, offset int64) (io.ReadCloser, error)
	// Head returns the object's size and metadata, or ErrNotExist.
	Head(ctx context.Context, key string) (Info, error)
	// List returns every object whose key starts with prefix, in key
	// order, following pagination to the end. Metadata is nil.
	List(ctx context.Context, prefix string) ([]Info, error)
	// Copy copies src to dst server-side, replacing the metadata with meta.
	// dst appears whole or not at all.
	Copy(ctx context.Context, src, dst string, meta map[string]string) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// AbortUploads aborts the unfinished multipart uploads of exactly key.
	AbortUploads(ctx context.Context, key string) error
	// ReadTagged reads a small object whole (at most limit bytes) with its
	// entity tag, for a later Swap.
	ReadTagged(ctx context.Context, key string, limit int64) (data []byte, tag string, err error)
	// Swap stores data at key only if the object is still the one whose
	// tag is match ("": only if there is no object): a compare-and-swap
	// that lets writers of one small object notice each other. It returns
	// the new tag, or ErrChanged.
	Swap(ctx context.Context, key string, data []byte, match string) (tag string, err error)
}
