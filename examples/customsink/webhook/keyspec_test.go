package webhook

import (
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
)

var updateDocs = flag.Bool("update", false, "rewrite the generated table of ../README.md")

func TestKeysDocumented(t *testing.T) {
	assert.ElementsMatch(t, config.StructKeys(Config{}), Keys.Names())
	doc, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	want, err := config.ReplaceTable(doc, "webhook keys", Keys)
	require.NoError(t, err)
	if *updateDocs {
		require.NoError(t, os.WriteFile("../README.md", want, 0o644))
		return
	}
	assert.Equal(t, string(want), string(doc), "README.md's key table is stale: go test ./examples/customsink/webhook -run TestKeysDocumented -update")
}
