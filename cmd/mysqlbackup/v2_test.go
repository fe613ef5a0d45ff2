package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

// v2Conf writes an age key pair into the instance's conf_base and returns
// the configuration of v2 backups encrypted to it.
func v2Conf(t *testing.T, in *testbed.Instance) string {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in.ConfBase, "age.key"), []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("archive_format: v2\nencryption_recipients:\n  - %s\nencryption_identity_file: age.key\nparallel: 2\n", id.Recipient())
}

func TestV2RestoreAndCatchupRecoverWhatOnlyThePeersHold(t *testing.T) {
	restoreAndCatchupScenario(t, func(in *testbed.Instance) string { return v2Conf(t, in) })
}
