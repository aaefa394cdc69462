package snowflake

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/source"
)

func TestSetQueryReplacesTheQuery(t *testing.T) {
	src, err := New(passwordSettings(), "select 1")
	require.NoError(t, err)
	var qr source.QueryRewriter = src
	require.Equal(t, "select 1", qr.Query())
	qr.SetQuery("select 2")
	require.Equal(t, "select 2", qr.Query())
	require.Equal(t, "select 2", src.query, "Read runs the new query")
}
