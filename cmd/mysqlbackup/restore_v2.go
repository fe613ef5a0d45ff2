package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

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
	data := func(app *App) error {
		_, err := v.read(app, catalog.RoleData, r.keys, func(in io.Reader) error {
			return r.engine.Extract(app.Ctx, cfg.BackupDataDir, in, proc.Spec{Log: app.Log, DieWithParent: true})
		})
		return err
	}
	binlogs := func(app *App) error {
		_, err := v.read(app, catalog.RoleBinlogs, r.keys, func(in io.Reader) error {
			_, err := archive.ExtractTar(in, cfg.BackupBase, []string{cfg.BackupBinlogTail})
			return err
		})
		return err
	}
	myCnf := func(app *App) error {
		_, err := v.read(app, catalog.RoleMyCnf, r.keys, func(in io.Reader) error {
			f, err := os.OpenFile(cfg.BackupMyCnf, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, in)
			return errors.Join(err, f.Close())
		})
		return err
	}
	// The objects download side by side: the binlogs, often a third of a
	// backup, no longer wait for the data. Only the data draws a live
	// progress line; the others log.
	return runAll(r.App, data, binlogs, myCnf)
}

// runAll runs fns concurrently, each with a copy of app whose context ends
// at the first failure, and returns that first failure. Only the first fn
// keeps the terminal for its progress.
func runAll(app *App, fns ...func(*App) error) error {
	ctx, cancel := context.WithCancel(app.Ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for i, fn := range fns {
		sub := *app
		sub.Ctx = ctx
		if i > 0 {
			sub.Term = nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(&sub); err != nil {
				once.Do(func() { first = err })
				cancel()
			}
		}()
	}
	wg.Wait()
	return first
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
