package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mysqlbackup/mysqlbackup/archive"
	"github.com/mysqlbackup/mysqlbackup/binlogarchive"
	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/mysqld"
	"github.com/mysqlbackup/mysqlbackup/replication"
	"github.com/mysqlbackup/mysqlbackup/restore"
)

// instanceFlags choose the instances a monitoring command looks at, without
// a config file if need be.
type instanceFlags struct {
	Socket       []string `name:"socket" placeholder:"PATH" help:"Instance socket (repeatable). Default: mysql_socket of --conf-path, else /var/run/mysqld/mysqld-<port>.sock of --port."`
	PasswordFile string   `name:"password-file" placeholder:"FILE" help:"File whose first line is root's password (default: root_password of --conf-path, else none: the OS user over the socket, unix_socket authentication)."`
}

// configOptional marks commands that run without --conf-path.
type configOptional interface{ configOptional() }

func (instanceFlags) configOptional() {}

// StatusCmd is `mysqlbackup status`.
type StatusCmd struct {
	fleetFlags
	instanceFlags
	All   bool   `help:"Every instance whose socket matches --socket-glob (legacy watch-all.sh)."`
	Glob  string `name:"socket-glob" default:"/var/run/mysqld/*.sock" help:"Sockets --all looks for."`
	Watch bool   `help:"Redraw every second, changed values highlighted (legacy watch -d)."`
	JSON  bool   `name:"json" help:"Print one JSON object (one per second with --watch)."`
	Brief bool   `help:"One line per channel: source, IO and SQL threads, seconds behind (legacy check-topology.sh)."`
}

// errInstancesDown is the result of a status with an instance not answering.
var errInstancesDown = errors.New("instance down")

// Run implements status.
func (c *StatusCmd) Run(ctx context.Context, app *App) error {
	sockets, err := c.sockets(app)
	if err != nil {
		return err
	}
	conns, err := c.instanceFlags.conns(app, sockets)
	if err != nil {
		return err
	}
	onTerminal := terminal(app.Stdout) != nil
	r := &statusRenderer{highlight: onTerminal}
	var window *binlogarchive.Window // read from the bucket at most a minute apart
	var windowAt time.Time
	for {
		sts := collectAll(ctx, conns)
		var archiver *binlogarchive.Status
		if len(c.Socket) == 0 && !c.All && app.Cfg != nil {
			sts[0].CatchupPending = pendingNote(app.Cfg)
			archiver = archiverStatus(app)
			if archiver != nil && time.Since(windowAt) >= time.Minute {
				window, windowAt = recoverableWindow(ctx, app, archiver), time.Now()
			}
			if archiver != nil {
				archiver.Recoverable = window
			}
		}
		var frame bytes.Buffer
		switch {
		case c.JSON:
			enc := json.NewEncoder(&frame)
			enc.SetIndent("", "  ")
			out := map[string]any{"instances": sts}
			if archiver != nil {
				out["binlog_archive"] = archiver
			}
			_ = enc.Encode(out)
		case c.Brief:
			renderBrief(&frame, sts)
			renderArchiver(&frame, archiver)
		default:
			r.render(&frame, sts)
			renderArchiver(&frame, archiver)
		}
		if !c.Watch {
			_, _ = app.Stdout.Write(frame.Bytes())
			return downError(sts)
		}
		redraw(app.Stdout, frame.String(), !c.JSON && onTerminal)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (c *StatusCmd) sockets(app *App) ([]string, error) {
	if !c.All {
		return c.instanceFlags.sockets(app)
	}
	m, err := filepath.Glob(c.Glob)
	if err != nil || len(m) == 0 {
		return nil, fmt.Errorf("--all: no socket matches %s", c.Glob)
	}
	sort.Strings(m)
	return m, nil
}

// sockets resolves the instances: --socket, else the config, else --port.
func (f instanceFlags) sockets(app *App) ([]string, error) {
	switch {
	case len(f.Socket) > 0:
		return f.Socket, nil
	case app.Cfg != nil:
		return []string{app.Cfg.MySQLSocket}, nil
	case app.CLI != nil && app.CLI.Port != nil:
		return []string{"/var/run/mysqld/mysqld-" + *app.CLI.Port + ".sock"}, nil
	}
	return nil, usageError{errors.New("name an instance: --socket, --conf-path or --port")}
}

// conns are connections to the sockets: as root with root's password when
// one is given, else, as the legacy probe connected, as the OS user with
// no password (the server's unix_socket authentication).
func (f instanceFlags) conns(app *App, sockets []string) ([]mysqld.Conn, error) {
	name, password := "root", ""
	switch {
	case f.PasswordFile != "":
		pw, err := archive.ReadPasswordFile(f.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("--password-file: %w", err)
		}
		password = string(pw)
	case app.Cfg != nil:
		password = app.Cfg.RootPassword.Reveal()
	}
	if password == "" {
		u, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("the OS user to connect as: %w", err)
		}
		name = u.Username
	}
	out := make([]mysqld.Conn, len(sockets))
	for i, s := range sockets {
		out[i] = mysqld.Conn{Socket: s, User: name, Password: password}
	}
	return out, nil
}

// collectAll reads every instance; one that cannot be queried is down.
func collectAll(ctx context.Context, conns []mysqld.Conn) []replication.InstanceStatus {
	out := make([]replication.InstanceStatus, len(conns))
	for i, c := range conns {
		out[i] = collectOne(ctx, c)
	}
	return out
}

func collectOne(ctx context.Context, c mysqld.Conn) replication.InstanceStatus {
	return collectWith(ctx, c, replication.Collect)
}

// collectWith reads one instance with read; one that cannot be queried is
// down.
func collectWith(ctx context.Context, c mysqld.Conn, read func(context.Context, *sql.DB, string) (replication.InstanceStatus, error)) replication.InstanceStatus {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	db, err := c.Open()
	if err != nil {
		return replication.InstanceStatus{Name: c.Socket, Error: err.Error()}
	}
	defer db.Close()
	st, err := read(ctx, db, c.Socket)
	if err != nil {
		st.Up, st.Error = false, err.Error()
	}
	return st
}

// archiverStatus is the configured port's binlog archiver as its status
// file on this host says (nil when none has run here).
func archiverStatus(app *App) *binlogarchive.Status {
	s, err := binlogarchive.ReadStatus(app.Cfg.BackupBase, string(app.Cfg.Port))
	if err != nil {
		return &binlogarchive.Status{LastError: "status unreadable: " + err.Error()}
	}
	return s
}

// recoverableWindow is the window restore --until reaches through the
// archiver's series, or nil (none, or the bucket does not answer: status
// stays a local view).
func recoverableWindow(ctx context.Context, app *App, s *binlogarchive.Status) *binlogarchive.Window {
	series, ok := s.SeriesOf()
	if !ok || !app.Cfg.HasStore() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := app.inst().Store()
	if err != nil {
		return nil
	}
	ix, err := binlogarchive.ReadIndex(ctx, st, series)
	if err != nil {
		return nil
	}
	bases, err := pitrBases(ctx, st, series.Port)
	if err != nil {
		return nil
	}
	if w, ok := ix.Window(bases); ok {
		return &w
	}
	return nil
}

// pendingNote describes the configured instance's pending catch-up, or "".
func pendingNote(cfg *conf.Config) string {
	if err := restore.RefuseUnfinished(cfg.MySQLDataDir); err != nil {
		return err.Error()
	}
	p, err := instance.ReadCatchupMarker(cfg.MySQLDataDir)
	switch {
	case err != nil:
		return err.Error()
	case p == nil:
		return ""
	}
	return fmt.Sprintf("restored from %s at %s; run catchup_binlog before starting it (%s)",
		p.From, p.RestoredAt.Format(time.RFC3339), filepath.Join(cfg.MySQLDataDir, instance.CatchupMarker))
}

func downError(sts []replication.InstanceStatus) error {
	var down []string
	for _, st := range sts {
		if !st.Up {
			down = append(down, st.Name)
		}
	}
	if len(down) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", errInstancesDown, strings.Join(down, ", "))
}

// clearScreen homes the cursor and clears the screen, as watch(1) does
// before each frame: robust when long lines wrap.
const clearScreen = "\x1b[H\x1b[2J"

// redraw shows a frame: in place on a terminal, appended otherwise (JSON
// lines, or a log file).
func redraw(w io.Writer, frame string, inPlace bool) {
	if inPlace {
		frame = clearScreen + frame
	}
	_, _ = io.WriteString(w, frame)
}
