package mysqld

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/internal/proc"
)

// Options is the server's own view of its options: the table of variables
// that `mysqld --defaults-file=F [args] --verbose --help` prints after it
// read every option file and argument and computed its defaults (the
// pid-file of a datadir and host name, the binlog name of a bare log-bin).
// Keys use dashes (pid-file); an option without a value maps to "".
type Options map[string]string

// ReadOptions asks the server binary bin for its view of the options a
// start with defaultsFile and args would use. Nothing is started.
func ReadOptions(ctx context.Context, bin, defaultsFile string, log *slog.Logger, args ...string) (Options, error) {
	var out strings.Builder
	spec := proc.Spec{
		Name: bin, Args: append(append([]string{"--defaults-file=" + defaultsFile}, args...), "--verbose", "--help"),
		Stdout: &out, Log: log, Redact: RedactOptionValues,
	}
	if err := proc.Run(ctx, spec); err != nil {
		return nil, fmt.Errorf("read the server's options from %s: %w", defaultsFile, err)
	}
	o := ParseOptions(out.String())
	if len(o) == 0 {
		return nil, fmt.Errorf("read the server's options from %s: %s --verbose --help printed no variable table", defaultsFile, filepath.Base(bin))
	}
	return o, nil
}

// ParseOptions reads the variable table of `mysqld --verbose --help`
// (MySQL and MariaDB print the same shape: a header, a dashed rule, then
// "name<spaces>value" lines up to a blank line).
func ParseOptions(text string) Options {
	o := Options{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	inTable := false
	for sc.Scan() {
		line := sc.Text()
		if !inTable {
			inTable = strings.HasPrefix(line, "----") && strings.Contains(line, " ----")
			continue
		}
		if strings.TrimSpace(line) == "" {
			break
		}
		name, value, _ := strings.Cut(line, " ")
		value = strings.TrimSpace(value)
		if value == "(No default value)" {
			value = ""
		}
		o[strings.ReplaceAll(name, "_", "-")] = value
	}
	return o
}

// FileNames are the server-side file names a start derives from its
// options, the ones a temporary server must share with the normal start:
// the relay logs and their index (one series per replication connection),
// the binary log and its index, and what they default from (the pid-file's
// base name, log-basename, the host name).
type FileNames struct {
	PidFileBase   string // base name of pid-file: default of relay logs and a bare log-bin
	LogBasename   string
	LogBin        string // the binlog basename as given or derived ("" when off)
	LogBinIndex   string
	RelayLog      string
	RelayLogIndex string
}

// FileNames picks the names out of o.
func (o Options) FileNames() FileNames {
	return FileNames{
		PidFileBase: filepath.Base(o["pid-file"]), LogBasename: o["log-basename"],
		LogBin: o["log-bin"], LogBinIndex: o["log-bin-index"],
		RelayLog: o["relay-log"], RelayLogIndex: o["relay-log-index"],
	}
}

// Diff lists, as "name: a != b", every name that differs between f and g.
func (f FileNames) Diff(g FileNames) []string {
	pairs := [][3]string{
		{"pid-file base name", f.PidFileBase, g.PidFileBase}, {"log-basename", f.LogBasename, g.LogBasename},
		{"log-bin", f.LogBin, g.LogBin}, {"log-bin-index", f.LogBinIndex, g.LogBinIndex},
		{"relay-log", f.RelayLog, g.RelayLog}, {"relay-log-index", f.RelayLogIndex, g.RelayLogIndex},
	}
	var out []string
	for _, p := range pairs {
		if p[1] != p[2] {
			out = append(out, fmt.Sprintf("%s %q != %q", p[0], p[1], p[2]))
		}
	}
	return out
}

// BinlogBasename is the absolute path of the binary log series a start
// with o writes (log-bin relative to the datadir), or "" when log-bin is
// off. dataDir overrides o's datadir when set.
func (o Options) BinlogBasename(dataDir string) string {
	bin := o["log-bin"]
	if bin == "" {
		return ""
	}
	if filepath.IsAbs(bin) {
		return filepath.Clean(bin)
	}
	if dataDir == "" {
		dataDir = o["datadir"]
	}
	return filepath.Join(dataDir, bin)
}

// A server quotes a bad option with its value, which may be a secret:
// unknown variable 'file_key_management_filekey=…', Error while setting
// value '…' to 'binlog_format'. A quote inside a value is one followed by
// a word character (it's).
var (
	quotedOption = regexp.MustCompile(`'(-*[A-Za-z0-9_.-]+)=(?:[^'\n]|'\w)*'`)
	quotedValue  = regexp.MustCompile(`([Vv]alue) '(?:[^'\n]|'\w)*'`)
)

// RedactOptionValues hides the values of the options a server message
// quotes, keeping their names.
func RedactOptionValues(s string) string {
	s = quotedOption.ReplaceAllString(s, "'$1=<redacted>'")
	return quotedValue.ReplaceAllString(s, "$1 '<redacted>'")
}
