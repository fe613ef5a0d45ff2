package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/internal/proc"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/s3"
	"github.com/mysqlbackup/mysqlbackup/xtrabackup"
)

// v2Backup is the state of a v2 backup: each part goes through zstd and
// age straight into its own object; the manifest, last, commits them.
type v2Backup struct {
	keys     archive.V2Keys
	sc       s3.Config
	st       s3.Store
	prefix   string // {date}/{port}/mysql-{port}.v2/
	run      string // this run's directory name
	started  time.Time
	expected int64 // the datadir's size: the data phase's progress total
	small    archive.SmallFiles
	objects  []catalog.Object
	manifest catalog.Manifest
	wrote    bool // started.json exists: remove the run on failure
	done     bool
}

func (v *v2Backup) runDir() string { return v.prefix + v.run + "/" }

// checkV2 prepares a v2 backup: keys, store, and started.json, which makes
// the run visible (as incomplete) from now on.
func (b *backupRun) checkV2() error {
	cfg := b.Cfg
	v := &v2Backup{started: time.Now().UTC()}
	var err error
	switch {
	case len(cfg.EncryptionRecipients) > 0:
		v.keys, err = archive.RecipientKeys(cfg.EncryptionRecipients)
	case cfg.EncryptionPassphraseFile != "":
		v.keys, err = archive.PassphraseFile(cfg.PassphraseFile())
	default:
		err = &conf.Error{File: cfg.Path, Key: "encryption_recipients", Msg: "archive_format v2 needs age public keys here (or encryption_passphrase_file)"}
	}
	if err != nil {
		return err
	}
	if v.sc, err = b.inst().StoreConfig(); err != nil {
		return err
	}
	if v.st, err = b.inst().Store(); err != nil {
		return err
	}
	v.prefix = catalog.V2Prefix(cfg.DateStr, string(cfg.Port))
	v.run = v.started.Format("20060102T150405.000Z")
	v.expected, _ = dirSize(cfg.MySQLDataDir) // for progress only
	b.v2 = v
	s := catalog.Started{Run: v.run, Host: hostname(), PID: os.Getpid(), Started: v.started}
	if err := catalog.PutJSON(b.Ctx, v.st, v.runDir()+catalog.StartedName, s); err != nil {
		return fmt.Errorf("s3 bucket %s: %w", cfg.S3Bucket, err)
	}
	v.wrote = true
	return nil
}

// dirSize sums the sizes of the regular files below dir.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if fi, err := d.Info(); err == nil && d.Type().IsRegular() {
			total += fi.Size()
		}
		return nil
	})
	return total, err
}

// putObject seals what produce writes (zstd, age) into the object of role,
// hashing and counting the stored bytes, and records it.
func (b *backupRun) putObject(role string, expected int64, produce func(io.Writer) error) error {
	v := b.v2
	key := v.runDir() + catalog.ObjectNames[role]
	var plain progress.Counter
	stop := progress.Report(b.App.Ctx, b.App.Log, b.App.Term, role, &plain, expected)
	defer stop()
	pw := catalog.NewPieceWriter(b.Ctx, v.st, key, v.sc.PartSize)
	err := func() error {
		sw, err := archive.SealV2(pw, v.keys)
		if err != nil {
			return err
		}
		if err := produce(io.MultiWriter(sw, &plain)); err != nil {
			return err
		}
		if err := sw.Close(); err != nil {
			return err
		}
		return pw.Close()
	}()
	if err != nil {
		pw.Abort(err)
		return fmt.Errorf("%s object: %w", role, err)
	}
	for _, pc := range pw.Pieces() { // the store holds what was sent, in number of bytes
		info, err := v.st.Head(b.Ctx, pc.Key)
		if err != nil {
			return fmt.Errorf("%s object: %w", role, err)
		}
		if info.Size != pc.Size {
			return fmt.Errorf("%s object: s3 has %d bytes at %s, sent %d", role, info.Size, pc.Key, pc.Size)
		}
	}
	o := catalog.Object{Role: role, Key: key, Size: pw.Size(), SHA256: pw.SHA256(), PlainSize: plain.N()}
	if len(pw.Pieces()) > 1 {
		o.Pieces = pw.Pieces()
	}
	v.objects = append(v.objects, o)
	b.Log.Info("object stored", "role", role, "key", key, "pieces", len(pw.Pieces()), "plain", progress.Bytes(plain.N()), "stored", progress.Bytes(o.Size))
	return nil
}

// streamData runs the engine with --stream=xbstream into the data object.
// The stream is read by an xbstream reader on its way (every chunk's
// CRC checked, the position and info files kept for the manifest), so a
// broken engine stream fails the backup, not a later restore.
func (b *backupRun) streamData() error {
	cfg, v := b.Cfg, b.v2
	if err := os.MkdirAll(cfg.BackupDataDir, 0o750); err != nil {
		return err
	}
	v.small = archive.SmallFiles{Want: map[string]bool{}}
	for _, names := range [][]string{xtrabackup.BinlogInfoFiles, xtrabackup.InfoFiles, {"xtrabackup_slave_info"}} {
		for _, n := range names {
			v.small.Want[n] = true
		}
	}
	// The engine writes into an OS pipe directly; the stream's end carries
	// its exit status, so a stream cut at a chunk boundary, which reads as
	// complete, still fails.
	out, err := b.engine.StartStream(b.Ctx, xtrabackup.BackupOptions{DefaultsFile: b.creds, TargetDir: cfg.BackupDataDir, Parallel: cfg.Parallel}, b.toolSpec())
	if err != nil {
		return err
	}
	err = b.putObject(catalog.RoleData, v.expected, func(w io.Writer) error {
		_, err := archive.ReadXbstream(io.TeeReader(out, w), v.small.Visit)
		return err
	})
	// An engine that died explains a broken stream better than the stream
	// does; one still running when the upload failed is stopped by Close,
	// and then the upload's error is the one.
	cerr := out.Close()
	if ee, ok := errors.AsType[*proc.ExitError](err); ok {
		return ee
	}
	if err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	return b.readSnapshot()
}

// readSnapshot takes the position and server from the files the engine
// put in its stream.
func (b *backupRun) readSnapshot() error {
	v, m := b.v2, &b.v2.manifest
	files := v.small.Files
	first := func(names []string) string {
		for _, n := range names {
			if data, ok := files[n]; ok {
				return string(data)
			}
		}
		return ""
	}
	info := first(xtrabackup.BinlogInfoFiles)
	if info == "" {
		return fmt.Errorf("the engine's stream holds no %s (binary logging off?)", strings.Join(xtrabackup.BinlogInfoFiles, " or "))
	}
	var err error
	if b.snapshot, err = xtrabackup.ParseBinlogInfo(info); err != nil {
		return err
	}
	text := first(xtrabackup.InfoFiles)
	srv, err := xtrabackup.ParseServer(text)
	if err != nil {
		return err
	}
	m.Flavor, m.ServerVersion = string(srv.Flavor), srv.Text
	m.EngineVersion = xtrabackup.InfoField(text, "tool_version")
	m.SlaveInfo = strings.TrimSpace(string(files["xtrabackup_slave_info"]))
	if b.cmd.afterData != nil {
		return b.cmd.afterData(b.Ctx)
	}
	return nil
}

// putBinlogs lists the binlogs after the data and stores them with their
// index as a tar in the binlogs object.
func (b *backupRun) putBinlogs() error {
	if err := b.listBinlogs(); err != nil {
		return err
	}
	var total int64
	for _, f := range b.binlogs.Files {
		total += f.Size
	}
	return b.putObject(catalog.RoleBinlogs, total, func(w io.Writer) error {
		tw := archive.NewTarWriter(w, archive.Owner{User: b.Cfg.MySQLUser, Group: b.Cfg.MySQLUserGroup})
		if err := b.addBinlogs(tw); err != nil {
			return err
		}
		return tw.Close()
	})
}

func (b *backupRun) putMyCnf() error {
	data, err := os.ReadFile(b.Cfg.MySQLMyCnf)
	if err != nil {
		return fmt.Errorf("instance my.cnf: %w", err)
	}
	return b.putObject(catalog.RoleMyCnf, int64(len(data)), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// commitV2 writes the manifest: from now on the backup exists. Then the
// objects of an earlier run of the same date, which it replaces, go.
func (b *backupRun) commitV2() error {
	cfg, v, m := b.Cfg, b.v2, &b.v2.manifest
	var previous catalog.Manifest
	prevErr := catalog.ReadJSON(b.Ctx, v.st, v.prefix+catalog.ManifestName, &previous)
	m.FormatVersion, m.Tool = catalog.ManifestVersion, "mysqlbackup "+version
	m.Date, m.Port, m.Run, m.Host = cfg.DateStr, string(cfg.Port), v.run, hostname()
	m.InstanceID = instanceID(b.Ctx, b.db)
	m.Engine = filepath.Base(b.engine.Bin)
	m.BinlogFile, m.BinlogPos, m.GTID = b.snapshot.File, b.snapshot.Pos, b.snapshot.GTID
	if n := len(b.binlogs.Files); n > 0 {
		last := b.binlogs.Files[n-1]
		m.BinlogEnd = fmt.Sprintf("%s:%d", last.Name, last.Size)
	}
	m.Compression, m.Encryption = archive.V2Compression, archive.V2Encryption+"-"+v.keys.Kind
	m.Recipients = cfg.EncryptionRecipients
	m.Started, m.Finished = v.started, time.Now().UTC()
	m.Objects = v.objects
	for _, o := range v.objects {
		m.PlainBytes += o.PlainSize
		m.StoredBytes += o.Size
	}
	if err := m.Check(); err != nil {
		return err
	}
	if err := catalog.PutJSON(b.Ctx, v.st, v.prefix+catalog.ManifestName, m); err != nil {
		return err
	}
	v.done = true
	b.size = m.StoredBytes
	if err := v.st.Delete(b.Ctx, v.runDir()+catalog.StartedName); err != nil {
		b.Log.Warn("started.json not removed", "err", err)
	}
	if prevErr == nil && previous.Run != "" && previous.Run != v.run {
		if err := v.removeRun(b.Ctx, previous.Run); err != nil {
			b.Log.Warn("the replaced backup's objects not removed (prune will)", "run", previous.Run, "err", err)
		}
	}
	return nil
}

// abort removes what a failed run stored: without a manifest it is not a
// backup, and its objects are only clutter.
func (v *v2Backup) abort(log interface{ Warn(string, ...any) }) {
	if v == nil || v.done || !v.wrote {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := v.removeRun(ctx, v.run); err != nil {
		log.Warn("objects of the failed run not removed (prune will)", "run", v.runDir(), "err", err)
	}
}

// removeRun deletes every object of a run directory of this date and
// port (all pieces included) and aborts its unfinished uploads.
func (v *v2Backup) removeRun(ctx context.Context, run string) error {
	b := catalog.Backup{Format: catalog.FormatV2, Key: v.prefix + run + "/", Run: run}
	objs, err := v.st.List(ctx, b.Key)
	if err != nil {
		return err
	}
	for _, o := range objs {
		b.Keys = append(b.Keys, o.Key)
	}
	return catalog.Remove(ctx, v.st, b)
}

// instanceID names the server: server_uuid on MySQL, server_id on MariaDB.
func instanceID(ctx context.Context, db *sql.DB) string {
	var uuid string
	if err := db.QueryRowContext(ctx, "SELECT @@server_uuid").Scan(&uuid); err == nil && uuid != "" {
		return uuid
	}
	var id string
	if err := db.QueryRowContext(ctx, "SELECT @@server_id").Scan(&id); err == nil {
		return "server_id:" + id
	}
	return ""
}

// hostname is this host's name ("" if unknown).
func hostname() string {
	h, _ := os.Hostname()
	return h
}
