package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/internal/proc"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/xtrabackup"
)

// downloadV2 streams the three objects into the staging dirs under
// backup_base: the data through the engine's stream extractor, the
// binlogs through a checked untar, my.cnf beside the data. Every object's
// SHA-256 is checked. The datadir is not touched.
func (r *restoreRun) downloadV2() error {
	cfg, v := r.Cfg, r.v2
	srv, err := mysqld.ParseVersion(v.manifest.ServerVersion)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if r.engine, err = xtrabackup.Choose(srv, cfg.XtrabackupBin); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.BackupDataDir, 0o750); err != nil {
		return err
	}
	tool := streamTool(r.engine)
	if _, err := v.read(r.App, catalog.RoleData, r.keys, func(in io.Reader) error {
		return proc.Run(r.Ctx, proc.Spec{Name: tool, Args: []string{"-x", "-C", cfg.BackupDataDir}, Stdin: in, Log: r.Log, DieWithParent: true})
	}); err != nil {
		return err
	}
	if _, err := v.read(r.App, catalog.RoleBinlogs, r.keys, func(in io.Reader) error {
		_, err := archive.ExtractTar(in, cfg.BackupBase, []string{cfg.BackupBinlogTail})
		return err
	}); err != nil {
		return err
	}
	_, err = v.read(r.App, catalog.RoleMyCnf, r.keys, func(in io.Reader) error {
		f, err := os.OpenFile(cfg.BackupMyCnf, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, in)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
	return err
}

// streamTool is the engine's extractor (mbstream or xbstream), taken from
// the engine's directory when it has one there.
func streamTool(e xtrabackup.Engine) string {
	name := e.StreamTool()
	if dir := filepath.Dir(e.Bin); dir != "." {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// prepareV2 makes the streamed backup consistent, in the staging dir, and
// checks it is the snapshot the manifest describes.
func (r *restoreRun) prepareV2() error {
	cfg, m := r.Cfg, &r.v2.manifest
	if err := r.engine.Prepare(r.Ctx, cfg.BackupDataDir, cfg.PrepareMemory, r.toolSpec()); err != nil {
		return err
	}
	info, err := xtrabackup.ReadBinlogInfo(cfg.BackupDataDir)
	if err != nil {
		return err
	}
	if info.File != m.BinlogFile || info.Pos != m.BinlogPos {
		return fmt.Errorf("the backup's snapshot is %s:%d, its manifest says %s:%d", info.File, info.Pos, m.BinlogFile, m.BinlogPos)
	}
	return nil
}
