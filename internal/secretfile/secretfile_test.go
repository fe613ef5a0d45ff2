package secretfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadRefusesASecretEveryUserMayRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "des3_password")
	if err := os.WriteFile(p, []byte("pw\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if data, err := Read(p, "des3 password file"); err != nil || string(data) != "pw\n" {
		t.Fatalf("mode 0640: %q, %v", data, err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Read(p, "des3 password file")
	if err == nil || !strings.Contains(err.Error(), "des3 password file "+p+" is readable by every user (mode 0644)") {
		t.Errorf("mode 0644: %v", err)
	}
}
