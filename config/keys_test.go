package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKeyTables keeps REFERENCE.md's key tables what the Keys say; the
// decoders read the same Keys, so the reference cannot list a key the
// files refuse, or miss one they take.
func TestKeyTables(t *testing.T) {
	var tables []Table
	for _, tc := range []Table{
		{"sync keys", syncSpec}, {"source keys", sourceSpec}, {"destination keys", destinationSpec},
		{"mapping keys", mappingSpec}, {"on_failure keys", onFailureSpec}, {"project keys", projectSpec},
	} {
		for _, k := range tc.Keys {
			assert.NotEmpty(t, k.Type, "%s %s", tc.Name, k.Name)
			assert.NotEmpty(t, k.Default, "%s %s", tc.Name, k.Name)
			assert.NotEmpty(t, k.Meaning, "%s %s", tc.Name, k.Name)
			assert.Equal(t, k.Other, k.Name == "", "%s: a key has a name unless it is the 'any other key' row", tc.Name)
		}
		tables = append(tables, tc)
	}
	assert.NoError(t, UpdateTables("REFERENCE.md", *update, tables...))
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
	assert.NoError(t, CheckKeys(OnFailure{}, onFailureSpec))
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

func TestUpdateTables(t *testing.T) {
	ks := Keys{{Name: "a", Type: "t", Default: "none", Meaning: "m"}}
	path := filepath.Join(t.TempDir(), "README.md")
	stale := "x\n<!-- a keys: generated -->\nold\n<!-- end of a keys -->\n"
	require.NoError(t, os.WriteFile(path, []byte(stale), 0o600))

	err := UpdateTables(path, false, Table{"a keys", ks})
	require.ErrorIs(t, err, ErrStaleTable)
	assert.Contains(t, err.Error(), "a keys")
	b, _ := os.ReadFile(path)
	assert.Equal(t, stale, string(b), "a check writes nothing")

	require.NoError(t, UpdateTables(path, true, Table{"a keys", ks}))
	require.NoError(t, UpdateTables(path, false, Table{"a keys", ks}), "current once rewritten")

	assert.ErrorIs(t, UpdateTables(path, false, Table{"b keys", ks}), ErrNoTableMarkers)
	assert.ErrorIs(t, UpdateTables(filepath.Join(t.TempDir(), "none.md"), false), fs.ErrNotExist)
}

func TestCheckKeys(t *testing.T) {
	type section struct {
		A string `yaml:"a"`
		B int    `yaml:"b"`
	}
	assert.NoError(t, CheckKeys(section{}, Keys{{Name: "b"}, {Name: "a"}, {Other: true}}))
	err := CheckKeys(section{}, Keys{{Name: "a"}, {Name: "c"}})
	assert.EqualError(t, err, "keys decoded but not documented: [b]; documented but not decoded: [c]")
}
