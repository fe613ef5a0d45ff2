package dirstore

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// metaPrefix starts the name of an object's sidecar: .meta.NAME.
const metaPrefix = ".meta."

// sidecar is what the store keeps about an object beside its file.
type sidecar struct {
	// Version is new on every write: the object's tag.
	Version string `json:"version"`
	// Inode and Size identify the file the sidecar describes.
	Inode    uint64            `json:"inode"`
	Size     int64             `json:"size"`
	Metadata map[string]string `json:"metadata"`
}

// sidecarPath is the sidecar of the object file at p.
func sidecarPath(p string) string { return filepath.Join(filepath.Dir(p), metaPrefix+filepath.Base(p)) }

// newSidecar describes the file fi (about to be published) with meta.
func newSidecar(fi os.FileInfo, meta map[string]string) sidecar {
	var v [16]byte
	_, _ = rand.Read(v[:]) // never fails (crypto/rand panics rather)
	lower := make(map[string]string, len(meta))
	for k, val := range meta {
		lower[strings.ToLower(k)] = val
	}
	return sidecar{Version: hex.EncodeToString(v[:]), Inode: inode(fi), Size: fi.Size(), Metadata: lower}
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// readSidecar reads the sidecar of the object file at p, whose stat is
// fi. A missing sidecar, or one that describes another file, is the zero
// sidecar: the object has no metadata.
func readSidecar(p string, fi os.FileInfo) (sidecar, error) {
	data, err := os.ReadFile(sidecarPath(p))
	if errors.Is(err, fs.ErrNotExist) {
		return sidecar{}, nil
	}
	if err != nil {
		return sidecar{}, fmt.Errorf("metadata: %w", err)
	}
	var sc sidecar
	if err := json.Unmarshal(data, &sc); err != nil {
		return sidecar{}, fmt.Errorf("metadata %s: %w", sidecarPath(p), err)
	}
	if sc.Inode != inode(fi) || sc.Size != fi.Size() {
		return sidecar{}, nil
	}
	return sc, nil
}

// metadata is the object's user metadata, never nil.
func (sc sidecar) metadata() map[string]string {
	if sc.Metadata == nil {
		return map[string]string{}
	}
	return maps.Clone(sc.Metadata)
}

// tag is the object's entity tag: its version, or for a file without a
// sidecar of its own, its inode, size and modification time.
func (sc sidecar) tag(fi os.FileInfo) string {
	if sc.Version != "" {
		return sc.Version
	}
	return fmt.Sprintf("file-%d-%d-%d", inode(fi), fi.Size(), fi.ModTime().UnixNano())
}

// writeSidecar stores sc as the sidecar of p atomically and durably
// (rename without the directory's fsync, which the caller does once).
func writeSidecar(p string, sc sidecar) error {
	data, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	target := sidecarPath(p)
	f, err := createTemp(filepath.Dir(target), filepath.Base(target))
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), target)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("metadata: %w", err)
	}
	return nil
}
