package reverseetl_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The core packages link no database driver: as with database/sql, the
// program chooses its drivers (state.Register, snowflake.Register,
// sqlsource.Register), and an embedder that registers none carries none.
func TestCorePackagesImportNoDatabaseDriver(t *testing.T) {
	core := []string{
		"github.com/retl-go/retl/reverseetl",
		"github.com/retl-go/retl/reverseetl/alert",
		"github.com/retl-go/retl/reverseetl/review",
		"github.com/retl-go/retl/config",
		"github.com/retl-go/retl/source",
		"github.com/retl-go/retl/source/memory",
		"github.com/retl-go/retl/sink",
		"github.com/retl-go/retl/sink/memory",
		"github.com/retl-go/retl/sink/sinktest",
		"github.com/retl-go/retl/transform",
	}
	out, err := exec.Command("go", append([]string{"list", "-deps"}, core...)...).Output()
	require.NoError(t, err)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/retl-go/retl/reverseetl", "go list answered")
	for _, d := range deps {
		for _, driver := range []string{"modernc.org/sqlite", "github.com/snowflakedb/gosnowflake"} {
			assert.False(t, d == driver || strings.HasPrefix(d, driver+"/"), "%s is linked by the core packages", d)
		}
	}
}
