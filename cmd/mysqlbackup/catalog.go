package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/s3"
	"github.com/mysqlbackup/mysqlbackup/xtrabackup"
)

// ListCmd is `mysqlbackup list`.
type ListCmd struct {
	JSON     bool `name:"json" help:"Print one JSON object."`
	AllPorts bool `name:"all-ports" help:"Every port in the bucket, not only --port / the config's."`
}

// VerifyCmd is `mysqlbackup verify`.
type VerifyCmd struct{}

// RemoveCmd is `mysqlbackup remove`.
type RemoveCmd struct{}

// PruneCmd is `mysqlbackup prune`.
type PruneCmd struct {
	DryRun bool `name:"dry-run" help:"Print what would be removed, remove nothing."`
}

// deadRunAge: a temporary object older than this belongs to a dead run
// (a live one exists for the seconds of its server-side copy).
const deadRunAge = time.Hour

// bucketOf is the configured bucket, or an error for local-only setups.
func bucketOf(cfg *conf.Config, cmd string) (*s3.Bucket, error) {
	if cfg.S3Bucket == "" {
		return nil, &conf.Error{File: cfg.Path, Key: "s3_bucket", Msg: cmd + " works on the object store; none is configured"}
	}
	sc, err := storeConfig(cfg)
	if err != nil {
		return nil, err
	}
	return s3.New(sc), nil
}

// Run implements list: every backup of the port, oldest first.
func (c *ListCmd) Run(app *App) error {
	var bs []catalog.Backup
	if app.Cfg.S3Bucket == "" {
		b, err := localBackup(app.Cfg)
		if err != nil {
			return err
		}
		if b != nil {
			bs = append(bs, *b)
		}
	} else {
		st, err := bucketOf(app.Cfg, "list")
		if err != nil {
			return err
		}
		port := string(app.Cfg.Port)
		if c.AllPorts {
			port = ""
		}
		if bs, err = catalog.List(app.Ctx, st, port); err != nil {
			return err
		}
	}
	if c.JSON {
		enc := json.NewEncoder(app.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"backups": nonNil(bs)})
	}
	renderBackups(app.Stdout, bs)
	return nil
}

func nonNil(bs []catalog.Backup) []catalog.Backup {
	if bs == nil {
		return []catalog.Backup{}
	}
	return bs
}

// localBackup describes the local archive of a setup without S3.
func localBackup(cfg *conf.Config) (*catalog.Backup, error) {
	src, err := localSource(cfg.BackupTgzDes3)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(cfg.BackupTgzDes3)
	if err != nil {
		return nil, err
	}
	b := &catalog.Backup{Date: "local", Port: string(cfg.Port), Format: "legacy", Key: src.name, Size: src.size, Modified: fi.ModTime(), Complete: true}
	if src.algo != "" {
		b.Checksum = src.algo + ":" + src.sum
	}
	return b, nil
}

func renderBackups(w io.Writer, bs []catalog.Backup) {
	if len(bs) == 0 {
		fmt.Fprintln(w, "no backups")
		return
	}
	t := newTable(w)
	t.AppendHeader(table.Row{"Date", "Port", "Format", "Size", "Modified", "State", "Checksum", "Binlog position", "GTID"})
	for _, b := range bs {
		state := "complete"
		if !b.Complete {
			state = "INCOMPLETE"
		}
		t.AppendRow(table.Row{b.Date, b.Port, b.Format, humanBytes(b.Size), b.Modified.Local().Format("2006-01-02 15:04:05"), state, b.Checksum, b.Position, b.GTID})
	}
	t.SetColumnConfigs([]table.ColumnConfig{wrap(7, 46), wrap(9, 40)})
	t.Render()
}

// Run implements verify: download, check the checksum, decrypt, decompress
// and read the whole tar, writing nothing; then check the entries a
// restore needs are there.
func (VerifyCmd) Run(app *App) error {
	cfg := app.Cfg
	if err := resolveDate(app); err != nil {
		return err
	}
	v2, err := findV2(app.Ctx, cfg)
	if err != nil {
		return err
	}
	if v2 != nil {
		return verifyV2(app, v2)
	}
	password, err := archive.ReadPasswordFile(cfg.Des3PasswordFile())
	if err != nil {
		return err
	}
	src, err := findSource(app.Ctx, cfg)
	if err != nil {
		return err
	}
	if src.algo == "" {
		app.Log.Warn("no checksum recorded for the archive; checking its structure only", "archive", src.name)
	}
	seen := map[string]bool{}
	tops := []string{cfg.BackupDataTail, cfg.BackupBinlogTail}
	st, err := readSource(app, src, password, "verify", func(in io.Reader, d archive.Digest) (archive.ExtractStats, error) {
		return archive.ReadLegacy(in, password, d, tops, func(name string, h *tar.Header, body io.Reader) error {
			seen[name] = true
			if h.Typeflag != tar.TypeDir && h.Typeflag != tar.TypeReg {
				return fmt.Errorf("entry %q is not a file or directory", name)
			}
			_, err := io.Copy(io.Discard, body)
			return err
		})
	})
	if err != nil {
		return err
	}
	if missing := missingEntries(cfg, seen); len(missing) > 0 {
		return fmt.Errorf("%s: the archive lacks %s", src.name, strings.Join(missing, ", "))
	}
	fmt.Fprintf(app.Stdout, "verify ok: %s size=%d %s:%s files=%d bytes=%d\n", src.name, src.size, src.algo, src.sum, st.Files, st.Bytes)
	return nil
}

// verifyV2 checks a v2 backup the same way: every object's size and
// SHA-256 against the manifest, age and zstd to the end, the xbstream
// chunk by chunk (CRC-32 of each), the binlog tar entry by entry, and the
// files a restore needs.
func verifyV2(app *App, v *v2Source) error {
	cfg := app.Cfg
	keys, err := openingKeys(cfg)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var xb archive.XbstreamStats
	if _, err := v.read(app, catalog.RoleData, keys, func(in io.Reader) error {
		xb, err = archive.ReadXbstream(in, func(name string, _ int64, _ []byte) error {
			seen[path.Join(cfg.BackupDataTail, name)] = true
			return nil
		})
		return err
	}); err != nil {
		return err
	}
	var tarStats archive.ExtractStats
	if _, err := v.read(app, catalog.RoleBinlogs, keys, func(in io.Reader) error {
		tarStats, err = archive.ReadTar(in, []string{cfg.BackupBinlogTail}, func(name string, h *tar.Header, body io.Reader) error {
			seen[name] = true
			_, err := io.Copy(io.Discard, body)
			return err
		})
		return err
	}); err != nil {
		return err
	}
	cnf, err := v.read(app, catalog.RoleMyCnf, keys, func(in io.Reader) error {
		_, err := io.Copy(io.Discard, in)
		return err
	})
	if err != nil {
		return err
	}
	if cnf > 0 {
		seen[path.Join(cfg.BackupDataTail, "my.cnf")] = true
	}
	if missing := missingEntries(cfg, seen); len(missing) > 0 {
		return fmt.Errorf("%s: the backup lacks %s", v, strings.Join(missing, ", "))
	}
	m := &v.manifest
	fmt.Fprintf(app.Stdout, "verify ok: %s format=v2 size=%d objects=%d xbstream_files=%d xbstream_bytes=%d binlog_files=%d snapshot=%s:%d gtid=%q\n",
		v, m.StoredBytes, len(m.Objects), xb.Files, xb.Bytes, tarStats.Files, m.BinlogFile, m.BinlogPos, m.GTID)
	return nil
}

// missingEntries lists what a restore needs and the archive lacks: the
// prepared backup's position and info files, my.cnf, a binlog index.
func missingEntries(cfg *conf.Config, seen map[string]bool) []string {
	var missing []string
	anyOf := func(dir string, names ...string) {
		for _, n := range names {
			if seen[path.Join(dir, n)] {
				return
			}
		}
		missing = append(missing, path.Join(dir, names[0]))
	}
	anyOf(cfg.BackupDataTail, xtrabackup.BinlogInfoFiles...)
	anyOf(cfg.BackupDataTail, xtrabackup.InfoFiles...)
	anyOf(cfg.BackupDataTail, "my.cnf")
	index := false
	for name := range seen {
		if path.Dir(name) == cfg.BackupBinlogTail && strings.HasSuffix(name, ".index") {
			index = true
		}
	}
	if !index {
		missing = append(missing, cfg.BackupBinlogTail+"/*.index")
	}
	return missing
}

// Run implements remove: the backup of --date-str, complete or not.
func (RemoveCmd) Run(app *App) error {
	cfg := app.Cfg
	if app.CLI == nil || app.CLI.DateStr == nil || cfg.DateStr == conf.LatestDate {
		return usageError{errors.New("remove needs --date-str with the date of the backup to remove")}
	}
	st, err := bucketOf(cfg, "remove")
	if err != nil {
		return err
	}
	bs, err := catalog.List(app.Ctx, st, string(cfg.Port))
	if err != nil {
		return err
	}
	var found []catalog.Backup
	for _, b := range bs {
		if b.Date == cfg.DateStr {
			found = append(found, b)
		}
	}
	if len(found) == 0 {
		return fmt.Errorf("no backup of port %s for date_str %s", cfg.Port, cfg.DateStr)
	}
	return removeBackups(app, st, found, false)
}

// Run implements prune: remove what retention_count / retention_days do
// not keep, never the newest complete backup, and dead runs' leftovers.
func (c *PruneCmd) Run(app *App) error {
	cfg := app.Cfg
	if cfg.RetentionCount == 0 && cfg.RetentionDays == 0 {
		return &conf.Error{File: cfg.Path, Key: "retention_count", Msg: "prune needs retention_count and/or retention_days"}
	}
	st, err := bucketOf(cfg, "prune")
	if err != nil {
		return err
	}
	bs, err := catalog.List(app.Ctx, st, string(cfg.Port))
	if err != nil {
		return err
	}
	policy := catalog.Policy{Count: cfg.RetentionCount, Age: time.Duration(cfg.RetentionDays) * 24 * time.Hour, PartialAge: deadRunAge}
	// An unfinished v2 run started on this host by a process that is gone
	// is dead now, not only after deadRunAge. (A run that completes in
	// between is kept: Remove checks the manifest again.)
	host := hostname()
	policy.Dead = func(b catalog.Backup) bool {
		return b.Format == catalog.FormatV2 && host != "" && b.Host == host && b.PID > 0 && !processAlive(b.PID)
	}
	gone := catalog.Prune(bs, policy, time.Now())
	if len(gone) == 0 {
		fmt.Fprintln(app.Stdout, "nothing to prune")
		return nil
	}
	return removeBackups(app, st, gone, c.DryRun)
}

// processAlive says whether a process with this pid exists here (one
// that exists but is not ours counts as alive: the safe answer).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func removeBackups(app *App, st *s3.Bucket, bs []catalog.Backup, dryRun bool) error {
	for _, b := range bs {
		if dryRun {
			fmt.Fprintf(app.Stdout, "would remove %s\n", b.Describe())
			continue
		}
		err := catalog.Remove(app.Ctx, st, b)
		if errors.Is(err, catalog.ErrNowComplete) {
			fmt.Fprintf(app.Stdout, "kept %s: %v\n", b.Key, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("remove %s: %w", b.Key, err)
		}
		fmt.Fprintf(app.Stdout, "removed %s\n", b.Describe())
	}
	return nil
}
