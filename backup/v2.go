package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/proc"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/s3"
	"github.com/mysqlbackup/mysqlbackup/xtrabackup"
)

// v2Format streams each part through zstd and age straight into its own
// object; the manifest, last, commits them.
type v2Format struct {
	keys     archive.V2Keys
	signer   *catalog.Signer // nil: manifests go unsigned
	partSize int64           // of the pieces (s3_part_size_mb)
	st       s3.Store
	log      interface{ Warn(string, ...any) }
	prefix   string // {date}/{port}/mysql-{port}.v2/
	run      string // this run's directory name
	started  time.Time
	expected int64 // the datadir's size: the data phase's progress total
	small    archive.SmallFiles
	objects  []catalog.Object
	manifest catalog.Manifest
	wrote    bool // started.json exists: remove the run on failure
	done     bool
	beat     *heartbeat
}

func (v *v2Format) runDir() string { return v.prefix + v.run + "/" }

func (v *v2Format) where() string { return "s3 " + v.runDir() }

// prepare reads the keys (encryption, signing) and readies the store.
func (v *v2Format) prepare(_ context.Context, r *run) error {
	cfg := r.cfg
	v.log = r.in.Log
	var err error
	if v.keys, err = r.in.SealingKeys(); err != nil {
		return err
	}
	if cfg.BackupSigningKey != "" {
		if v.signer, err = catalog.ReadSigner(cfg.SigningKeyFile()); err != nil {
			return err
		}
	}
	v.partSize = cfg.PartSize()
	v.st, err = r.in.Store()
	return err
}

// begin writes started.json, which makes the run visible (as
// incomplete) from now on, and starts its heartbeat.
func (v *v2Format) begin(ctx context.Context, r *run) error {
	cfg := r.cfg
	v.started = time.Now().UTC()
	v.prefix = catalog.V2Prefix(cfg.DateStr, string(cfg.Port))
	// The time orders runs; the run name keeps apart those of group
	// members that start in the same millisecond (cron at midnight).
	v.run = v.started.Format("20060102T150405.000Z") + "-" + instance.RunName()
	v.expected, _ = dirSize(cfg.MySQLDataDir) // for progress only
	s := catalog.Started{Run: v.run, Host: instance.Hostname(), Machine: instance.MachineID(), PID: os.Getpid(), Started: v.started}
	if err := catalog.PutJSON(ctx, v.st, v.runDir()+catalog.StartedName, s); err != nil {
		return fmt.Errorf("%s: %w", cfg.StoreName(), err)
	}
	v.wrote = true
	v.beat = startHeartbeat(ctx, v.st, v.runDir()+catalog.StartedName, s, v.log)
	return nil
}

// HeartbeatInterval is how often a running v2 backup rewrites its
// started.json: the heartbeat by which prune tells a long run from a
// dead one (catalog.HeartbeatDeadAge, many intervals).
var HeartbeatInterval = 5 * time.Minute

// heartbeat rewrites a run's started.json every HeartbeatInterval until
// stopped. A write that fails is logged and tried at the next beat.
type heartbeat struct {
	st   s3.Store
	key  string
	s    catalog.Started
	log  interface{ Warn(string, ...any) }
	quit chan struct{}
	done chan struct{}
	once sync.Once
	last time.Time // the last write that succeeded; read after stop
}

// startHeartbeat beats for the started.json s just written at key.
func startHeartbeat(ctx context.Context, st s3.Store, key string, s catalog.Started, log interface{ Warn(string, ...any) }) *heartbeat {
	h := &heartbeat{st: st, key: key, s: s, log: log, quit: make(chan struct{}), done: make(chan struct{}), last: time.Now()}
	go h.loop(ctx)
	return h
}

func (h *heartbeat) loop(ctx context.Context) {
	defer close(h.done)
	t := time.NewTicker(HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.quit:
			return
		case now := <-t.C:
			h.s.Heartbeat = now.UTC()
			if err := catalog.PutJSON(ctx, h.st, h.key, h.s); err != nil {
				h.log.Warn("heartbeat not written", "key", h.key, "err", err)
				continue
			}
			h.last = now
		}
	}
}

// stop ends the beats, once they are no longer written, and returns when
// the last one that succeeded was.
func (h *heartbeat) stop() time.Time {
	if h == nil {
		return time.Time{}
	}
	h.once.Do(func() { close(h.quit) })
	<-h.done
	return h.last
}

// beatFresh refuses to commit a run whose heartbeat is so old that a
// prune may have judged it dead and removed objects its manifest would
// name.
func beatFresh(last, now time.Time) error {
	if age := now.Sub(last); age > catalog.HeartbeatDeadAge/2 {
		return fmt.Errorf("%s last rewritten %s ago: a prune may have removed this run's objects; not committing it", catalog.StartedName, age.Round(time.Second))
	}
	return nil
}

// tasks: the engine's stream into the data object → the binlogs after
// the data → my.cnf → the manifest.
func (v *v2Format) tasks(r *run) []progress.Task {
	return []progress.Task{
		{Name: "data", Fn: func(ctx context.Context) error { return v.streamData(ctx, r) }},
		{Name: "binlogs", Fn: func(ctx context.Context) error { return v.putBinlogs(ctx, r) }},
		{Name: "my.cnf", Fn: func(ctx context.Context) error { return v.putMyCnf(ctx, r) }},
		{Name: "publish", Fn: func(ctx context.Context) error { return v.commit(ctx, r) }},
	}
}

func (v *v2Format) summary(r *run) string {
	m := &v.manifest
	binlogs := "bundled"
	if m.BinlogArchive != nil {
		binlogs = "archive:" + m.BinlogArchive.Series
	}
	return fmt.Sprintf("s3 %s%s format=v2 size=%d plain=%d snapshot=%s:%d gtid=%q binlogs=%s",
		v.prefix, catalog.ManifestName, m.StoredBytes, m.PlainBytes, m.BinlogFile, m.BinlogPos, m.GTID, binlogs)
}

// putObject seals what produce writes (zstd, age) into the object of role,
// hashing and counting the stored bytes, and records it.
func (v *v2Format) putObject(ctx context.Context, r *run, role string, expected int64, produce func(io.Writer) error) error {
	key := v.runDir() + catalog.ObjectNames[role]
	var plain progress.Counter
	stop := r.progress.Start(ctx, role, &plain, expected)
	defer stop()
	pw := catalog.NewPieceWriter(ctx, v.st, key, v.partSize)
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
		info, err := v.st.Head(ctx, pc.Key)
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
	r.in.Log.Info("object stored", "role", role, "key", key, "pieces", len(pw.Pieces()), "plain", progress.Bytes(plain.N()), "stored", progress.Bytes(o.Size))
	return nil
}

// streamData runs the engine with --stream=xbstream into the data object.
// The stream is read by an xbstream reader on its way (every chunk's
// CRC checked, the position and info files kept for the manifest), so a
// broken engine stream fails the backup, not a later restore.
func (v *v2Format) streamData(ctx context.Context, r *run) error {
	v.small = archive.SmallFiles{Want: map[string]bool{}}
	for _, names := range [][]string{xtrabackup.BinlogInfoFiles, xtrabackup.InfoFiles, {"xtrabackup_slave_info"}} {
		for _, n := range names {
			v.small.Want[n] = true
		}
	}
	// The engine writes into an OS pipe directly; the stream's end carries
	// its exit status, so a stream cut at a chunk boundary, which reads as
	// complete, still fails.
	out, err := r.engine.StartStream(ctx, r.backupOptions(), r.toolSpec())
	if err != nil {
		return err
	}
	err = v.putObject(ctx, r, catalog.RoleData, v.expected, func(w io.Writer) error {
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
	if err := v.readSnapshot(r); err != nil {
		return err
	}
	return r.afterData(ctx)
}

// readSnapshot takes the position and server from the files the engine
// put in its stream.
func (v *v2Format) readSnapshot(r *run) error {
	m, files := &v.manifest, v.small.Files
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
	if r.snapshot, err = xtrabackup.ParseBinlogInfo(info); err != nil {
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
	return nil
}

// putBinlogs lists the binlogs after the data and stores them with their
// index as a tar in the binlogs object, unless the binlog archive holds
// them from the snapshot on (backup_binlogs): the manifest then names
// that stretch instead.
func (v *v2Format) putBinlogs(ctx context.Context, r *run) error {
	if err := r.listBinlogs(ctx); err != nil {
		return err
	}
	a, err := v.fromArchive(ctx, r)
	if err != nil || a != nil {
		v.manifest.BinlogArchive = a
		return err
	}
	return v.putObject(ctx, r, catalog.RoleBinlogs, r.binlogBytes(), func(w io.Writer) error {
		tw := archive.NewTarWriter(w, r.owner())
		if err := r.addBinlogs(tw); err != nil {
			return err
		}
		return tw.Close()
	})
}

func (v *v2Format) putMyCnf(ctx context.Context, r *run) error {
	data, err := os.ReadFile(r.publishedMyCnf())
	if err != nil {
		return fmt.Errorf("instance my.cnf: %w", err)
	}
	return v.putObject(ctx, r, catalog.RoleMyCnf, int64(len(data)), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// commit writes the manifest: from now on the backup exists. Then the
// objects of an earlier run of the same date, which it replaces, go.
func (v *v2Format) commit(ctx context.Context, r *run) error {
	cfg, m := r.cfg, &v.manifest
	m.FormatVersion, m.Tool = catalog.BundledVersion, r.opts.Tool
	if m.BinlogArchive != nil {
		m.FormatVersion = catalog.ManifestVersion
	}
	m.Date, m.Port, m.Run, m.Host = cfg.DateStr, string(cfg.Port), v.run, instance.Hostname()
	m.InstanceID = mysqld.InstanceID(ctx, r.db)
	if err := r.db.QueryRowContext(ctx, "SELECT @@server_id").Scan(&m.ServerID); err != nil {
		return fmt.Errorf("server_id: %w", err)
	}
	if s := r.opts.Scratch; s != nil {
		m.ServerID, m.InstanceID, m.FromScratch = s.ServerID, s.InstanceID, true
	}
	m.Engine = filepath.Base(r.engine.Bin)
	m.BinlogFile, m.BinlogPos, m.GTID = r.snapshot.File, r.snapshot.Pos, r.snapshot.GTID
	if n := len(r.binlogs.Files); n > 0 {
		last := r.binlogs.Files[n-1]
		m.BinlogEnd = fmt.Sprintf("%s:%d", last.Name, last.Size)
	}
	m.BinlogEndGTID, m.TableCount, m.TestValue = r.endGTID, len(r.tables), r.testValue
	if len(r.tables) <= catalog.MaxTables {
		m.Tables = r.tables
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
	// No beat may rewrite started.json after it is deleted below.
	if err := beatFresh(v.beat.stop(), time.Now()); err != nil {
		return err
	}
	// Every piece is still there as stored: a manifest never commits
	// objects that went meanwhile (a prune that judged the run dead).
	for _, o := range v.objects {
		for _, pc := range o.StoredPieces() {
			info, err := v.st.Head(ctx, pc.Key)
			if err != nil {
				return fmt.Errorf("before the manifest: %w", err)
			}
			if info.Size != pc.Size {
				return fmt.Errorf("before the manifest: s3 has %d bytes at %s, stored %d", info.Size, pc.Key, pc.Size)
			}
		}
	}
	previous, err := catalog.SwapManifest(ctx, v.st, v.prefix, m, v.signer)
	if err != nil {
		return err
	}
	v.done = true
	r.size = m.StoredBytes
	if err := v.st.Delete(ctx, v.runDir()+catalog.StartedName); err != nil {
		r.in.Log.Warn("started.json not removed", "err", err)
	}
	if previous != nil && previous.Run != "" && previous.Run != v.run {
		r.in.Log.Info("this backup replaces the date's earlier one", "run", previous.Run, "host", previous.Host)
		if err := v.removeRun(ctx, previous.Run); err != nil {
			r.in.Log.Warn("the replaced backup's objects not removed (prune will)", "run", previous.Run, "err", err)
		}
	}
	return nil
}

// abort removes what a failed run stored: without a manifest it is not a
// backup, and its objects are only clutter.
func (v *v2Format) abort() {
	v.beat.stop()
	if v.done || !v.wrote {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := v.removeRun(ctx, v.run); err != nil {
		v.log.Warn("objects of the failed run not removed (prune will)", "run", v.runDir(), "err", err)
	}
}

// removeRun deletes every object of a run directory of this date and
// port (all pieces included) and aborts its unfinished uploads.
func (v *v2Format) removeRun(ctx context.Context, run string) error {
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
