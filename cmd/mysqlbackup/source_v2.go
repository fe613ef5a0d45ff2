package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/catalog"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/internal/progress"
	"github.com/mysqlbackup/mysqlbackup/s3"
)

// v2Source is a complete v2 backup to read.
type v2Source struct {
	st       s3.Store
	prefix   string
	manifest catalog.Manifest
}

func (v *v2Source) String() string { return "s3 " + v.prefix + catalog.ManifestName }

// findV2 returns the v2 backup of date_str, or nil when there is none (or
// no object store). When both formats exist for the date, the newer wins.
func findV2(ctx context.Context, in *instance.Instance) (*v2Source, error) {
	cfg := in.Cfg
	if cfg.S3Bucket == "" {
		return nil, nil
	}
	st, err := in.Store()
	if err != nil {
		return nil, err
	}
	v := &v2Source{st: st, prefix: catalog.V2Prefix(cfg.DateStr, string(cfg.Port))}
	err = catalog.ReadJSON(ctx, v.st, v.prefix+catalog.ManifestName, &v.manifest)
	if errors.Is(err, s3.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := v.manifest.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", v, err)
	}
	if legacy, err := v.st.Head(ctx, cfg.S3Key); err == nil && legacy.Modified.After(v.manifest.Finished) {
		return nil, nil
	}
	return v, nil
}

// openingKeys are the keys that decrypt v2 objects.
func openingKeys(cfg *conf.Config) (archive.V2Keys, error) {
	switch {
	case cfg.EncryptionIdentityFile != "":
		return archive.IdentityFile(cfg.IdentityFile())
	case cfg.EncryptionPassphraseFile != "":
		return archive.PassphraseFile(cfg.PassphraseFile())
	}
	return archive.V2Keys{}, &conf.Error{File: cfg.Path, Key: "encryption_identity_file",
		Msg: "a v2 backup is read with the age secret key (encryption_identity_file) or the passphrase (encryption_passphrase_file); neither is set"}
}

// read streams the object of role through its SHA-256 and age and zstd,
// and hands the plaintext to use, which must read it to its end. The
// object's size and SHA-256 are then compared with the manifest; on a
// failure the rest is hashed too, so corruption is named as such.
func (v *v2Source) read(app *App, role string, keys archive.V2Keys, use func(io.Reader) error) (plainBytes int64, err error) {
	o, ok := v.manifest.Object(role)
	if !ok {
		return 0, fmt.Errorf("the manifest lists no %s object", role)
	}
	rc, err := catalog.OpenPieces(app.Ctx, v.st, o, downloadAttempts)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	var stored, plain progress.Counter
	stop := progress.Report(app.Ctx, app.Log, app.Term, role, &stored, o.Size)
	defer stop()
	in := io.TeeReader(rc, &stored)
	// Each piece's SHA-256 is checked as it ends; the whole stream's is
	// another pass only when there are several pieces.
	var h hash.Hash
	if len(o.Pieces) > 1 {
		h = sha256.New()
		in = io.TeeReader(in, h)
	}
	mismatch := func() error {
		if h == nil {
			return nil
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != o.SHA256 {
			return fmt.Errorf("%w: sha256 of %s is %s, the manifest says %s", catalog.ErrChecksumMismatch, o.Key, got, o.SHA256)
		}
		return nil
	}
	fail := func(cause error) error {
		_, err := io.Copy(io.Discard, in)
		if err == nil {
			err = mismatch()
		}
		if errors.Is(err, catalog.ErrChecksumMismatch) {
			return fmt.Errorf("%w: the stored object is corrupt (%v)", err, cause)
		}
		return fmt.Errorf("%s: %w", o.Key, cause)
	}
	pr, err := archive.OpenV2(in, keys)
	if err != nil {
		if errors.Is(err, archive.ErrWrongKey) {
			return 0, fmt.Errorf("%s: %w (encrypted with %s)", o.Key, err, v.manifest.Encryption)
		}
		return 0, fail(err)
	}
	defer pr.Close()
	counted := io.TeeReader(pr, &plain)
	if err := use(counted); err != nil {
		return plain.N(), fail(err)
	}
	if n, err := io.Copy(io.Discard, counted); err != nil {
		return plain.N(), fail(err)
	} else if n > 0 {
		return plain.N(), fail(fmt.Errorf("%d bytes after the end of the %s", n, role))
	}
	if _, err := io.Copy(io.Discard, in); err != nil {
		return plain.N(), err
	}
	if err := mismatch(); err != nil {
		return plain.N(), err
	}
	if plain.N() != o.PlainSize {
		return plain.N(), fmt.Errorf("%s: %d bytes decoded, the manifest says %d", o.Key, plain.N(), o.PlainSize)
	}
	return plain.N(), nil
}
