// Package secretfile reads files that hold secrets (passwords, secret
// keys), refusing one that every user of the host may read.
package secretfile

import (
	"fmt"
	"io"
	"os"
)

// Read returns the content of the secret file at path; what names it in
// errors ("des3 password file"). A file with any permission for others
// (mode o+rwx) is refused: the secret is no longer one.
func Read(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if perm := fi.Mode().Perm(); perm&0o007 != 0 {
		return nil, fmt.Errorf("%s %s is readable by every user (mode %04o): chmod o-rwx it", what, path, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return data, nil
}
