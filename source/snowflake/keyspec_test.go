package snowflake

import (
	"flag"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/retl-go/retl/config"
)

var updateDocs = flag.Bool("update", false, "rewrite the generated tables of README.md")

// The README documents exactly the keys the connection and the source
// section decode, in the tables keyspec.go generates.
func TestKeysDocumented(t *testing.T) {
	assert.NoError(t, config.CheckKeys(Settings{}, connectionKeys))
	assert.NoError(t, config.CheckKeys(SourceSettings{}, sourceKeys))
	assert.NoError(t, config.UpdateTables("README.md", *updateDocs,
		config.Table{Name: "connection keys", Keys: connectionKeys}, config.Table{Name: "source keys", Keys: sourceKeys}))
}
