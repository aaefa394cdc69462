package snowflake

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/source"
)

const connYAML = "account: acme-xy12345\nuser: RETL\npassword: pw-secret-1\n"

func syncOf(t *testing.T, query, sourceYAML string) *config.Sync {
	t.Helper()
	sec, err := config.NewSection("configs/accounts.yaml", sourceYAML)
	require.NoError(t, err)
	return &config.Sync{Name: "accounts", File: "configs/accounts.yaml", Source: config.SourceSpec{
		Type: Type, Connection: "warehouse", Query: query, Pos: config.Pos{File: "configs/accounts.yaml", Line: 2}, Section: sec,
	}}
}

func buildWith(t *testing.T, b reverseetl.BuildContext) (source.Source, error) {
	t.Helper()
	r := reverseetl.NewRegistry()
	Register(r)
	f, ok := r.Source(Type)
	require.True(t, ok)
	return f(context.Background(), b)
}

func TestRegisteredSource(t *testing.T) {
	red := &config.Redactor{}
	src, err := buildWith(t, reverseetl.BuildContext{
		RunID: "run-7", Sync: syncOf(t, "select 1", "batch_size: 500"),
		Connection: connectionOf(t, Type, connYAML), Redactor: red,
	})
	require.NoError(t, err)
	s := src.(*Source)
	assert.Equal(t, "retl:accounts:run-7", s.opts.queryTag)
	assert.Equal(t, 500, s.opts.batchSize)
	assert.Equal(t, "accounts", s.opts.syncName)
	assert.Equal(t, "[REDACTED]", red.Redact("pw-secret-1"), "the run's redactor knows the password")
	require.NoError(t, s.Close(), "nothing opened yet")

	// query_tag in the connection wins over the default.
	src, err = buildWith(t, reverseetl.BuildContext{
		RunID: "run-7", Sync: syncOf(t, "select 1", ""), Connection: connectionOf(t, Type, connYAML+"query_tag: nightly\n"),
	})
	require.NoError(t, err)
	assert.Equal(t, "nightly", src.(*Source).opts.queryTag)
}

func TestRegisteredSourceSharesOnePool(t *testing.T) {
	shared := reverseetl.NewShared()
	b := reverseetl.BuildContext{RunID: "r", Sync: syncOf(t, "select 1", ""), Connection: connectionOf(t, Type, connYAML), Shared: shared}
	var dbs []*sql.DB
	for range 2 {
		src, err := buildWith(t, b)
		require.NoError(t, err)
		db, err := src.(*Source).database()
		require.NoError(t, err)
		dbs = append(dbs, db)
		require.NoError(t, src.Close(), "the shared pool stays open")
	}
	assert.Same(t, dbs[0], dbs[1])
	require.NoError(t, shared.Close())

	boom := errors.New("no pool")
	for _, stored := range []struct {
		v   any
		err error
		msg string
	}{{nil, boom, "no pool"}, {"text", nil, "shared snowflake:warehouse holds string, not a database"}} {
		shared := reverseetl.NewShared()
		_, _ = shared.Get("snowflake:warehouse", func() (any, error) { return stored.v, stored.err })
		b.Shared = shared
		src, err := buildWith(t, b)
		require.NoError(t, err)
		err = src.Read(context.Background(), noEmit)
		assert.ErrorContains(t, err, "sync accounts: snowflake open: "+stored.msg)
	}
}

func TestRegisteredSourceConfigErrors(t *testing.T) {
	conn := connectionOf(t, Type, connYAML)
	cases := []struct {
		name string
		b    reverseetl.BuildContext
		msg  string
	}{
		{"no sync", reverseetl.BuildContext{}, "snowflake source: no sync to build"},
		{"no query", reverseetl.BuildContext{Sync: syncOf(t, "", ""), Connection: conn},
			`configs/accounts.yaml:2: key "source.query": a snowflake source needs a query`},
		{"unknown source key", reverseetl.BuildContext{Sync: syncOf(t, "select 1", "batchsize: 5"), Connection: conn}, `key "batchsize"`},
		{"negative batch", reverseetl.BuildContext{Sync: syncOf(t, "select 1", "batch_size: -5"), Connection: conn},
			`key "source.batch_size": must not be negative`},
		{"no connection", reverseetl.BuildContext{Sync: syncOf(t, "select 1", "")},
			`key "source.connection": a snowflake source needs a connection of type snowflake`},
		{"bad connection", reverseetl.BuildContext{Sync: syncOf(t, "select 1", ""), Connection: connectionOf(t, Type, "account: a")},
			`key "connections.warehouse.user"`},
	}
	for _, c := range cases {
		_, err := buildWith(t, c.b)
		if assert.Error(t, err, c.name) {
			assert.Contains(t, err.Error(), c.msg, c.name)
		}
	}
	assert.Equal(t, "retl:a:b", DefaultQueryTag("a", "b"))
}
