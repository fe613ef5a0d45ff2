package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"filippo.io/age"

	"github.com/mysqlbackup/mysqlbackup/catalog"
)

// KeygenCmd is `mysqlbackup keygen`: an age key pair for v2 backups, so
// no other tool is needed (age-keygen writes the same format), or with
// --signing the ed25519 pair that signs and verifies manifests.
type KeygenCmd struct {
	Output  string `name:"output" short:"o" required:"" placeholder:"FILE" help:"Write the secret key here (mode 0600; refuses to overwrite); the public key goes to stdout."`
	Signing bool   `name:"signing" help:"Make a manifest signing key (backup_signing_key; its public key goes in backup_verify_keys) instead of an age encryption key."`
}

func (KeygenCmd) configOptional() {}

// Run implements keygen.
func (c *KeygenCmd) Run(ctx context.Context, app *App) error {
	secret, public, err := c.newKey()
	if err != nil {
		return err
	}
	body := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", time.Now().Format(time.RFC3339), public, secret)
	f, err := os.OpenFile(c.Output, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("--output %s exists: a key is never overwritten", c.Output)
	}
	if err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	_, err = f.WriteString(body)
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		os.Remove(c.Output)
		return fmt.Errorf("--output: %w", err)
	}
	fmt.Fprintln(app.Stdout, public)
	return nil
}

// newKey makes the pair --signing asks for.
func (c *KeygenCmd) newKey() (secret, public string, err error) {
	if c.Signing {
		return catalog.NewSigningKey()
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", "", err
	}
	return id.String(), id.Recipient().String(), nil
}
