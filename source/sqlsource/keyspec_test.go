package sqlsource

import (
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
)

var updateDocs = flag.Bool("update", false, "rewrite the generated tables of README.md")

// The README documents exactly the keys the connection and the source
// section decode, in the tables keyspec.go generates.
func TestKeysDocumented(t *testing.T) {
	assert.ElementsMatch(t, config.StructKeys(ConnectionSettings{}), connectionKeys.Names())
	assert.ElementsMatch(t, config.StructKeys(SourceSettings{}), sourceKeys.Names())
	doc, err := os.ReadFile("README.md")
	require.NoError(t, err)
	want := doc
	for name, keys := range map[string]config.Keys{"connection keys": connectionKeys, "source keys": sourceKeys} {
		want, err = config.ReplaceTable(want, name, keys)
		require.NoError(t, err)
	}
	if *updateDocs {
		require.NoError(t, os.WriteFile("README.md", want, 0o644))
		return
	}
	assert.Equal(t, string(want), string(doc), "README.md's key tables are stale: go test ./source/sqlsource -run TestKeysDocumented -update")
}
