package main

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// retlTables counts retl's tables in the demo's SQLite warehouse.
func retlTables(t *testing.T, dsn string) int {
	t.Helper()
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'RETL\\_%' ESCAPE '\\'").Scan(&n))
	return n
}

// A plan writes nothing anywhere: with a writeback configured and no
// state yet, it creates no table; once a run made the state, it reads it.
func TestPlanCreatesNoWarehouseTables(t *testing.T) {
	s := newDemoSetup(t, "writeback: {connection: warehouse}\n", withChangeDetection)
	r := retl(t, "plan", "--configs", s.configs, "--only", "accounts")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, `(?m)^accounts\s+50\s`, r.stdout)
	assert.Zero(t, retlTables(t, s.env.DSN()), "the plan created tables")

	r = retl(t, "run", "--configs", s.configs, "--only", "accounts")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, 7, retlTables(t, s.env.DSN()), "RUNS, RECORD_RESULTS, STATE, FIELD_STATE, PRIOR_VALUES, LEASES, SCHEMA_VERSION")
	r = retl(t, "plan", "--configs", s.configs, "--only", "accounts")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, `(?m)^accounts\s+50\s+0\s+0\s+50\s`, r.stdout, "the plan reads the state the run saved")
}
