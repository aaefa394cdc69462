package config

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKeyTables keeps REFERENCE.md's key tables what the Keys say; the
// decoders read the same Keys, so the reference cannot list a key the
// files refuse, or miss one they take.
func TestKeyTables(t *testing.T) {
	doc, err := os.ReadFile("REFERENCE.md")
	require.NoError(t, err)
	want := doc
	for _, tc := range []struct {
		name string
		keys Keys
	}{
		{"sync keys", syncSpec}, {"source keys", sourceSpec}, {"destination keys", destinationSpec},
		{"mapping keys", mappingSpec}, {"on_failure keys", onFailureSpec}, {"project keys", projectSpec},
	} {
		for _, k := range tc.keys {
			assert.NotEmpty(t, k.Type, "%s %s", tc.name, k.Name)
			assert.NotEmpty(t, k.Default, "%s %s", tc.name, k.Name)
			assert.NotEmpty(t, k.Meaning, "%s %s", tc.name, k.Name)
			assert.Equal(t, k.Other, k.Name == "", "%s: a key has a name unless it is the 'any other key' row", tc.name)
		}
		want, err = ReplaceTable(want, tc.name, tc.keys)
		require.NoError(t, err)
	}
	if *update {
		require.NoError(t, os.WriteFile("REFERENCE.md", want, 0o644))
		return
	}
	assert.Equal(t, string(want), string(doc), "REFERENCE.md's key tables are stale: go test ./config -run TestKeyTables -update")
}

// The struct-decoded sections of the project file are documented key for
// key.
func TestProjectKeysMatchTheStructs(t *testing.T) {
	for prefix, v := range map[string]any{
		"writeback": Writeback{}, "reports": Reports{}, "secrets.aws": AWSSecrets{}, "secrets": SecretsConfig{},
		"alerts.email": EmailAlert{}, "alerts.webhook": WebhookAlert{},
	} {
		assert.ElementsMatch(t, StructKeys(v), projectSpec.Under(prefix), prefix)
	}
	assert.ElementsMatch(t, StructKeys(OnFailure{}), onFailureSpec.Names())
	assert.Equal(t, []string{"connections", "defaults", "alerts", "reports", "writeback", "secrets"}, projectSpec.Under(""))
	assert.Equal(t, []string{"on_sync_failure", "failed_rows_above", "email", "webhook"}, projectSpec.Under("alerts"))
}

func TestKeysHelpers(t *testing.T) {
	ks := Keys{{Name: "a", Type: "t", Default: "", Meaning: "m"}, {Other: true, Type: "any", Meaning: "passed on"}}
	assert.Equal(t, []string{"a"}, ks.Names())
	assert.Equal(t, "| Key | Type | Default | Meaning |\n|---|---|---|---|\n| `a` | t |  | m |\n| any other key | any |  | passed on |\n", ks.Table())

	_, err := ReplaceTable([]byte("no markers"), "a keys", ks)
	assert.ErrorIs(t, err, ErrNoTableMarkers)
	out, err := ReplaceTable([]byte("x\n<!-- a keys: generated -->\nold\n<!-- end of a keys -->\ny"), "a keys", ks)
	require.NoError(t, err)
	assert.Equal(t, "x\n<!-- a keys: generated -->\n"+ks.Table()+"<!-- end of a keys -->\ny", string(out))

	type inner struct {
		C string `yaml:"c"`
	}
	type outer struct {
		A      string `yaml:"a,omitempty"`
		Plain  int
		Hidden string `yaml:"-"`
		inner  `yaml:",inline"`
		secret string
	}
	assert.Equal(t, []string{"a", "plain", "c"}, StructKeys(&outer{secret: "unexported fields are not keys"}))
}
