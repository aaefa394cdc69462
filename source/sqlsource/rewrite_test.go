package sqlsource

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/source"
)

func TestSetQueryReplacesTheQueryAndKeepsArgs(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	require.NoError(t, err)
	defer db.Close()
	src := New(db, "select 1 as a", WithArgs(int64(7)))
	qr, ok := src.(source.QueryRewriter)
	require.True(t, ok)
	require.Equal(t, "select 1 as a", qr.Query())

	qr.SetQuery("select x.a * 2 as b from (select ? as a) x")
	require.Equal(t, "select x.a * 2 as b from (select ? as a) x", qr.Query())
	var got []source.Batch
	require.NoError(t, src.Read(context.Background(), func(b source.Batch) error { got = append(got, b); return nil }))
	require.Len(t, got, 1)
	require.Equal(t, []string{"b"}, got[0].Columns)
	require.Equal(t, [][]any{{int64(14)}}, got[0].Rows)
}
