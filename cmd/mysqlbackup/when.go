package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/mysqlbackup/mysqlbackup/conf"
	"github.com/mysqlbackup/mysqlbackup/instance"
	"github.com/mysqlbackup/mysqlbackup/restore"
)

// errWhenUnmet ends a run whose --when condition does not hold: exit 0,
// nothing on stderr, as the legacy tool did.
var errWhenUnmet = errors.New("--when condition not met")

// checkWhen returns nil when the command should run, errWhenUnmet when
// --when says it should not, or an error when that cannot be told.
func checkWhen(ctx context.Context, cfg *conf.Config, when string, log *slog.Logger) error {
	switch when {
	case "":
		return nil
	case "no-data-dir":
		entries, err := os.ReadDir(cfg.MySQLDataDir)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil
		case err != nil:
			return fmt.Errorf("--when no-data-dir: %w", err)
		case restore.InProgress(cfg.MySQLDataDir):
			log.Info("data dir holds an unfinished restore; counting it as absent", "dir", cfg.MySQLDataDir)
			return nil
		case len(entries) == 0:
			// A freshly mounted disk: a datadir without data.
			log.Info("data dir is empty; counting it as absent", "dir", cfg.MySQLDataDir)
			return nil
		}
		log.Debug("data dir exists; --when no-data-dir not met", "dir", cfg.MySQLDataDir)
		return errWhenUnmet
	case "stopped":
		alive, err := instance.New(cfg, log).Admin().Alive(ctx)
		if err != nil {
			return fmt.Errorf("--when stopped: %w", err)
		}
		if alive {
			log.Debug("instance answers; --when stopped not met", "socket", cfg.MySQLSocket)
			return errWhenUnmet
		}
		return nil
	}
	return fmt.Errorf("--when %q: want no-data-dir or stopped", when)
}
