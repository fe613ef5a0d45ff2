package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFlagPrefixesExpandAsArgparseDid(t *testing.T) {
	var cli CLI
	parser, err := newParser(&cli, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, args, want string }{
		{"prefix and its value", "--conf /c.yaml backup", "--conf-path /c.yaml backup"},
		{"prefix=value", "--conf=/c.yaml backup", "--conf-path=/c.yaml backup"},
		{"prefix of a negatable flag", "--clean restore", "--clean-after-restore restore"},
		{"prefix of its --no- form", "--no-clean restore", "--no-clean-after-restore restore"},
		{"root flag after the subcommand", "restore --date 2024_01_02", "restore --date-str 2024_01_02"},
		{"subcommand flag after the subcommand", "restore --from 3310 --dry", "restore --from-port 3310 --dry-run"},
		{"exact name wins over a longer one", "status --socket /s.sock --socket-g '/r/*.sock'", "status --socket /s.sock --socket-glob '/r/*.sock'"},
		{"unique within the subcommand", "check-slave --sock /s.sock role", "check-slave --socket /s.sock role"},
		{"subcommand flag before the subcommand is kong's to refuse", "--sock /s.sock check-slave role", "--sock /s.sock check-slave role"},
		{"flag values stay", "--host --conf --instance --date backup", "--host --conf --instance-id --date backup"},
		{"short flag's value stays", "keygen -o --sign", "keygen -o --sign"},
		{"short flags without value", "-vv --conf /c backup", "-vv --conf-path /c backup"},
		{"positional arguments stay", "check-slave 3309 role --pro /p", "check-slave 3309 role --prometheus /p"},
		{"nothing after --", "backup -- --conf", "backup -- --conf"},
		{"unknown flag is kong's to refuse", "--bogus backup", "--bogus backup"},
		{"subcommand alias", "catchup-binlog --conf /c", "catchup-binlog --conf-path /c"},
		{"the legacy (root) flag wins a prefix a subcommand's flags share", "backup --conf /c --po 3309", "backup --conf-path /c --port 3309"},
		{"a fleet flag by its prefix", "backup --jo 2 --all-p", "backup --jobs 2 --all-ports"},
	} {
		got, err := expandFlagPrefixes(parser.Model, strings.Fields(c.args))
		if err != nil || strings.Join(got, " ") != c.want {
			t.Errorf("%s: %q gave %q, %v; want %q", c.name, c.args, strings.Join(got, " "), err, c.want)
		}
	}
	for _, c := range []struct{ args, want string }{
		{"--s3 x backup", "ambiguous option: --s3 could match --s3-access-key, --s3-bucket, --s3-host, --s3-secret-key"},
		{"--ver", "ambiguous option: --ver could match --verbose, --version"},
		{"status --sock /s", "ambiguous option: --sock could match --socket, --socket-glob"},
	} {
		if got, err := expandFlagPrefixes(parser.Model, strings.Fields(c.args)); err == nil || err.Error() != c.want {
			t.Errorf("%q gave %q, %v; want the error %q", c.args, got, err, c.want)
		}
	}
}

func TestAbbreviatedLegacyCommandLineRuns(t *testing.T) {
	dir := t.TempDir()
	p := confFile(t, dir, "")
	if err := os.MkdirAll(filepath.Join(dir, "data", "mysql-3310", "mysql"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The data dir of port 3310 holds data: exit 0 and silence prove
	// --conf, --po and --wh reached kong whole.
	args := []string{"--conf", p, "--po", "3310", "--clean", "--date", "2024_01_02", "--wh", "no-data-dir", "restore"}
	if r := runCLI(t, args...); r.code != 0 || r.stderr != "" {
		t.Errorf("%q: exit %d stderr %q, want 0 and nothing", args, r.code, r.stderr)
	}
	r := runCLI(t, "--conf", p, "--s3", "b", "backup")
	if r.code != exitUsage || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "--s3-bucket, --s3-host") {
		t.Errorf("ambiguous --s3: exit %d stderr %q, want exit 2 and one line naming the candidates", r.code, r.stderr)
	}
}
