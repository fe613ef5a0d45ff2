package xtrabackup

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/internal/proc"
)

// StreamToolPath is the engine's extractor (mbstream or xbstream), taken
// from the engine's directory when it is there, else from PATH.
func (e Engine) StreamToolPath() string {
	name := e.StreamTool()
	if dir := filepath.Dir(e.Bin); dir != "." {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

// Extract unpacks the engine's xbstream from in into dir with the engine's
// extractor, through our own xbstream reader: mbstream exits 0 after
// refusing a chunk (an unsafe name, seen with MariaDB 10.11), so every
// chunk's name, offset and CRC are checked on the way and a defect fails
// the extraction. The extractor's own failure is reported as such.
func (e Engine) Extract(ctx context.Context, dir string, in io.Reader, spec proc.Spec) error {
	spec.Name, spec.Args = e.StreamToolPath(), []string{"-x", "-C", dir}
	x, err := proc.StartInput(ctx, spec)
	if err != nil {
		return err
	}
	if _, err := archive.ReadXbstream(io.TeeReader(in, x), nil); err != nil {
		x.Abort()
		if ee, ok := errors.AsType[*proc.ExitError](err); ok {
			return ee // the extractor's failure, not its symptom in our reader
		}
		return err
	}
	return x.Close()
}
