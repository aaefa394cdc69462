package state_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/state"
)

// On Snowflake the outcomes and the state are loaded from files: the
// statements of a sync run stay the same whether it sends 1,000 rows or
// 3,000, every row lands in RECORD_RESULTS, and the state after each run is
// what the next run compares against.
func TestLoadsDoNotGrowWithTheRows(t *testing.T) {
	w := fakesnowWarehouse(t)
	w.load(t, 1000)
	pr := newProject(t, w, "{connection: wh}", map[string]string{"people": "Name"})
	snk := pr.sinks["people"]
	_, _, st, _ := pr.store.Tables()
	run := func(id string) (state.Stats, *reverseetl.SyncReport) {
		before := pr.store.Stats()
		rep := pr.run(t, id, reverseetl.RunOptions{})
		after := pr.store.Stats()
		r := rep.Sync("people")
		require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
		pr.checkTables(t, id, r)
		return state.Stats{Statements: after.Statements - before.Statements, Bytes: after.Bytes - before.Bytes}, r
	}
	hash := func(key string) string {
		var h string
		require.NoError(t, w.db.QueryRow("SELECT ROW_HASH FROM "+st+" WHERE SYNC = 'people' AND RECORD_KEY = ?", key).Scan(&h))
		return h
	}

	_, r := run("run1")
	assert.Equal(t, int64(1000), r.Created)
	assert.Len(t, snk.take(), 1000)
	assert.Equal(t, int64(1000), w.int(t, "SELECT COUNT(*) FROM "+st+" WHERE SYNC = 'people' AND RUN_ID = 'run1'"))
	h1 := hash("1")

	w.exec(t, "UPDATE PEOPLE SET NAME = NAME || ' b'")
	small, r := run("run2")
	assert.Equal(t, int64(1000), r.Updated)
	assert.Len(t, snk.take(), 1000)
	assert.NotEqual(t, h1, hash("1"), "the state holds the hash of the row sent")

	type person struct {
		ID    int    `json:"ID"`
		Name  string `json:"NAME"`
		Email string `json:"EMAIL"`
	}
	more := make([]person, 2000)
	for i := range more {
		more[i] = person{1001 + i, fmt.Sprintf("Person, \"%d\"\\", 1001+i), fmt.Sprintf("p%d@example.com", 1001+i)}
	}
	b, err := json.Marshal(more)
	require.NoError(t, err)
	w.exec(t, "INSERT INTO PEOPLE (ID, NAME, EMAIL) "+w.dialect.FromJSON(peopleCols, "?"), string(b))
	w.exec(t, "UPDATE PEOPLE SET NAME = NAME || ' c'")
	large, r := run("run3")
	assert.Equal(t, int64(3000), r.Created+r.Updated)
	assert.Len(t, snk.take(), 3000)
	assert.Equal(t, small.Statements, large.Statements, "statements do not grow with the rows")
	assert.LessOrEqual(t, large.Statements, int64(40))
	assert.Equal(t, int64(3000), w.int(t, "SELECT COUNT(*) FROM "+st+" WHERE SYNC = 'people' AND RUN_ID = 'run3'"))
	_, _, _, _ = pr.store.Tables()
	assert.Equal(t, int64(0), w.int(t, "SELECT COUNT(*) FROM D.RETL.STATE_LOAD"), "loaded state is cleared after its merge")
	var name string
	require.NoError(t, w.db.QueryRow("SELECT VALUES_JSON FROM D.RETL.RECORD_RESULTS WHERE RUN_ID = 'run3' AND RECORD_KEY = '1001'").Scan(&name))
	var vals map[string]string
	require.NoError(t, json.Unmarshal([]byte(name), &vals))
	assert.Equal(t, "Person, \"1001\"\\ c", vals["Name"], "text with commas, quotes and backslashes lands as sent")

	unchanged, r := run("run4")
	assert.Empty(t, snk.take())
	assert.Equal(t, int64(3000), r.Unchanged)
	assert.LessOrEqual(t, unchanged.Statements, int64(10))
	t.Logf("statements per run: 1,000 rows %d (%d bytes), 3,000 rows %d (%d bytes), unchanged %d",
		small.Statements, small.Bytes, large.Statements, large.Bytes, unchanged.Statements)
}

// A spool that fills is loaded while the sync runs, one load per file:
// every row still lands once and the state is whole.
func TestLoadsPerFileWhenTheFileFills(t *testing.T) {
	defer state.SetSpoolBytes(20_000)()
	w := fakesnowWarehouse(t)
	w.load(t, 1500)
	pr := newProject(t, w, "{connection: wh}", map[string]string{"people": "Name"})
	rep := pr.run(t, "run1", reverseetl.RunOptions{})
	r := rep.Sync("people")
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	pr.checkTables(t, "run1", r)
	_, _, st, _ := pr.store.Tables()
	assert.Equal(t, int64(1500), w.int(t, "SELECT COUNT(*) FROM "+st+" WHERE SYNC = 'people'"))
	assert.Equal(t, int64(0), w.int(t, "SELECT COUNT(*) FROM D.RETL.STATE_LOAD"))
	rep = pr.run(t, "run2", reverseetl.RunOptions{})
	assert.Equal(t, int64(1500), rep.Sync("people").Unchanged)
}

// When the tables loaded into are gone, the load fails: the report says so and is
// marked WritebackFailed, every outcome stays as it was, and the rows are
// sent again next run.
func TestLoadFailureIsAWarning(t *testing.T) {
	w := fakesnowWarehouse(t)
	w.load(t, 50)
	pr := newProject(t, w, "{connection: wh}", map[string]string{"people": "Name"})
	require.NoError(t, pr.store.Prepare(context.Background()))
	w.exec(t, "DROP TABLE D.RETL.STATE_LOAD")
	w.exec(t, "DROP TABLE D.RETL.RECORD_RESULTS")
	eng := reverseetl.New(pr.reg, reverseetl.WithRunID("run1"), reverseetl.WithLogger(slog.New(slog.DiscardHandler)),
		reverseetl.WithState(pr.store), reverseetl.WithObserver(pr.store.Writeback("run1")))
	rep, err := eng.Run(context.Background(), pr.p, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("people")
	assert.Equal(t, reverseetl.Succeeded, r.Status)
	assert.Equal(t, int64(50), r.Created)
	assert.True(t, r.WritebackFailed)
	require.NotEmpty(t, r.Warnings)
	joined := strings.Join(r.Warnings, "\n")
	assert.Contains(t, joined, "saving change-detection state")
	assert.Contains(t, joined, "record results")
	assert.Contains(t, joined, "copy into")
	_, _, st, _ := pr.store.Tables()
	assert.Equal(t, int64(0), w.int(t, "SELECT COUNT(*) FROM "+st))
}

// Once the tables exist, a store readies itself with one statement; a
// table gone since is made again, and the version row is not doubled.
func TestPrepareProbesBeforeMakingTables(t *testing.T) {
	warehouses(t, func(t *testing.T, w *warehouse) {
		ctx := context.Background()
		prepare := func() state.Stats {
			st, err := state.New(w.db, w.dialect, state.Options{})
			require.NoError(t, err)
			require.NoError(t, st.Prepare(ctx))
			return st.Stats()
		}
		first := prepare()
		assert.Greater(t, first.Statements, int64(5), "the first store makes the tables")
		assert.Equal(t, int64(1), prepare().Statements, "later stores find them with one query")

		_, results, _, version := mustStore(t, w).Tables()
		w.exec(t, "DROP TABLE "+results)
		again := prepare()
		assert.Equal(t, first.Statements-1, again.Statements, "a missing table: all are made again after the probe, without a second version row")
		assert.Equal(t, int64(0), w.int(t, "SELECT COUNT(*) FROM "+results))
		assert.Equal(t, int64(1), w.int(t, "SELECT COUNT(*) FROM "+version))
		assert.Equal(t, int64(1), prepare().Statements)
	})
}

func mustStore(t *testing.T, w *warehouse) *state.Store {
	st, err := state.New(w.db, w.dialect, state.Options{})
	require.NoError(t, err)
	return st
}
