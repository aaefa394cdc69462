package salesforce

import (
	"flag"
	"os"
	"testing"

	"github.com/retl-go/retl/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the generated tables of README.md")

// The reference documents exactly the keys the section decodes, and the
// README's table is the one keyspec.go generates.
func TestDestinationKeysDocumented(t *testing.T) {
	for _, k := range append(append(config.Keys{}, destinationKeys...), connectionKeys...) {
		assert.NotEmpty(t, k.Type, k.Name)
		assert.NotEmpty(t, k.Default, k.Name)
		assert.NotEmpty(t, k.Meaning, k.Name)
	}
	assert.ElementsMatch(t, config.StructKeys(destSection{}), destinationKeys.Names(),
		"every key destSection decodes is documented in destinationKeys, and no other")
	assert.ElementsMatch(t, config.StructKeys(connConfig{}), connectionKeys.Names(),
		"every key connConfig decodes is documented in connectionKeys, and no other")

	doc, err := os.ReadFile("README.md")
	require.NoError(t, err)
	want := doc
	for name, keys := range map[string]config.Keys{"destination keys": destinationKeys, "connection keys": connectionKeys} {
		want, err = config.ReplaceTable(want, name, keys)
		require.NoError(t, err)
	}
	if *update {
		require.NoError(t, os.WriteFile("README.md", want, 0o644))
		return
	}
	assert.Equal(t, string(want), string(doc), "README.md's key tables are stale: go test ./sink/salesforce -run TestDestinationKeysDocumented -update")
}
