// Package xtrabackup drives the physical backup tools: MariaDB's
// mariabackup and Percona XtraBackup (xtrabackup 8.0, xtrabackup or
// innobackupex 2.4). It chooses the tool for the server's flavor, builds
// its command lines, runs it, and parses the files it leaves.
package xtrabackup

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/mysqld"

	"github.com/mysqlbackup/mysqlbackup/internal/proc"
)

// style is the command-line dialect of a backup tool.
type style int

const (
	styleXtrabackup   style = iota // mariabackup, xtrabackup: --backup/--prepare --target-dir
	styleInnobackupex              // innobackupex 2.4: positional dir, --apply-log
)

// Engine is one backup tool for one server.
type Engine struct {
	Bin    string // path or name of the tool
	Server mysqld.Version
	style  style
}

// Choose returns the engine for srv. bin, the xtrabackup_bin key, forces a
// tool; "" picks mariabackup (or mariadb-backup) for MariaDB and xtrabackup
// for MySQL, as found in PATH.
func Choose(srv mysqld.Version, bin string) (Engine, error) {
	e := Engine{Bin: bin, Server: srv}
	if bin == "" {
		candidates := []string{"xtrabackup"}
		if srv.Flavor == mysqld.MariaDB {
			candidates = []string{"mariabackup", "mariadb-backup"}
		}
		for _, c := range candidates {
			if p, err := exec.LookPath(c); err == nil {
				e.Bin = p
				break
			}
		}
		if e.Bin == "" {
			return Engine{}, fmt.Errorf("no backup tool for %s %d.%d: none of %s in PATH (set xtrabackup_bin)", srv.Flavor, srv.Major, srv.Minor, strings.Join(candidates, ", "))
		}
	}
	if filepath.Base(e.Bin) == "innobackupex" {
		e.style = styleInnobackupex
	}
	return e, nil
}

// StreamTool is the extractor of the engine's stream format.
func (e Engine) StreamTool() string {
	if e.Server.Flavor == mysqld.MariaDB {
		return "mbstream"
	}
	return "xbstream"
}

// BackupOptions are the knobs of a backup run.
type BackupOptions struct {
	// DefaultsFile is the instance's my.cnf, or a 0600 file that includes
	// it and adds the credentials (mysqld.WriteClientDefaults).
	DefaultsFile string
	TargetDir    string // must not exist; its parent must
	Parallel     int    // copy threads; 0 = the tool's default
	// Throttle is --throttle: IO operations (a read and a write) per
	// second of the copy; 0 = no limit.
	Throttle int
	// Stream writes the backup to stdout as xbstream; TargetDir then only
	// holds the tool's temporary files.
	Stream bool
}

// BackupArgs is the command line of a backup with --slave-info.
func (e Engine) BackupArgs(o BackupOptions) []string {
	args := []string{"--defaults-file=" + o.DefaultsFile}
	if e.style == styleInnobackupex {
		args = append(args, "--slave-info", "--no-timestamp")
		if o.Stream {
			args = append(args, "--stream=xbstream")
		}
		return append(append(args, o.tuning()...), o.TargetDir)
	}
	args = append(args, "--backup", "--slave-info", "--target-dir="+o.TargetDir)
	if o.Stream {
		args = append(args, "--stream=xbstream")
	}
	return append(args, o.tuning()...)
}

// tuning is --parallel and --throttle, each when set.
func (o BackupOptions) tuning() []string {
	var args []string
	if o.Parallel > 0 {
		args = append(args, "--parallel="+strconv.Itoa(o.Parallel))
	}
	if o.Throttle > 0 {
		args = append(args, "--throttle="+strconv.Itoa(o.Throttle))
	}
	return args
}

// PrepareArgs is the command line that makes a backup consistent. memory is
// --use-memory ("" = the tool's default).
func (e Engine) PrepareArgs(targetDir, memory string) []string {
	var args []string
	if e.style == styleInnobackupex {
		args = []string{"--apply-log"}
	} else {
		args = []string{"--prepare", "--target-dir=" + targetDir}
	}
	if memory != "" {
		args = append(args, "--use-memory="+memory)
	}
	if e.style == styleInnobackupex {
		args = append(args, targetDir)
	}
	return args
}

// Backup runs the backup into o.TargetDir. A failure is the tool's
// *proc.ExitError, which names it; the caller names the step.
func (e Engine) Backup(ctx context.Context, o BackupOptions, spec proc.Spec) error {
	spec.Name, spec.Args = e.Bin, e.BackupArgs(o)
	return proc.Run(ctx, spec)
}

// StartStream starts a streaming backup (o.Stream) and returns its
// xbstream as a reader whose end carries the engine's exit status.
func (e Engine) StartStream(ctx context.Context, o BackupOptions, spec proc.Spec) (*proc.Output, error) {
	o.Stream = true
	spec.Name, spec.Args = e.Bin, e.BackupArgs(o)
	return proc.StartOutput(ctx, spec)
}

// Prepare runs the prepare step on a finished backup; a failure is the
// tool's *proc.ExitError.
func (e Engine) Prepare(ctx context.Context, targetDir, memory string, spec proc.Spec) error {
	spec.Name, spec.Args = e.Bin, e.PrepareArgs(targetDir, memory)
	return proc.Run(ctx, spec)
}

// CopyBackArgs is the command line that copies (or, with move, moves) a
// prepared backup into datadir, reading the server layout from
// defaultsFile (the my.cnf taken with the backup, as the legacy tool did).
func (e Engine) CopyBackArgs(defaultsFile, targetDir, datadir string, move bool) []string {
	op := "--copy-back"
	if move {
		op = "--move-back"
	}
	if e.style == styleInnobackupex {
		return []string{"--defaults-file=" + defaultsFile, "--datadir=" + datadir, op, targetDir}
	}
	return []string{"--defaults-file=" + defaultsFile, op, "--target-dir=" + targetDir, "--datadir=" + datadir}
}

// CopyBack runs CopyBackArgs.
func (e Engine) CopyBack(ctx context.Context, defaultsFile, targetDir, datadir string, move bool, spec proc.Spec) error {
	spec.Name, spec.Args = e.Bin, e.CopyBackArgs(defaultsFile, targetDir, datadir, move)
	if err := proc.Run(ctx, spec); err != nil {
		return fmt.Errorf("copy back: %w", err)
	}
	return nil
}
