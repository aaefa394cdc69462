package sqlsource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/source"
)

// fakeRows serves fixed rows with declared types, and can fail or run a
// hook before a given row.
type fakeRows struct {
	cols   []string
	types  []string
	scales []int64 // -1: no precision/scale known
	data   [][]driver.Value
	i      int
	before func(i int) error
}

func (r *fakeRows) Columns() []string { return r.cols }
func (r *fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if r.before != nil {
		if err := r.before(r.i); err != nil {
			return err
		}
	}
	if r.i >= len(r.data) {
		return io.EOF
	}
	copy(dest, r.data[r.i])
	r.i++
	return nil
}
func (r *fakeRows) ColumnTypeDatabaseTypeName(i int) string { return r.types[i] }
func (r *fakeRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if r.scales[i] < 0 {
		return 0, 0, false
	}
	return 38, r.scales[i], true
}

type fakeConn struct{ rows func() *fakeRows }

func (c *fakeConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("not supported") }
func (c *fakeConn) Close() error                        { return nil }
func (c *fakeConn) Begin() (driver.Tx, error)           { return nil, errors.New("not supported") }
func (c *fakeConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	return c.rows(), nil
}

type fakeConnector struct{ rows func() *fakeRows }

func (f fakeConnector) Connect(context.Context) (driver.Conn, error) {
	return &fakeConn{rows: f.rows}, nil
}
func (f fakeConnector) Driver() driver.Driver { return nil }

func fakeDB(t *testing.T, rows func() *fakeRows) *sql.DB {
	db := sql.OpenDB(fakeConnector{rows: rows})
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestDecimalScaleFromDecimalSize(t *testing.T) {
	db := fakeDB(t, func() *fakeRows {
		return &fakeRows{
			cols: []string{"AMOUNT", "WHOLE", "LOOSE"}, types: []string{"NUMERIC", "NUMBER", "DECIMAL"},
			scales: []int64{3, 0, -1},
			data:   [][]driver.Value{{[]byte("1.5"), []byte("99999999999999999999"), "2.25"}},
		}
	})
	var got [][]any
	err := New(db, "q").Read(context.Background(), func(b source.Batch) error {
		got = append(got, b.Rows...)
		return nil
	})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, source.Decimal("1.500"), got[0][0])
	assert.Equal(t, "99999999999999999999", got[0][1].(interface{ String() string }).String())
	assert.Equal(t, source.Decimal("2.25"), got[0][2])
}

func TestDriverErrorMidStream(t *testing.T) {
	boom := errors.New("connection reset")
	db := fakeDB(t, func() *fakeRows {
		return &fakeRows{
			cols: []string{"X"}, types: []string{"INT"}, scales: []int64{-1},
			data: [][]driver.Value{{int64(1)}, {int64(2)}},
			before: func(i int) error {
				if i == 1 {
					return boom
				}
				return nil
			},
		}
	})
	err := New(db, "q").Read(context.Background(), func(source.Batch) error { return nil })
	assert.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "sql source: reading row 2: connection reset")
}

// TestCancelBetweenNextAndScan cancels inside the driver's Next: database/sql
// then closes the rows before Scan, and Read must report the cancellation,
// not the "rows are closed" that Scan sees.
func TestCancelBetweenNextAndScan(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := fakeDB(t, func() *fakeRows {
		return &fakeRows{
			cols: []string{"X"}, types: []string{"INT"}, scales: []int64{-1},
			data: [][]driver.Value{{int64(1)}, {int64(2)}},
			before: func(i int) error {
				if i != 1 {
					return nil
				}
				cancel()
				// Let database/sql's watcher queue its close, which then
				// runs before the Scan that follows.
				time.Sleep(50 * time.Millisecond)
				return nil
			},
		}
	})
	err := New(db, "q").Read(ctx, func(source.Batch) error { return nil })
	assert.ErrorIs(t, err, context.Canceled)
}

func TestOpenErrorAndOwnedClose(t *testing.T) {
	boom := errors.New("cannot open")
	s := newSource(func() (*sql.DB, error) { return nil, boom }, true, "q", nil)
	assert.ErrorIs(t, s.Read(context.Background(), func(source.Batch) error { return nil }), boom)
	assert.NoError(t, s.Close(), "nothing opened, nothing to close")

	db := fakeDB(t, func() *fakeRows {
		return &fakeRows{cols: []string{"X"}, types: []string{"INT"}, scales: []int64{-1}}
	})
	owned := newSource(func() (*sql.DB, error) { return db, nil }, true, "q", nil)
	require.NoError(t, owned.Read(context.Background(), func(source.Batch) error { return nil }))
	require.NoError(t, owned.Close())
	assert.Error(t, db.Ping(), "an owned database is closed with the source")
}
