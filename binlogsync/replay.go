package binlogsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mysqlbackup/mysqlbackup/internal/proc"
)

// ReadIndex returns the binlog names of an index file in order ("./name"
// and absolute entries are reduced to their base names).
func ReadIndex(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("binlog index: %w", err)
	}
	var names []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			names = append(names, filepath.Base(l))
		}
	}
	return names, nil
}

// FindIndex returns the one *.index file of a binlog dir.
func FindIndex(dir string) (string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*.index"))
	if err != nil || len(m) != 1 {
		return "", fmt.Errorf("binlog dir %s: want exactly one *.index file, found %d", dir, len(m))
	}
	return m[0], nil
}

// ReplayPlan is the part of the binlogs a restore replays: every
// transaction after the snapshot position.
type ReplayPlan struct {
	Dir   string
	Files []string // from the snapshot file on, in index order
	Pos   uint64   // start position in Files[0]
}

// PlanReplay picks the files from the snapshot file on. Files before it
// are not read at all.
func PlanReplay(dir string, index []string, file string, pos uint64) (ReplayPlan, error) {
	for i, name := range index {
		if name == file {
			return ReplayPlan{Dir: dir, Files: index[i:], Pos: pos}, nil
		}
	}
	return ReplayPlan{}, fmt.Errorf("the backup's binlogs do not hold the snapshot file %s (they run %s)", file, strings.Join(index, ", "))
}

// Replayer runs one `mysqlbinlog | mysql` pipeline per file.
type Replayer struct {
	BinlogBin string // mysqlbinlog / mariadb-binlog
	ClientBin string // mysql / mariadb
	// ClientDefaults is a 0600 option file with the credentials and the
	// socket of the server to apply to.
	ClientDefaults string
	Log            *slog.Logger
}

// Replay applies the plan file by file, with binary logging off for the
// applying session. Both ends of each pipe are checked.
func (r Replayer) Replay(ctx context.Context, p ReplayPlan) error {
	for i, name := range p.Files {
		args := []string{"--disable-log-bin"}
		if i == 0 {
			args = append(args, "--start-position="+strconv.FormatUint(p.Pos, 10))
		}
		args = append(args, filepath.Join(p.Dir, name))
		if err := r.pipe(ctx, args); err != nil {
			return fmt.Errorf("replay %s: %w", name, err)
		}
		r.Log.Info("binlog replayed", "file", name)
	}
	return nil
}

func (r Replayer) pipe(ctx context.Context, binlogArgs []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	client, err := proc.Start(ctx, proc.Spec{
		Name: r.ClientBin, Args: []string{"--defaults-extra-file=" + r.ClientDefaults, "--batch"},
		Stdin: pr, Log: r.Log, DieWithParent: true,
	})
	if err != nil {
		return err
	}
	binlogErr := proc.Run(ctx, proc.Spec{Name: r.BinlogBin, Args: binlogArgs, Stdout: pw, Log: r.Log, DieWithParent: true})
	pw.CloseWithError(binlogErr)
	if binlogErr != nil {
		cancel() // the client must not apply a partial stream as if whole
	}
	clientErr := client.Wait()
	pr.Close()
	return errors.Join(binlogErr, clientErr)
}
