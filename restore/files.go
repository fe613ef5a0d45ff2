package restore

import (
	"errors"
	"io"
	"os"
)

// copyFile copies src to a new file dst with src's permissions, synced.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Sync(), out.Close())
}

// moveOrCopy renames src to dst when move is set and both are on one
// filesystem, and copies it otherwise.
func moveOrCopy(src, dst string, move bool) error {
	if move && os.Rename(src, dst) == nil {
		return nil
	}
	return copyFile(src, dst)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
