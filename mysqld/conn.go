// Package mysqld controls and queries a local MySQL or MariaDB instance:
// is it alive on its socket, its version, a credentials option file for the
// client tools, the server's own view of its options (--verbose --help),
// and a supervised temporary server on a datadir that names its files as
// the normal start does.
package mysqld

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Conn says how to reach an instance as an administrator.
type Conn struct {
	Socket   string
	User     string
	Password string // never logged
}

// Open returns a pool of connections to the instance. It does not connect.
func (c Conn) Open() (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = c.User, c.Password, "unix", c.Socket
	cfg.Timeout = 5 * time.Second
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql connection to %s: %w", c.Socket, err)
	}
	return sql.OpenDB(connector), nil
}

// Alive says whether the instance answers on its socket. An instance that
// cannot be reached (no socket file, nobody listening) is not alive; one
// that answers with an error, such as access denied, is reported as an
// error, as the legacy tool did, because whether it is safe to go on is
// then unknown.
func (c Conn) Alive(ctx context.Context) (bool, error) {
	db, err := c.Open()
	if err != nil {
		return false, err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var one int
	err = db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	if err == nil {
		return true, nil
	}
	if isUnreachable(err) {
		return false, nil
	}
	return false, fmt.Errorf("query instance on %s: %w", c.Socket, err)
}

// isUnreachable says whether err means nothing answered: the socket file
// is missing or refuses connections (MySQL client error 2002).
func isUnreachable(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// OnSession runs fn on one session of the server at c (session state
// sticks from one statement to the next), with the server's version.
func (c Conn) OnSession(ctx context.Context, fn func(*sql.Conn, Version) error) error {
	db, err := c.Open()
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var text string
	if err := conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&text); err != nil {
		return fmt.Errorf("server version: %w", err)
	}
	v, err := ParseVersion(text)
	if err != nil {
		return err
	}
	return fn(conn, v)
}
