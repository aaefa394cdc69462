package salesforce

import (
	"flag"
	"testing"

	"github.com/retl-go/retl/config"
	"github.com/stretchr/testify/assert"
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
	assert.NoError(t, config.CheckKeys(destSection{}, destinationKeys), "every key destSection decodes is documented, and no other")
	assert.NoError(t, config.CheckKeys(connConfig{}, connectionKeys), "every key connConfig decodes is documented, and no other")
	assert.NoError(t, config.UpdateTables("README.md", *update,
		config.Table{Name: "destination keys", Keys: destinationKeys}, config.Table{Name: "connection keys", Keys: connectionKeys}))
}
