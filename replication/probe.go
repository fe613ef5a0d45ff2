package replication

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysqlbackup/mysqlbackup/mysqld"
)

// ErrUnreachable is returned (wrapped) by Probe when nothing answers at the
// source's address: a refused or timed-out connection. A source that
// answers with an error, such as access denied, is not unreachable.
var ErrUnreachable = errors.New("source unreachable")

// SourceState is what a catch-up needs to know of a source, read once.
type SourceState struct {
	Source
	ServerID uint64
	Version  mysqld.Version
	Goal     string // everything the source has written: the catch-up goal
}

// Probe connects to src over TCP with its replication credentials and
// reads its server id, version and goal position.
func Probe(ctx context.Context, src Source, timeout time.Duration) (SourceState, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net = src.User, src.Password, "tcp"
	cfg.Addr = net.JoinHostPort(src.Host, strconv.Itoa(src.Port))
	cfg.Timeout = timeout
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return SourceState{}, err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st := SourceState{Source: src}
	var version string
	err = db.QueryRowContext(ctx, "SELECT @@GLOBAL.server_id, VERSION()").Scan(&st.ServerID, &version)
	if err != nil {
		return st, probeError(src, err)
	}
	if st.Version, err = mysqld.ParseVersion(version); err != nil {
		return st, err
	}
	var goal sql.NullString
	if err := db.QueryRowContext(ctx, GoalQuery(st.Version.Flavor)).Scan(&goal); err != nil {
		return st, probeError(src, err)
	}
	st.Goal = goal.String
	return st, nil
}

func probeError(src Source, err error) error {
	var op *net.OpError
	if errors.As(err, &op) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s at %s:%d: %v", ErrUnreachable, src.Channel(), src.Host, src.Port, err)
	}
	return fmt.Errorf("source %s at %s:%d: %w", src.Channel(), src.Host, src.Port, err)
}
