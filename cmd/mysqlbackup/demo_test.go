package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
)

// TestDemoScriptEndsWithDataMatched runs the README's "run it" command,
// scripts/demo.sh, end to end and checks its verdict.
func TestDemoScriptEndsWithDataMatched(t *testing.T) {
	testbed.Need(t, "mariadbd", "mariadb-install-db", "mariabackup", "mariadb", "mariadb-binlog", "go", "ss", "shuf")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "../../scripts/demo.sh")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "data matched: nothing was lost") {
		t.Errorf("demo.sh did not report matching data:\n%s", out)
	}
}
