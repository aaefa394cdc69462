package webhook

import (
	"flag"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/retl-go/retl/config"
)

var updateDocs = flag.Bool("update", false, "rewrite the generated table of ../README.md")

func TestKeysDocumented(t *testing.T) {
	assert.NoError(t, config.CheckKeys(Config{}, Keys))
	assert.NoError(t, config.UpdateTables("../README.md", *updateDocs, config.Table{Name: "webhook keys", Keys: Keys}))
}
