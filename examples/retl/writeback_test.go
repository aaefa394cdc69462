package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retl-go/retl/examples/demo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withChangeDetection keeps the shipped syncs as they are: they detect
// changes by their key already.
func withChangeDetection(_, text string) string { return text }

func TestChangeDetectionThroughTheCommand(t *testing.T) {
	s := newDemoSetup(t, "writeback: {connection: warehouse, exclude_fields: [Email, Phone]}\n", withChangeDetection)
	report := filepath.Join(s.dir, "run.json")
	r := retl(t, "run", "--configs", s.configs, "--only", "accounts", "--report", report)
	require.Equal(t, exitOK, r.code, r.stderr)
	first := readReport(t, report).Sync("accounts")
	assert.Equal(t, int64(50), first.Written())

	r = retl(t, "run", "--configs", s.configs, "--only", "accounts", "--report", report)
	require.Equal(t, exitOK, r.code, r.stderr)
	second := readReport(t, report).Sync("accounts")
	assert.Equal(t, int64(50), second.Read)
	assert.Equal(t, int64(50), second.Unchanged)
	assert.Zero(t, second.Written())
	assert.Contains(t, r.stdout, "accounts: skipped: unchanged (50)")

	r = retl(t, "plan", "--configs", s.configs, "--only", "accounts")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, `(?m)^accounts\s+50\s+0\s+0\s+50\s`, r.stdout, "the plan counts the unchanged rows")

	r = retl(t, "run", "--configs", s.configs, "--only", "accounts", "--full", "--report", report)
	require.Equal(t, exitOK, r.code, r.stderr)
	full := readReport(t, report).Sync("accounts")
	assert.Equal(t, int64(50), full.Updated)
	assert.Zero(t, full.Unchanged)

	db, err := sql.Open("sqlite", s.env.DSN())
	require.NoError(t, err)
	defer db.Close()
	var runs, results, states int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM RETL_RUNS WHERE SYNC = 'accounts'").Scan(&runs))
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM RETL_RECORD_RESULTS WHERE SYNC = 'accounts'").Scan(&results))
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM RETL_STATE WHERE SYNC = 'accounts' AND SALESFORCE_ID LIKE '001%'").Scan(&states))
	assert.Equal(t, []int{3, 150, 50}, []int{runs, results, states}, "three runs (not the plan), every row of each, an Account id per key")
}

func TestRefusingWritebackExits3WithEveryOutcomeInTheReport(t *testing.T) {
	reports := filepath.Join(t.TempDir(), "reports")
	s := newDemoSetup(t, "writeback: {connection: warehouse}\nreports: {dir: "+reports+"}\n", withChangeDetection)
	// The warehouse can be read, and refuses every write.
	t.Setenv(demo.EnvDSN, s.env.DSN()+"?mode=ro")
	report := filepath.Join(s.dir, "run.json")
	r := retl(t, "run", "--configs", s.configs, "--only", "accounts", "--only", "contacts", "--report", report)
	assert.Equal(t, exitWriteback, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "contacts: warning: warehouse writeback:")
	assert.Contains(t, r.stderr, "warehouse writeback", "known before the syncs start")

	rep := readReport(t, report)
	assert.True(t, rep.OK())
	assert.True(t, rep.WritebackFailed())
	c := rep.Sync("contacts")
	assert.Equal(t, counts{Read: 120, Created: 112, Updated: 5, Failed: 3, KeptBack: 5, Status: "succeeded"}, countsOf(c))
	assert.True(t, c.WritebackFailed)
	files, err := filepath.Glob(filepath.Join(reports, "*", "contacts.failed.csv"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	b, err := os.ReadFile(files[0])
	require.NoError(t, err)
	assert.Equal(t, 4, strings.Count(string(b), "\n"), "a header and the 3 failed rows")
}

func TestWritebackThatCannotBeOpenedExits2(t *testing.T) {
	s := newDemoSetup(t, "writeback: {connection: warehouse, schema: A.B}\n", nil)
	r := retl(t, "run", "--configs", s.configs, "--only", "accounts")
	assert.Equal(t, exitInvalid, r.code)
	assert.Contains(t, r.stderr, `writeback: state: schema "A.B": sqlite takes a schema name without dots`)
}
