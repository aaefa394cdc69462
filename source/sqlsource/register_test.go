package sqlsource_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/source"
	"github.com/retl-go/retl/source/sqlsource"
)

func connection(t *testing.T, typ, yamlText string) *config.Connection {
	t.Helper()
	sec, err := config.NewSection("retl.yaml", yamlText)
	require.NoError(t, err)
	return &config.Connection{Name: "db", Type: typ, Pos: config.Pos{File: "retl.yaml", Line: 3}, Section: sec}
}

func syncWith(t *testing.T, query, sourceYAML string) *config.Sync {
	t.Helper()
	sec, err := config.NewSection("configs/s.yaml", sourceYAML)
	require.NoError(t, err)
	return &config.Sync{Name: "s", File: "configs/s.yaml", Source: config.SourceSpec{
		Type: "sql", Connection: "db", Query: query, Pos: config.Pos{File: "configs/s.yaml", Line: 2}, Section: sec,
	}}
}

func build(t *testing.T, b reverseetl.BuildContext) (source.Source, error) {
	t.Helper()
	r := reverseetl.NewRegistry()
	sqlsource.Register(r)
	f, ok := r.Source("sql")
	require.True(t, ok)
	return f(context.Background(), b)
}

func TestRegisteredSourceReadsSQLite(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "demo.db")
	conn := connection(t, "sql", "dsn: "+dsn)
	src, err := build(t, reverseetl.BuildContext{Sync: syncWith(t, "select 1 as one, 'a' as two", "batch_size: 5"), Connection: conn})
	require.NoError(t, err)
	var got []source.Batch
	require.NoError(t, src.Read(context.Background(), func(b source.Batch) error { got = append(got, b); return nil }))
	require.NoError(t, src.Close())
	require.Len(t, got, 1)
	assert.Equal(t, []string{"one", "two"}, got[0].Columns)
	assert.Equal(t, []any{int64(1), "a"}, got[0].Rows[0])
}

func TestRegisteredSourceSharesOnePool(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "demo.db")
	conn := connection(t, "sql", "driver: sqlite\ndsn: "+dsn)
	shared := reverseetl.NewShared()
	b := reverseetl.BuildContext{Sync: syncWith(t, "select 1", ""), Connection: conn, Shared: shared}
	for range 2 {
		src, err := build(t, b)
		require.NoError(t, err)
		require.NoError(t, src.Read(context.Background(), func(source.Batch) error { return nil }))
		require.NoError(t, src.Close(), "the shared pool stays open")
	}
	require.NoError(t, shared.Close())

	// What another part stored under the key comes back as an error.
	boom := errors.New("no pool")
	for _, stored := range []struct {
		v   any
		err error
		msg string
	}{{nil, boom, "no pool"}, {"text", nil, "holds string, not a database"}} {
		shared := reverseetl.NewShared()
		_, _ = shared.Get("sql:db", func() (any, error) { return stored.v, stored.err })
		src, err := build(t, reverseetl.BuildContext{Sync: syncWith(t, "select 1", ""), Connection: conn, Shared: shared})
		require.NoError(t, err)
		err = src.Read(context.Background(), func(source.Batch) error { return nil })
		require.Error(t, err)
		assert.Contains(t, err.Error(), stored.msg)
	}
}

func TestRegisteredSourceConfigErrors(t *testing.T) {
	good := connection(t, "sql", "dsn: x.db")
	cases := []struct {
		name string
		b    reverseetl.BuildContext
		msg  string
	}{
		{"no sync", reverseetl.BuildContext{}, "no sync to build"},
		{"no query", reverseetl.BuildContext{Sync: syncWith(t, "  ", ""), Connection: good},
			`configs/s.yaml:2: key "source.query": a sql source needs a query`},
		{"unknown source key", reverseetl.BuildContext{Sync: syncWith(t, "select 1", "batch: 5"), Connection: good},
			`configs/s.yaml:1:1: key "batch"`},
		{"negative batch", reverseetl.BuildContext{Sync: syncWith(t, "select 1", "batch_size: -1"), Connection: good},
			`key "source.batch_size": must not be negative`},
		{"no connection", reverseetl.BuildContext{Sync: syncWith(t, "select 1", "")},
			`key "source.connection": a sql source needs a connection of type sql`},
		{"wrong type", reverseetl.BuildContext{Sync: syncWith(t, "select 1", ""), Connection: connection(t, "snowflake", "dsn: x")},
			`retl.yaml:3: key "connections.db.type": a sql source needs a connection of type sql, not "snowflake"`},
		{"unknown connection key", reverseetl.BuildContext{Sync: syncWith(t, "select 1", ""), Connection: connection(t, "sql", "dsn: x\nurl: y")},
			`key "url"`},
		{"unknown driver", reverseetl.BuildContext{Sync: syncWith(t, "select 1", ""), Connection: connection(t, "sql", "driver: nosuch\ndsn: x")},
			`key "connections.db.driver": no database/sql driver "nosuch" is compiled in`},
		{"no dsn", reverseetl.BuildContext{Sync: syncWith(t, "select 1", ""), Connection: connection(t, "sql", "driver: sqlite")},
			`key "connections.db.dsn": missing required key`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := build(t, c.b)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.msg)
		})
	}
}
