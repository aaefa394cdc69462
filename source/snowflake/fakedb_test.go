package snowflake

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"sync"
	"testing"
)

// captureConn is a database/sql driver connection that records the
// statements and bound arguments it is given.
type captureConn struct {
	mu      *sync.Mutex
	stmts   *[]string
	args    *[][]driver.NamedValue
	execErr error
}

func (c *captureConn) Prepare(string) (driver.Stmt, error) {
	return nil, errors.New("prepare not supported")
}
func (c *captureConn) Close() error              { return nil }
func (c *captureConn) Begin() (driver.Tx, error) { return nil, errors.New("not supported") }
func (c *captureConn) ExecContext(_ context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*c.stmts = append(*c.stmts, q)
	*c.args = append(*c.args, args)
	if c.execErr != nil {
		return nil, c.execErr
	}
	return driver.RowsAffected(1), nil
}

type connector struct {
	connect func() (driver.Conn, error)
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.connect() }
func (c connector) Driver() driver.Driver                        { return nil }

// captureDB returns a database whose statements are recorded in stmts and
// args; Exec fails with execErr when it is set.
func captureDB(t *testing.T, execErr error) (*sql.DB, *[]string, *[][]driver.NamedValue) {
	var (
		mu    sync.Mutex
		stmts []string
		args  [][]driver.NamedValue
	)
	db := sql.OpenDB(connector{connect: func() (driver.Conn, error) {
		return &captureConn{mu: &mu, stmts: &stmts, args: &args, execErr: execErr}, nil
	}})
	t.Cleanup(func() { _ = db.Close() })
	return db, &stmts, &args
}
