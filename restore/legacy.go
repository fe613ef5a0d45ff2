package restore

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// legacySource is a legacy archive (tar | gzip | des3, local or in S3) and
// the checksum it must have.
type legacySource struct {
	name     string // s3 key or file path, for messages
	bytes    int64
	open     func(context.Context) (io.ReadCloser, error)
	algo     string // "sha1", "md5" or "" when nothing records one
	sum      string
	password []byte
	meta     map[string]string // the S3 object's metadata
	cfg      *conf.Config
	progress progress.Reporter
}

func (s *legacySource) String() string { return s.name }
func (s *legacySource) size() int64    { return s.bytes }
func (s *legacySource) signed() bool   { return false }

func (s *legacySource) recorded() Recorded {
	return Recorded{EndGTID: s.meta[catalog.MetaEndGTID], TestValue: s.meta[catalog.MetaTestValue]}
}

// hasher returns a hash for the recorded checksum, or nil without one.
func (s *legacySource) hasher() hash.Hash {
	switch s.algo {
	case "sha1":
		return sha1.New()
	case "md5":
		return md5.New()
	}
	return nil
}

// findLegacy locates the archive of date: the S3 object (with its sha1,
// or md5 metadata) or the local archive (with the .sha1 beside it).
func findLegacy(ctx context.Context, in *instance.Instance, date string) (*legacySource, error) {
	cfg := in.Cfg
	if !cfg.HasStore() {
		return localSource(cfg.BackupTgzDes3)
	}
	st, err := in.Store()
	if err != nil {
		return nil, err
	}
	key := cfg.S3KeyFor(date)
	info, err := st.Head(ctx, key)
	if errors.Is(err, s3.ErrNotExist) {
		return nil, missingBackupError(ctx, st, cfg, date, key)
	}
	if err != nil {
		return nil, err
	}
	src := &legacySource{name: "s3 key " + key, bytes: info.Size, meta: info.Metadata}
	src.open = func(ctx context.Context) (io.ReadCloser, error) {
		return s3.OpenResuming(ctx, st, key, info.Size, downloadAttempts)
	}
	if v := info.Metadata["sha1"]; v != "" {
		src.algo, src.sum = "sha1", strings.ToLower(v)
	} else if v := info.Metadata["md5"]; v != "" {
		src.algo, src.sum = "md5", strings.ToLower(v)
	}
	return src, nil
}

func localSource(path string) (*legacySource, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("no local backup archive: %w (and no s3_bucket to download from)", err)
	}
	src := &legacySource{name: path, bytes: fi.Size(), open: func(context.Context) (io.ReadCloser, error) { return os.Open(path) }}
	if data, err := os.ReadFile(path + ".sha1"); err == nil {
		fields := strings.Fields(string(data))
		if len(fields) == 0 || len(fields[0]) != 40 {
			return nil, fmt.Errorf("%s.sha1: not a sha1sum line", path)
		}
		src.algo, src.sum = "sha1", strings.ToLower(fields[0])
	}
	return src, nil
}

// LocalBackup describes the local archive of a setup without S3, or is
// nil when there is none.
func LocalBackup(cfg *conf.Config) (*catalog.Backup, error) {
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
	b := &catalog.Backup{Date: "local", Port: string(cfg.Port), Format: catalog.FormatLegacy, Key: src.name, Size: src.bytes, Modified: fi.ModTime(), Complete: true}
	if src.algo != "" {
		b.Checksum = src.algo + ":" + src.sum
	}
	return b, nil
}

// fetch: one step, the archive streamed through its checksum into the
// unpacked dirs under backup_base. The datadir is not touched.
func (s *legacySource) fetch(*run) []progress.Task {
	return []progress.Task{{Name: "download", Fn: func(ctx context.Context) error {
		if s.algo == "" {
			s.progress.Log.Warn("no checksum recorded for the archive; relying on gzip's CRC", "archive", s.name)
		}
		_, err := s.read(ctx, "download", func(in io.Reader, d archive.Digest) (archive.ExtractStats, error) {
			return archive.ExtractLegacyAs(in, s.password, d, s.cfg.BackupBase, s.tops())
		})
		return err
	}}}
}

// tops maps the archive's top dirs, named after the port it was taken on
// (the source port of a copy restored into another one), to the unpacked
// dirs of this config.
func (s *legacySource) tops() map[string]string {
	cfg := s.cfg
	if cfg.FromPort == "" {
		return map[string]string{cfg.BackupDataTail: cfg.BackupDataTail, cfg.BackupBinlogTail: cfg.BackupBinlogTail}
	}
	// A tail the config sets (not the one derived from its port) names
	// the archive's entries too.
	src := func(tail, kind string) string {
		if tail != "mysql-"+string(cfg.Port)+"-"+kind {
			return tail
		}
		return "mysql-" + string(cfg.FromPort) + "-" + kind
	}
	return map[string]string{src(cfg.BackupDataTail, "backup"): cfg.BackupDataTail, src(cfg.BackupBinlogTail, "binlog"): cfg.BackupBinlogTail}
}

// verify downloads the archive, checks its checksum, decrypts, decompresses
// and reads the whole tar, writing nothing; then checks the entries a
// restore needs are there.
func (s *legacySource) verify(ctx context.Context) (string, error) {
	cfg := s.cfg
	if s.algo == "" {
		s.progress.Log.Warn("no checksum recorded for the archive; checking its structure only", "archive", s.name)
	}
	seen := map[string]bool{}
	as := s.tops()
	var tops []string
	for t := range as {
		tops = append(tops, t)
	}
	st, err := s.read(ctx, "verify", func(in io.Reader, d archive.Digest) (archive.ExtractStats, error) {
		return archive.ReadLegacy(in, s.password, d, tops, func(name string, h *tar.Header, body io.Reader) error {
			top, rest, _ := strings.Cut(name, "/")
			seen[path.Join(as[top], rest)] = true
			if h.Typeflag != tar.TypeDir && h.Typeflag != tar.TypeReg {
				return fmt.Errorf("entry %q is not a file or directory", name)
			}
			_, err := io.Copy(io.Discard, body)
			return err
		})
	})
	if err != nil {
		return "", err
	}
	if missing := missingEntries(cfg, seen); len(missing) > 0 {
		return "", fmt.Errorf("%s: the archive lacks %s", s.name, strings.Join(missing, ", "))
	}
	return fmt.Sprintf("%s size=%d %s:%s files=%d bytes=%d", s.name, s.bytes, s.algo, s.sum, st.Files, st.Bytes), nil
}

// read streams the archive through its checksum, finds the des3 digest
// (des3_digest first), and hands the plaintext-to-be stream to use, which
// must read it to the end; then the checksum is compared. Only after that
// is what use did worth anything.
func (s *legacySource) read(ctx context.Context, phase string,
	use func(io.Reader, archive.Digest) (archive.ExtractStats, error)) (archive.ExtractStats, error) {
	preferred, err := archive.ParseDigest(s.cfg.Des3Digest)
	if err != nil {
		return archive.ExtractStats{}, err
	}
	rc, err := s.open(ctx)
	if err != nil {
		return archive.ExtractStats{}, err
	}
	defer rc.Close()
	var c progress.Counter
	stop := s.progress.Start(ctx, phase, &c, s.bytes)
	defer stop()
	var in io.Reader = io.TeeReader(rc, &c)
	h := s.hasher()
	if h != nil {
		in = io.TeeReader(in, h)
	}
	br := bufio.NewReaderSize(in, 1<<20)
	digest, err := archive.DetectDigest(br, s.password, preferred)
	if err != nil {
		return archive.ExtractStats{}, fmt.Errorf("%s: %w", s.name, err)
	}
	st, err := use(br, digest)
	if err != nil {
		return st, s.corruptOrBroken(h, br, err)
	}
	if h != nil {
		if got := hex.EncodeToString(h.Sum(nil)); got != s.sum {
			return st, fmt.Errorf("%w: %s of %s is %s, recorded %s", catalog.ErrChecksumMismatch, s.algo, s.name, got, s.sum)
		}
	}
	s.progress.Log.Info("archive read to its end and verified", "files", st.Files, "bytes", progress.Bytes(st.Bytes), "digest", digest, "checksum", s.algo)
	return st, nil
}

// corruptOrBroken explains an archive that failed to read. With a recorded
// checksum the rest of the stream is hashed too: a mismatch means the
// stored object is corrupt, which says more than where the damage surfaced.
func (s *legacySource) corruptOrBroken(h hash.Hash, rest io.Reader, cause error) error {
	if h != nil {
		if _, err := io.Copy(io.Discard, rest); err == nil {
			if got := hex.EncodeToString(h.Sum(nil)); got != s.sum {
				return fmt.Errorf("%w: %s of %s is %s, recorded %s: the stored archive is corrupt (%v)", catalog.ErrChecksumMismatch, s.algo, s.name, got, s.sum, cause)
			}
		}
	}
	return fmt.Errorf("%s: %w", s.name, cause)
}
