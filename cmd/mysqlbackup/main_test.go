package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/internal/testbed"
	"github.com/mysqlbackup/mysqlbackup/restore"
)

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

// confFile writes a minimal legacy conf.yaml whose data dir is under dir.
func confFile(t *testing.T, dir, extra string) string {
	t.Helper()
	body := fmt.Sprintf("host: 127.0.0.1\ndata_base: %s/data\nbackup_base: %s/backup\nport: 3309\ninstance_id: 1\nroot_password: \"very-secret-root\"\n%s", dir, dir, extra)
	p := filepath.Join(dir, "backup_conf.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHelpListsEverySubcommandWithOneLine(t *testing.T) {
	r := runCLI(t, "--help")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	for _, want := range []string{"backup ", "restore ", "catchup_binlog (catchup-binlog)", "setup_replication (setup-replication)", "list ", "verify ", "remove ", "prune ", "status ", "check-slave ", "--conf-path", "--when", "--s3-secret-key", "--[no-]clean-after-restore"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestVersionPrintsTheVersion(t *testing.T) {
	if r := runCLI(t, "--version"); r.code != 0 || strings.TrimSpace(r.stdout) != "mysqlbackup dev" {
		t.Errorf("got %+v", r)
	}
}

func TestUnknownFlagIsAUsageErrorOnOneLine(t *testing.T) {
	r := runCLI(t, "--bogus", "backup")
	if r.code != exitUsage || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "--bogus") {
		t.Errorf("got exit %d stderr %q, want exit 2 and one line naming --bogus", r.code, r.stderr)
	}
}

func TestBadConfigExits2WithOneLineNamingTheKey(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, "--conf-path", confFile(t, dir, "s3_bukcet: x\n"), "backup")
	if r.code != exitUsage || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "s3_bukcet: unknown key") {
		t.Errorf("got exit %d stderr %q", r.code, r.stderr)
	}
}

func TestOptionsAreAcceptedBeforeAndAfterTheSubcommand(t *testing.T) {
	dir := t.TempDir()
	p := confFile(t, dir, "")
	if err := os.MkdirAll(filepath.Join(dir, "data", "mysql-3310", "mysql"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The data dir of port 3310 holds data, so --when no-data-dir is not met:
	// exit 0 and silence prove --port and --when were both parsed.
	for _, args := range [][]string{
		{"--conf-path", p, "--port", "3310", "--when", "no-data-dir", "restore"},
		{"restore", "--conf-path", p, "--port=3310", "--when=no-data-dir"},
		{"--conf-path", p, "restore", "--port", "3310", "--when", "no-data-dir"},
		{"--conf-path", p, "catchup-binlog", "--port", "3310", "--when", "no-data-dir"},
		{"--conf-path", p, "setup-replication", "--port", "3310", "--when", "no-data-dir"},
	} {
		if r := runCLI(t, args...); r.code != 0 || r.stderr != "" {
			t.Errorf("%q: exit %d stderr %q, want 0 and nothing", args, r.code, r.stderr)
		}
	}
}

func TestWhenNoDataDirRunsOnlyWithoutDataInTheDataDir(t *testing.T) {
	dir := t.TempDir()
	cfg, err := conf.Load(conf.Options{Path: confFile(t, dir, "")})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if err := checkWhen(t.Context(), cfg, "no-data-dir", log); err != nil {
		t.Errorf("missing data dir: got %v, want the command to run", err)
	}
	if err := os.MkdirAll(cfg.MySQLDataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := checkWhen(t.Context(), cfg, "no-data-dir", log); err != nil {
		t.Errorf("empty data dir (a freshly mounted disk): got %v, want the command to run", err)
	}
	if err := os.WriteFile(filepath.Join(cfg.MySQLDataDir, "ibdata1"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkWhen(t.Context(), cfg, "no-data-dir", log); !errors.Is(err, errWhenUnmet) {
		t.Errorf("data dir with data: got %v, want errWhenUnmet", err)
	}
	if err := os.WriteFile(filepath.Join(cfg.MySQLDataDir, restore.UnverifiedMarker), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkWhen(t.Context(), cfg, "no-data-dir", log); err != nil {
		t.Errorf("data dir of an unfinished restore: got %v, want the command to run", err)
	}
}

func TestWhenStoppedFollowsTheInstanceOnItsSocket(t *testing.T) {
	in := testbed.StartMariaDB(t, 1)
	dir := t.TempDir()
	extra := fmt.Sprintf("mysql_socket: %s\n", in.Socket)
	cfg, err := conf.Load(conf.Options{Path: confFile(t, dir, extra)})
	if err != nil {
		t.Fatal(err)
	}
	cfg.RootPassword = conf.Secret(in.RootPassword)
	log := slog.New(slog.DiscardHandler)
	if err := checkWhen(t.Context(), cfg, "stopped", log); !errors.Is(err, errWhenUnmet) {
		t.Errorf("running instance: got %v, want errWhenUnmet", err)
	}
	cfg.RootPassword = "wrong"
	if err := checkWhen(t.Context(), cfg, "stopped", log); err == nil || errors.Is(err, errWhenUnmet) || !strings.Contains(err.Error(), "1045") {
		t.Errorf("wrong password: got %v, want an access-denied error", err)
	}
	in.Stop()
	if err := checkWhen(t.Context(), cfg, "stopped", log); err != nil {
		t.Errorf("stopped instance: got %v, want the command to run", err)
	}
}

func TestVerboseDumpsTheConfigWithSecretsRedacted(t *testing.T) {
	dir := t.TempDir()
	p := confFile(t, dir, "s3_host: h\ns3_bucket: b\ns3_access_key: ak\ns3_secret_key: very-secret-s3\n")
	if err := os.MkdirAll(filepath.Join(dir, "data", "mysql-3309", "mysql"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "-v", "--conf-path", p, "--when", "no-data-dir", "restore")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "s3_secret_key: <redacted>") || !strings.Contains(r.stderr, "mysql_my_cnf: "+dir+"/data/mysql-3309/my.cnf") {
		t.Errorf("-v output lacks the config dump:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "very-secret") {
		t.Errorf("-v output shows a secret:\n%s", r.stderr)
	}
}

func TestCleanAfterRestoreFlagIsTriState(t *testing.T) {
	for args, want := range map[string]*bool{
		"":                         nil,
		"--clean-after-restore":    ptr(true),
		"--no-clean-after-restore": ptr(false),
	} {
		var cli CLI
		if _, err := parseOnly(&cli, strings.Fields(args+" restore")); err != nil {
			t.Fatal(err)
		}
		got := cli.overrides().CleanAfterRestore
		if (got == nil) != (want == nil) || (got != nil && *got != *want) {
			t.Errorf("%q: got %v, want %v", args, got, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func parseOnly(cli *CLI, args []string) (any, error) {
	p, err := newParser(cli, &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil {
		return nil, err
	}
	return p.Parse(args)
}
