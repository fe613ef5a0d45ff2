package catalog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/internal/secretfile"

	"github.com/mysqlbackup/mysqlbackup/s3"
)

// A v2 backup's objects are encrypted to public keys, so the backup host
// can write them but whoever can write the bucket can too. A manifest
// signed with the backup hosts' ed25519 key, and checked against pinned
// public keys on the restore host, proves which hosts wrote it; its
// SHA-256 sums then prove every object.

// SignatureName is the object, in the run directory the manifest names,
// that holds the manifest's signature.
const SignatureName = "manifest.sig"

const (
	publicPrefix = "ed25519:"
	secretPrefix = "ed25519-secret:"
)

// ErrSignature marks a manifest that is unsigned or not signed by a
// pinned key.
var ErrSignature = errors.New("manifest signature")

// Signer signs manifests with a secret key.
type Signer struct{ key ed25519.PrivateKey }

// VerifyKey is a pinned public key.
type VerifyKey struct{ key ed25519.PublicKey }

// NewSigningKey makes a key pair: the secret key file's content and the
// public key to pin on restore hosts.
func NewSigningKey() (secret, public string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(priv.Seed()), publicPrefix + base64.StdEncoding.EncodeToString(pub), nil
}

// ReadSigner reads a secret key file as NewSigningKey writes it (one
// "ed25519-secret:…" line; '#' lines are comments).
func ReadSigner(path string) (*Signer, error) {
	data, err := secretfile.Read(path, "backup_signing_key")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, secretPrefix) {
			continue
		}
		seed, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(line, secretPrefix))
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("backup_signing_key %s: not an ed25519 secret key", path)
		}
		return &Signer{key: ed25519.NewKeyFromSeed(seed)}, nil
	}
	return nil, fmt.Errorf("backup_signing_key %s: no %s… line", path, secretPrefix)
}

// Public is the signer's public key, as backup_verify_keys lists it.
func (s *Signer) Public() string {
	return publicPrefix + base64.StdEncoding.EncodeToString(s.key.Public().(ed25519.PublicKey))
}

// ParseVerifyKey parses a public key "ed25519:…".
func ParseVerifyKey(s string) (VerifyKey, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(s), publicPrefix))
	if !strings.HasPrefix(strings.TrimSpace(s), publicPrefix) || err != nil || len(raw) != ed25519.PublicKeySize {
		return VerifyKey{}, fmt.Errorf("want an ed25519 public key (%s…), got %q", publicPrefix, s)
	}
	return VerifyKey{key: raw}, nil
}

// signature is the content of a signature object.
type signature struct {
	Key       string `json:"key"`       // the public key, to name it in messages
	Signature string `json:"signature"` // ed25519 over the manifest's bytes
}

// PutManifest stores m at prefix/manifest.json; with a signer, its
// signature first, in m's run directory, so that a manifest is never
// visible before its signature.
func PutManifest(ctx context.Context, st s3.Store, prefix string, m *Manifest, signer *Signer) error {
	data, err := manifestBytes(ctx, st, prefix, m, signer)
	if err != nil {
		return err
	}
	return st.Put(ctx, prefix+ManifestName, bytes.NewReader(data), nil)
}

// manifestBytes is m's bytes, its signature stored when signer is set.
func manifestBytes(ctx context.Context, st s3.Store, prefix string, m *Manifest, signer *Signer) ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	if signer != nil {
		sig := signature{Key: signer.Public(), Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(signer.key, data))}
		if err := PutJSON(ctx, st, prefix+m.Run+"/"+SignatureName, sig); err != nil {
			return nil, fmt.Errorf("manifest signature: %w", err)
		}
	}
	return data, nil
}

// SwapManifest is PutManifest for a date other runs may commit at the
// same time (the members of a replication group back up one port on one
// date): the manifest is replaced only if it is still the one last read
// (in the store's compare-and-swap), else read again, until this run's is
// stored. It returns the manifest it replaced, nil if none, so that the
// caller removes that run's objects. Last writer wins, and no run's
// objects are left without a manifest that names them or a caller that
// removes them.
func SwapManifest(ctx context.Context, st s3.Store, prefix string, m *Manifest, signer *Signer) (*Manifest, error) {
	data, err := manifestBytes(ctx, st, prefix, m, signer)
	if err != nil {
		return nil, err
	}
	key := prefix + ManifestName
	for tries := 0; ; tries++ {
		var prev *Manifest
		old, tag, err := st.ReadTagged(ctx, key, MaxJSON)
		switch {
		case errors.Is(err, s3.ErrNotExist):
			tag = ""
		case err != nil:
			return nil, err
		default:
			prev = new(Manifest)
			if json.Unmarshal(old, prev) != nil {
				prev = nil // not ours to clean after; replaced all the same
			}
		}
		_, err = st.Swap(ctx, key, data, tag)
		switch {
		case err == nil:
			return prev, nil
		case !errors.Is(err, s3.ErrChanged) || tries >= 10:
			return nil, err
		}
	}
}

// ReadManifest reads the manifest at prefix/manifest.json. With keys, its
// signature must be one of theirs over its exact bytes; then the manifest
// must pass Check and name only objects in its own run directory.
func ReadManifest(ctx context.Context, st s3.Store, prefix string, keys []VerifyKey) (Manifest, error) {
	var m Manifest
	data, err := readSmall(ctx, st, prefix+ManifestName)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("%s: %w", prefix+ManifestName, err)
	}
	if err := m.Check(); err != nil {
		return m, fmt.Errorf("%s: %w", prefix+ManifestName, err)
	}
	if err := m.CheckRun(prefix); err != nil {
		return m, fmt.Errorf("%s: %w", prefix+ManifestName, err)
	}
	if len(keys) > 0 {
		if err := verifySignature(ctx, st, prefix, m.Run, data, keys); err != nil {
			return m, err
		}
	}
	return m, nil
}

func verifySignature(ctx context.Context, st s3.Store, prefix, run string, data []byte, keys []VerifyKey) error {
	key := prefix + run + "/" + SignatureName
	raw, err := readSmall(ctx, st, key)
	if errors.Is(err, s3.ErrNotExist) {
		return fmt.Errorf("%w: %s is not signed (no %s) and backup_verify_keys requires it", ErrSignature, prefix+ManifestName, key)
	}
	if err != nil {
		return err
	}
	var sig signature
	if err := json.Unmarshal(raw, &sig); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrSignature, key, err)
	}
	sum, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrSignature, key, err)
	}
	for _, k := range keys {
		if ed25519.Verify(k.key, data, sum) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is not signed by any key of backup_verify_keys (signed by %q)", ErrSignature, prefix+ManifestName, sig.Key)
}

// CheckRun refuses a manifest whose run is not one directory name, or
// that names an object or piece outside prefix/{run}/: a manifest never
// sends a restore to another backup's objects.
func (m *Manifest) CheckRun(prefix string) error {
	if m.Run == "" || strings.ContainsAny(m.Run, "/\\") || m.Run == "." || m.Run == ".." {
		return fmt.Errorf("manifest run %q is not a run directory name", m.Run)
	}
	dir := prefix + m.Run + "/"
	for _, o := range m.Objects {
		keys := []string{o.Key}
		for _, p := range o.Pieces {
			keys = append(keys, p.Key)
		}
		for _, k := range keys {
			if !strings.HasPrefix(k, dir) || strings.Contains(strings.TrimPrefix(k, dir), "..") {
				return fmt.Errorf("manifest object %q is outside its run directory %s", k, dir)
			}
		}
	}
	return nil
}

// readSmall reads a small object whole (at most MaxJSON bytes).
func readSmall(ctx context.Context, st s3.Store, key string) ([]byte, error) {
	rc, err := st.Get(ctx, key, 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, MaxJSON+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if len(data) > MaxJSON {
		return nil, fmt.Errorf("%s is over the %d MiB this mysqlbackup reads", key, MaxJSON>>20)
	}
	return data, nil
}
