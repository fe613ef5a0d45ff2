package dirstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mysqlbackup/mysqlbackup/s3"
)

// staleAge is how old a temporary file or an orphan sidecar is before
// Delete sweeps it: a file being written changes all the time, and a
// sidecar without its file outlives a publish only when its writer died.
const staleAge = 24 * time.Hour

// walk calls fn for every name the store holds in the directories that
// can hold keys starting with prefix: fn gets the key the name belongs
// to (for an object, its key) and the entry.
func (d *Dir) walk(ctx context.Context, prefix string, fn func(dirKey string, e fs.DirEntry) error) error {
	dirKey := prefix[:strings.LastIndex(prefix, "/")+1]
	if dirKey != "" && checkKey(strings.TrimSuffix(dirKey, "/")) != nil {
		return nil // no key lies below an invalid path
	}
	start := filepath.Join(d.root, filepath.FromSlash(dirKey))
	err := filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if err != nil && p != start && errors.Is(err, fs.ErrNotExist) {
			// A directory removed while the walk runs (a prune elsewhere):
			// its keys are gone; the walk goes on with the rest, never
			// ending early as if there were nothing more.
			return filepath.SkipDir
		}
		if err != nil {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if p == start {
			return nil
		}
		rel, _ := filepath.Rel(d.root, p)
		key := filepath.ToSlash(rel)
		if e.IsDir() {
			if strings.HasPrefix(e.Name(), ".") || !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		return fn(path.Dir(key), e)
	})
	var pe *fs.PathError
	if (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) && errors.As(err, &pe) && pe.Path == start {
		return nil // the start does not exist or is a file: nothing below it
	}
	return err
}

// keyIn is the key of name in the directory of dirKey ("." for the root).
func keyIn(dirKey, name string) string {
	if dirKey == "." {
		return name
	}
	return dirKey + "/" + name
}

// List implements s3.Store: the regular files whose key starts with
// prefix (a string prefix, as in S3, not a directory), in key order.
func (d *Dir) List(ctx context.Context, prefix string) ([]s3.Info, error) {
	var out []s3.Info
	err := d.walk(ctx, prefix, func(dirKey string, e fs.DirEntry) error {
		key := keyIn(dirKey, e.Name())
		if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed since the directory was read
		}
		if err != nil {
			return err
		}
		out = append(out, s3.Info{Key: key, Size: fi.Size(), Modified: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, d.wrap("list", prefix, err)
	}
	slices.SortFunc(out, func(a, b s3.Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// PendingUploads lists the keys under prefix that a temporary file is
// being written for (or was, by a run that died): what a multipart
// upload is to S3.
func (d *Dir) PendingUploads(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := d.walk(ctx, prefix, func(dirKey string, e fs.DirEntry) error {
		target, ok := tempTarget(e.Name())
		if !ok {
			return nil
		}
		key := keyIn(dirKey, strings.TrimPrefix(target, metaPrefix))
		if strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, d.wrap("list uploads", prefix, err)
	}
	slices.Sort(keys)
	return keys, nil
}

// AbortUploads implements s3.Store: it removes the temporary files of
// exactly key (of its file and of its sidecar), such as a killed run
// left. A Put of key still running then fails.
func (d *Dir) AbortUploads(_ context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return d.wrap("abort upload", key, err)
	}
	name := filepath.Base(p)
	err = removeIn(filepath.Dir(p), func(e fs.DirEntry) bool {
		target, ok := tempTarget(e.Name())
		return ok && (target == name || target == metaPrefix+name)
	})
	return d.wrap("abort upload", key, err)
}

// removeIn removes the files of dir that doom says go; a missing dir
// holds none.
func removeIn(dir string, doom func(fs.DirEntry) bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type().IsRegular() && doom(e) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// Delete implements s3.Store: it removes the file and its sidecar, then
// every directory up to the root that this leaves empty, sweeping from
// each the temporary files and orphan sidecars over a day old.
func (d *Dir) Delete(ctx context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return d.wrap("delete", key, err)
	}
	unlock, err := d.lock(ctx, key, syscall.LOCK_EX)
	if err != nil {
		return d.wrap("delete", key, err)
	}
	err = removeObject(p)
	unlock()
	if err != nil {
		return d.wrap("delete", key, err)
	}
	d.pruneDirs(filepath.Dir(p))
	return nil
}

// removeObject removes the object file at p (not a directory there) and
// its sidecar; a missing one is no error.
func removeObject(p string) error {
	if _, err := objectStat(p); err == nil {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Remove(sidecarPath(p)); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		return err
	}
	return nil
}

// pruneDirs removes dir and its parents below the root while they are
// empty once stale leftovers are swept. It is best effort: a directory
// another writer is filling stays.
func (d *Dir) pruneDirs(dir string) {
	for ; dir != d.root && strings.HasPrefix(dir, d.root+string(filepath.Separator)); dir = filepath.Dir(dir) {
		_ = removeIn(dir, stale(dir))
		if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return
		}
	}
}

// stale picks the leftovers of dead writers in dir: temporary files and
// sidecars without their file, untouched for staleAge.
func stale(dir string) func(fs.DirEntry) bool {
	return func(e fs.DirEntry) bool {
		name := e.Name()
		_, temp := tempTarget(name)
		orphan := false
		if obj, ok := strings.CutPrefix(name, metaPrefix); ok {
			_, err := os.Lstat(filepath.Join(dir, obj))
			orphan = errors.Is(err, fs.ErrNotExist)
		}
		fi, err := e.Info()
		return (temp || orphan) && err == nil && time.Since(fi.ModTime()) > staleAge
	}
}
