package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// chownTree gives root and everything below it to user:group, as the
// legacy tool's `chown -R mysql-<port>:mysql` did. Where that user does
// not exist on this host the files keep their owner, with a warning.
func chownTree(log *slog.Logger, root, userName, groupName string) error {
	u, err := user.Lookup(userName)
	if err != nil {
		log.Warn("user not on this host; files keep their owner", "user", userName, "dir", root)
		return nil
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if g, err := user.LookupGroup(groupName); err == nil {
		gid, _ = strconv.Atoi(g.Gid)
	}
	return filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", p, err)
		}
		return nil
	})
}

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
