package sqlsource_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/source"
	"github.com/retl-go/retl/source/sqlsource"
)

func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+t.Name()+"?mode=memory&cache=shared")
	require.NoError(t, err)
	// One connection: an in-memory database lives as long as it does.
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func exec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}
}

// readAll reads every batch of src.
func readAll(t *testing.T, src source.Source) []source.Batch {
	t.Helper()
	var out []source.Batch
	require.NoError(t, src.Read(context.Background(), func(b source.Batch) error {
		out = append(out, b)
		return nil
	}))
	return out
}

func TestReadEveryTypeFromSQLite(t *testing.T) {
	db := openSQLite(t)
	exec(t, db, `create table t (
		i INTEGER, big TEXT, d DECIMAL(10,2), d0 NUMERIC(12), f REAL, b BOOLEAN,
		dt DATE, tm TIME, ts TIMESTAMP, tz DATETIME, j JSON, bl BLOB, s TEXT, v VARCHAR(20))`,
		`insert into t values (
		42, '123456789012345678901234567890', 12.5, 7, 1.25, 1,
		'2024-05-01', '12:34:56.789', '2024-05-01 10:00:00.123456', '2024-05-01T10:00:00+02:00',
		'{"a":[1,2]}', x'00ff10', 'héllo', 'short')`,
		`insert into t values (null, null, null, null, null, null, null, null, null, null, null, null, null, null)`)

	batches := readAll(t, sqlsource.New(db, `select i, big, d, d0, f, b, dt, tm, ts, tz, j, bl, s, v, 1+1 as two from t order by i desc`))
	require.Len(t, batches, 1)
	b := batches[0]
	assert.Equal(t, []string{"i", "big", "d", "d0", "f", "b", "dt", "tm", "ts", "tz", "j", "bl", "s", "v", "two"}, b.Columns)
	require.Len(t, b.Rows, 2)

	plus2 := time.FixedZone("", 2*3600)
	want := []any{
		int64(42), "123456789012345678901234567890", source.Decimal("12.50"), int64(7), 1.25, true,
		source.Date("2024-05-01"), source.TimeOfDay("12:34:56.789"),
		time.Date(2024, 5, 1, 10, 0, 0, 123456000, time.UTC), time.Date(2024, 5, 1, 10, 0, 0, 0, plus2),
		source.JSON(`{"a":[1,2]}`), []byte{0, 0xff, 0x10}, "héllo", "short", int64(2),
	}
	got := b.Rows[0]
	for i := range want {
		if wt, ok := want[i].(time.Time); ok {
			gt, isTime := got[i].(time.Time)
			require.True(t, isTime, "column %s: %T", b.Columns[i], got[i])
			assert.True(t, wt.Equal(gt), "column %s: %v", b.Columns[i], gt)
			_, wantOff := wt.Zone()
			_, gotOff := gt.Zone()
			assert.Equal(t, wantOff, gotOff, "column %s keeps its offset", b.Columns[i])
			continue
		}
		assert.Equal(t, want[i], got[i], "column %s", b.Columns[i])
	}
	nulls := b.Rows[1]
	for i := range b.Columns[:14] {
		assert.Nil(t, nulls[i], "column %s", b.Columns[i])
	}
}

func TestBatchesOfN(t *testing.T) {
	db := openSQLite(t)
	exec(t, db, `create table n (x INTEGER)`)
	for i := 1; i <= 25; i++ {
		exec(t, db, fmt.Sprintf("insert into n values (%d)", i))
	}
	batches := readAll(t, sqlsource.New(db, `select x from n where x > ? order by x`,
		sqlsource.WithBatchSize(10), sqlsource.WithArgs(0)))
	require.Len(t, batches, 3)
	assert.Len(t, batches[0].Rows, 10)
	assert.Len(t, batches[1].Rows, 10)
	assert.Len(t, batches[2].Rows, 5)
	// Batches own their rows: nothing is shared between them.
	assert.Equal(t, int64(1), batches[0].Rows[0][0])
	assert.Equal(t, int64(11), batches[1].Rows[0][0])
	assert.Equal(t, int64(25), batches[2].Rows[4][0])
	batches[0].Columns[0] = "changed"
	assert.Equal(t, "x", batches[1].Columns[0])

	// Bound arguments reach the query.
	few := readAll(t, sqlsource.New(db, `select x from n where x > ?`, sqlsource.WithArgs(23)))
	require.Len(t, few, 1)
	assert.Len(t, few[0].Rows, 2)

	// A size below one keeps the default; no rows means no batch.
	none := readAll(t, sqlsource.New(db, `select x from n where x > 100`, sqlsource.WithBatchSize(0)))
	assert.Empty(t, none)
}

func TestEmitErrorIsReturned(t *testing.T) {
	db := openSQLite(t)
	exec(t, db, `create table n (x INTEGER)`, `insert into n values (1), (2), (3)`)
	stop := errors.New("stop")
	calls := 0
	err := sqlsource.New(db, `select x from n`, sqlsource.WithBatchSize(1)).Read(context.Background(), func(source.Batch) error {
		calls++
		return stop
	})
	assert.Same(t, stop, err)
	assert.Equal(t, 1, calls)

	// The last, partial batch's error too.
	err = sqlsource.New(db, `select x from n`, sqlsource.WithBatchSize(2)).Read(context.Background(), func(b source.Batch) error {
		if len(b.Rows) == 1 {
			return stop
		}
		return nil
	})
	assert.Same(t, stop, err)
}

func TestCancellationStopsPromptly(t *testing.T) {
	db := openSQLite(t)
	// A query of a million rows that a cancelled read must not finish.
	q := `with recursive c(x) as (select 1 union all select x+1 from c where x < 1000000) select x from c`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows := 0
	start := time.Now()
	err := sqlsource.New(db, q, sqlsource.WithBatchSize(100)).Read(ctx, func(b source.Batch) error {
		rows += len(b.Rows)
		cancel()
		return nil
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 100, rows)
	assert.Less(t, time.Since(start), 5*time.Second)

	// Already cancelled: the query does not start.
	err = sqlsource.New(db, q).Read(ctx, func(source.Batch) error { return nil })
	assert.ErrorIs(t, err, context.Canceled)
}

func TestQueryError(t *testing.T) {
	db := openSQLite(t)
	err := sqlsource.New(db, `select * from missing`).Read(context.Background(), func(source.Batch) error { return nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sql source: query")
	assert.Contains(t, err.Error(), "no such table: missing")
}

// A value that does not convert to its column's type (SQLite keeps any
// text in a DATE or DECIMAL column) stands in its row as a
// *source.ValueError naming the column; the read goes on.
func TestConversionErrorStaysInItsRow(t *testing.T) {
	db := openSQLite(t)
	exec(t, db, `create table t (id TEXT, amount DECIMAL(10,2), born DATE)`,
		`insert into t values ('a', '1.50', '2024-05-01'), ('b', 'abc', '2024-05-02'), ('c', '2', '2024-13-45')`)
	b := readAll(t, sqlsource.New(db, `select id, amount, born from t order by id`))
	require.Len(t, b, 1)
	rows := b[0].Rows
	require.Len(t, rows, 3)
	assert.Equal(t, []any{"a", source.Decimal("1.50"), source.Date("2024-05-01")}, rows[0])

	var ve *source.ValueError
	require.ErrorAs(t, rows[1][1].(error), &ve)
	assert.Equal(t, "amount", ve.Column)
	assert.Equal(t, "DECIMAL(10,2)", ve.Type)
	assert.Equal(t, "abc", ve.Raw)
	assert.Equal(t, `column amount (DECIMAL(10,2)): "abc" is not a decimal number`, ve.Error())
	assert.Equal(t, source.Date("2024-05-02"), rows[1][2])

	require.ErrorAs(t, rows[2][2].(error), &ve)
	assert.Equal(t, `column born (DATE): "2024-13-45" is not a date`, ve.Error())
	assert.NotNil(t, errors.Unwrap(ve))
}

func TestNormalizerHook(t *testing.T) {
	db := openSQLite(t)
	exec(t, db, `create table t (code TEXT, n INTEGER)`, `insert into t values ('x', 5)`)
	upper := func(col *sql.ColumnType) sqlsource.Converter {
		if col.Name() != "code" {
			return nil // default for the others
		}
		return func(v any) (any, error) { return fmt.Sprintf("<%v>", v), nil }
	}
	b := readAll(t, sqlsource.New(db, `select code, n from t`, sqlsource.WithNormalizer(upper)))
	require.Len(t, b, 1)
	assert.Equal(t, []any{"<x>", int64(5)}, b[0].Rows[0])
}

func TestCloseLeavesCallersDB(t *testing.T) {
	db := openSQLite(t)
	src := sqlsource.New(db, `select 1`)
	readAll(t, src)
	require.NoError(t, src.Close())
	assert.NoError(t, db.Ping(), "the caller's database stays open")
}
