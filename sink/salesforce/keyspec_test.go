package salesforce

import (
	"flag"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the generated tables of README.md")

// yamlKeys lists the keys a struct decodes, inline structs included.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		if strings.Contains(tag, "inline") {
			keys = append(keys, yamlKeys(f.Type)...)
			continue
		}
		keys = append(keys, strings.Split(tag, ",")[0])
	}
	return keys
}

// The reference documents exactly the keys the section decodes, and the
// README's table is the one keyspec.go generates.
func TestDestinationKeysDocumented(t *testing.T) {
	var documented []string
	for _, k := range destinationKeys {
		documented = append(documented, k.Key)
		assert.NotEmpty(t, k.Type, k.Key)
		assert.NotEmpty(t, k.Default, k.Key)
		assert.NotEmpty(t, k.Meaning, k.Key)
	}
	assert.ElementsMatch(t, yamlKeys(reflect.TypeOf(destSection{})), documented,
		"every key destSection decodes is documented in destinationKeys, and no other")

	var conn []string
	for _, k := range connectionKeys {
		conn = append(conn, k.Key)
		assert.NotEmpty(t, k.Meaning, k.Key)
	}
	assert.ElementsMatch(t, yamlKeys(reflect.TypeOf(connConfig{})), conn,
		"every key Config decodes is documented in connectionKeys, and no other")

	for _, table := range []struct {
		name  string
		specs []keySpec
	}{{"destination keys", destinationKeys}, {"connection keys", connectionKeys}} {
		b, err := os.ReadFile("README.md")
		require.NoError(t, err)
		re := regexp.MustCompile(`(?s)(<!-- ` + table.name + `:[^\n]*-->\n)(.*?)(<!-- end of ` + table.name + ` -->)`)
		m := re.FindSubmatchIndex(b)
		require.NotNil(t, m, "README.md has the %s markers", table.name)
		want := keyTable(table.specs)
		if *update {
			out := string(b[:m[4]]) + want + string(b[m[5]:])
			require.NoError(t, os.WriteFile("README.md", []byte(out), 0o644))
			continue
		}
		assert.Equal(t, want, string(b[m[4]:m[5]]), "README.md's %s table is stale: go test ./sink/salesforce -run TestDestinationKeysDocumented -update", table.name)
	}
}
