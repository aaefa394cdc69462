package state_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/state"
)

func stateKeys(t *testing.T, st *state.Store, syncName string) []string {
	t.Helper()
	var keys []string
	require.NoError(t, st.StateRows(context.Background(), syncName, func(r reverseetl.StateRow) error {
		keys = append(keys, r.Key+"="+r.ID)
		return nil
	}))
	slices.Sort(keys)
	return keys
}

// The store lists a sync's state, forgets keys, and finds in the
// warehouse the keys a query no longer returns.
func TestStoreListsAndForgetsRemovedKeys(t *testing.T) {
	warehouses(t, func(t *testing.T, w *warehouse) {
		ctx := context.Background()
		w.load(t, 3) // PEOPLE holds ID 1, 2 and 3
		st, err := state.New(w.db, w.dialect, state.Options{Schema: "RM", Connection: "wh"})
		require.NoError(t, err)
		// Key 6 holds the record of key 1, which the query returns: its
		// row is held. Key 4's record is held by another sync's key only.
		rows := []reverseetl.StateRow{{Key: "1", Hash: "h", ID: "001A"}, {Key: "2", Hash: "h", ID: "001B"},
			{Key: "4", Hash: "h", ID: "001D"}, {Key: "5", Hash: "h"}, {Key: "6", Hash: "h", ID: "001A"}}
		require.NoError(t, st.SaveState(ctx, "run1", "people", rows))
		require.NoError(t, st.SaveState(ctx, "run1", "other", []reverseetl.StateRow{{Key: "9", Hash: "h", ID: "001Z"}, {Key: "3", Hash: "h", ID: "001D"}}))
		assert.Equal(t, []string{"1=001A", "2=001B", "4=001D", "5=", "6=001A"}, stateKeys(t, st, "people"))

		// Creating the schema on Snowflake makes it the session's.
		people := "PEOPLE"
		if w.dialect == state.Snowflake {
			people = "D.SRC.PEOPLE"
		}
		got, ok, err := st.RemovedRows(ctx, reverseetl.ChangeQuery{Sync: "people", Connection: "wh",
			Query: "select ID, NAME from " + people + " where ID <> 2; -- a comment", KeyColumn: "ID"})
		require.NoError(t, err)
		require.True(t, ok)
		slices.SortFunc(got, func(a, b reverseetl.RemovedRow) int { return cmpString(a.Key, b.Key) })
		assert.Equal(t, []reverseetl.RemovedRow{
			{StateRow: reverseetl.StateRow{Key: "2", Hash: "h", ID: "001B"}},
			{StateRow: reverseetl.StateRow{Key: "4", Hash: "h", ID: "001D"}},
			{StateRow: reverseetl.StateRow{Key: "5", Hash: "h"}},
			{StateRow: reverseetl.StateRow{Key: "6", Hash: "h", ID: "001A"}, Held: true},
		}, got)

		_, ok, err = st.RemovedRows(ctx, reverseetl.ChangeQuery{Sync: "people", Connection: "elsewhere", Query: "select 1", KeyColumn: "ID"})
		require.NoError(t, err)
		assert.False(t, ok, "another connection's query cannot run here")

		_, _, err = st.RemovedRows(ctx, reverseetl.ChangeQuery{Sync: "people", Connection: "wh", Query: "select ID from NO_SUCH_TABLE", KeyColumn: "ID"})
		assert.Error(t, err)

		require.NoError(t, st.ForgetState(ctx, "people", []string{"2", "4", "5", "6", "7"}))
		assert.Equal(t, []string{"1=001A"}, stateKeys(t, st, "people"))
		assert.Equal(t, []string{"3=001D", "9=001Z"}, stateKeys(t, st, "other"), "another sync's state stays")
	})
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Forgetting many keys takes several statements.
func TestForgetStateInChunks(t *testing.T) {
	w := sqliteWarehouse(t)
	ctx := context.Background()
	st, err := state.New(w.db, w.dialect, state.Options{})
	require.NoError(t, err)
	var rows []reverseetl.StateRow
	var keys []string
	for i := range 1200 {
		k := fmt.Sprintf("K%04d", i)
		rows = append(rows, reverseetl.StateRow{Key: k, Hash: "h"})
		if i != 700 {
			keys = append(keys, k)
		}
	}
	require.NoError(t, st.SaveState(ctx, "run", "s", rows))
	require.NoError(t, st.ForgetState(ctx, "s", keys))
	assert.Equal(t, []string{"K0700="}, stateKeys(t, st, "s"))
}

// Each call fails when the tables cannot be reached or read.
func TestRemovedKeysErrors(t *testing.T) {
	w := sqliteWarehouse(t)
	ctx := context.Background()
	st, err := state.New(w.db, w.dialect, state.Options{Connection: "wh"})
	require.NoError(t, err)
	require.NoError(t, st.SaveState(ctx, "run", "s", []reverseetl.StateRow{{Key: "1", Hash: "h"}}))

	stop := fmt.Errorf("stop")
	assert.ErrorIs(t, st.StateRows(ctx, "s", func(reverseetl.StateRow) error { return stop }), stop)

	_, err = w.db.Exec("DROP TABLE RETL_STATE")
	require.NoError(t, err)
	assert.Error(t, st.StateRows(ctx, "s", func(reverseetl.StateRow) error { return nil }))
	assert.Error(t, st.ForgetState(ctx, "s", []string{"1"}))
	_, err = w.db.Exec("CREATE TABLE RETL_STATE (SYNC TEXT, RECORD_KEY TEXT, ROW_HASH TEXT)")
	require.NoError(t, err)
	assert.Error(t, st.StateRows(ctx, "s", func(reverseetl.StateRow) error { return nil }), "a column is missing")

	require.NoError(t, w.db.Close())
	closed, err := state.New(w.db, w.dialect, state.Options{Connection: "wh"})
	require.NoError(t, err)
	assert.Error(t, closed.StateRows(ctx, "s", func(reverseetl.StateRow) error { return nil }))
	assert.Error(t, closed.ForgetState(ctx, "s", []string{"1"}))
	_, _, err = closed.RemovedRows(ctx, reverseetl.ChangeQuery{Sync: "s", Connection: "wh", Query: "select 1 as ID", KeyColumn: "ID"})
	assert.Error(t, err)
}
