// Command mysqlbackup backs up and restores MySQL and MariaDB instances
// around Percona XtraBackup / MariaDB mariabackup. It is a drop-in
// replacement for the legacy mysqlbackup.py: same conf.yaml, same command
// lines, same S3 layout and archive format.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	"golang.org/x/term"

	"github.com/mysqlbackup/mysqlbackup/conf"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes: 0 success (and an unmet --when), 1 failure, 2 usage or config.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// memoryLimit is the soft heap limit unless GOMEMLIMIT says otherwise: the
// streams hold a few buffers of fixed size, so a tight limit keeps the
// process small at any data size without costing throughput.
const memoryLimit = 96 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	// A lost stderr (the fleet driver or the terminal gone) must not kill
	// a run before it cleans up: writes then fail with EPIPE instead.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// kongExit carries the status of --help and --version out of kong.
type kongExit int

// usageError is a command line kong rejected.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

// run parses args, runs the command and maps its error to an exit code,
// printing one line for a failure.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	var cli CLI
	parser, err := newParser(&cli, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mysqlbackup: %v\n", err)
		return exitFailure
	}
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(kongExit)
			if !ok {
				panic(r)
			}
			code = int(c)
		}
	}()
	args, err = expandFlagPrefixes(parser.Model, args)
	if err != nil {
		return report(stdout, stderr, "", usageError{err})
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		return report(stdout, stderr, "", usageError{err})
	}
	if fc, ok := kctx.Selected().Target.Addr().Interface().(fleetCommand); ok && fc.fleet().requested() {
		name := strings.Fields(kctx.Command())[0]
		return report(stdout, stderr, kctx.Command(), runFleet(ctx, &cli, fc.fleet(), name, args, stdout, stderr))
	}
	logw := stderr
	if _, probe := kctx.Selected().Target.Addr().Interface().(quietProbe); probe && cli.Verbose == 0 {
		logw = io.Discard
	}
	err = execute(ctx, &cli, kctx, newLogger(logw, cli.Verbose), stdout, terminal(logw))
	if exitCode(err) == exitUsage {
		logw = stderr // a command line or config the probe cannot use still says why
	}
	return report(stdout, logw, kctx.Command(), err)
}

// quietProbe is a command whose stderr is silent unless -v: a monitoring
// probe whose caller (a Zabbix agent) takes whatever it prints as the value.
type quietProbe interface{ quietWithoutVerbose() }

// report prints what a failed command prints: the probe's value on stdout
// (exitError), the one error line on stderr. It returns the exit code.
func report(stdout, stderr io.Writer, cmd string, err error) int {
	if exitCode(err) == exitOK {
		return exitOK
	}
	var xe *exitError
	if errors.As(err, &xe) && xe.out != "" {
		fmt.Fprintln(stdout, xe.out)
	}
	prefix := "mysqlbackup"
	if f := strings.Fields(cmd); len(f) > 0 {
		prefix += " " + f[0] // the command, without kong's <arg> placeholders
	}
	fmt.Fprintf(stderr, "%s: error: %v\n", prefix, err)
	return exitCode(err)
}

// exitCode maps a command's error to the process's exit status.
func exitCode(err error) int {
	if err == nil || errors.Is(err, errWhenUnmet) {
		return exitOK
	}
	var ce *conf.Error
	var ue usageError
	var xe *exitError
	switch {
	case errors.As(err, &ce), errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &xe):
		return xe.code
	}
	return exitFailure
}

// terminal returns w when it is a terminal, else nil.
func terminal(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return w
	}
	return nil
}

func newLogger(w io.Writer, verbose int) *slog.Logger {
	level := slog.LevelInfo
	if verbose > 0 {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// newParser builds the kong parser of the legacy command line.
func newParser(cli *CLI, stdout, stderr io.Writer) (*kong.Kong, error) {
	return kong.New(cli,
		kong.Name("mysqlbackup"),
		kong.Description("Back up and restore MySQL/MariaDB instances with XtraBackup/mariabackup (drop-in for mysqlbackup.py)."),
		kong.Vars{"version": "mysqlbackup " + version},
		kong.Writers(stdout, stderr),
		kong.Bind(cli),
		kong.Exit(func(c int) { panic(kongExit(c)) }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
}

// execute loads the config, checks --when and runs the subcommand.
func execute(ctx context.Context, cli *CLI, kctx *kong.Context, log *slog.Logger, stdout, term io.Writer) error {
	app := &App{Log: log, Stdout: stdout, Term: term, CLI: cli}
	kctx.BindTo(ctx, (*context.Context)(nil))
	if _, ok := kctx.Selected().Target.Addr().Interface().(configOptional); ok && cli.ConfPath == "" {
		return kctx.Run(app)
	}
	if d, ok := kctx.Selected().Target.Addr().Interface().(interface{ defaultDate() string }); ok && cli.DateStr == nil {
		date := d.defaultDate()
		cli.DateStr = &date
	}
	opts := conf.Options{Path: cli.ConfPath, Overrides: cli.overrides()}
	if v := os.Getenv(fleetNowEnv); v != "" {
		now, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return fmt.Errorf("%s: %w", fleetNowEnv, err)
		}
		opts.Now = now
	}
	cfg, err := conf.Load(opts)
	if err != nil {
		return err
	}
	log = log.With("port", string(cfg.Port))
	warnReadableSecrets(cfg, log)
	for _, k := range cfg.Ignored {
		log.Warn("config key ignored (the legacy tool ignored it too)", "key", k)
	}
	if cli.Verbose > 0 {
		log.Debug("effective config (secrets redacted)\n" + cfg.Redacted())
	}
	if err := checkWhen(ctx, cfg, cli.When, log); err != nil {
		return err
	}
	app.Cfg, app.Log = cfg, log
	return kctx.Run(app)
}

// warnReadableSecrets warns when the config file holds a secret and every
// user of the host may read it (the legacy tool's files often are).
func warnReadableSecrets(cfg *conf.Config, log *slog.Logger) {
	fi, err := os.Stat(cfg.Path)
	if err != nil || fi.Mode().Perm()&0o004 == 0 {
		return
	}
	if cfg.RootPassword.Reveal() != "" || cfg.S3SecretKey.Reveal() != "" || (cfg.Replication != nil && cfg.Replication.Password.Reveal() != "") {
		log.Warn("the config file holds passwords and every user may read it: chmod o-r it", "file", cfg.Path, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
}
