package salesforce

import (
	"os"
	"regexp"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
)

// The README's sample YAML decodes, so the documented keys cannot drift
// from the code.
func TestReadmeSamples(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(b, -1)
	require.Len(t, blocks, 2)

	var project struct {
		Connections map[string]map[string]any `yaml:"connections"`
	}
	require.NoError(t, yaml.Unmarshal(blocks[0][1], &project))
	crm := project.Connections["crm"]
	require.NotNil(t, crm)
	delete(crm, "type")
	text, err := yaml.Marshal(crm)
	require.NoError(t, err)
	sec, err := config.NewSection("retl.yaml", string(text))
	require.NoError(t, err)
	cfg, err := parseConnConfig(&config.Connection{Name: "crm", Type: "salesforce", Section: sec})
	require.NoError(t, err)
	assert.Equal(t, AuthJWT, cfg.Auth)

	var sync struct {
		Destination map[string]any `yaml:"destination"`
	}
	require.NoError(t, yaml.Unmarshal(blocks[1][1], &sync))
	dest := sync.Destination
	for _, k := range []string{"type", "connection"} {
		delete(dest, k)
	}
	text, err = yaml.Marshal(dest)
	require.NoError(t, err)
	sec, err = config.NewSection("sync.yaml", string(text))
	require.NoError(t, err)
	d, err := DestinationOf(&config.Sync{Destination: config.DestinationSpec{Section: sec}})
	require.NoError(t, err)
	require.NoError(t, d.Options.normalize())
	assert.Equal(t, Upsert, d.Operation)
	assert.Equal(t, "External_Id__c", d.ExternalID)
	assert.Equal(t, APIAuto, d.Options.API)
	assert.Equal(t, int64(100<<20), d.Options.MaxUploadBytes)
}
