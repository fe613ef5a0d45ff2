package main

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/xtrabackup"
)

// VerifyCmd is `mysqlbackup verify`.
type VerifyCmd struct{}

// Run implements verify: download, check the checksum, decrypt, decompress
// and read the whole tar, writing nothing; then check the entries a
// restore needs are there.
func (VerifyCmd) Run(app *App) error {
	cfg := app.Cfg
	if err := resolveDate(app); err != nil {
		return err
	}
	v2, err := findV2(app.Ctx, app.inst())
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
	src, err := findSource(app.Ctx, app.inst())
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
