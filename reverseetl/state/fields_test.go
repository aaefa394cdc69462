package state_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/state"
)

// Field tokens travel with the state rows: saved at once (SaveState) or
// gathered and flushed (GatherState, FlushState), the last row of a key
// wins, and rows without tokens leave FIELD_STATE alone.
func TestFieldState(t *testing.T) {
	warehouses(t, func(t *testing.T, w *warehouse) {
		ctx := context.Background()
		st, err := state.New(w.db, w.dialect, state.Options{})
		require.NoError(t, err)
		got, err := st.StoredFields(ctx, "s", []string{"a"})
		require.NoError(t, err)
		assert.Empty(t, got)

		require.NoError(t, st.SaveState(ctx, "r1", "s", []reverseetl.StateRow{
			{Key: "a", Hash: "h", Fields: map[string]string{"Phone": "0000000000000001"}},
			{Key: "b", Hash: "h"},
			{Key: "a", Hash: "h2", Fields: map[string]string{"Phone": "0000000000000002", "Name": "0000000000000003"}},
		}))
		require.NoError(t, st.GatherState(ctx, "r2", "s", []reverseetl.StateRow{
			{Key: "c", Hash: "h", Fields: map[string]string{"Title": "000000000000000a"}},
		}))
		require.NoError(t, st.GatherState(ctx, "r2", "other", []reverseetl.StateRow{
			{Key: "a", Hash: "h", Fields: map[string]string{"Phone": "ffffffffffffffff"}},
		}))
		require.NoError(t, st.FlushState(ctx, "r2", "s"))
		require.NoError(t, st.FlushState(ctx, "r2", "other"))

		got, err = st.StoredFields(ctx, "s", []string{"a", "b", "c", "missing"})
		require.NoError(t, err)
		assert.Equal(t, map[string]map[string]string{
			"a": {"Phone": "0000000000000002", "Name": "0000000000000003"},
			"c": {"Title": "000000000000000a"},
		}, got)
		hashes, err := st.StoredHashes(ctx, "s", []string{"a", "b"})
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"a": "h2", "b": "h"}, hashes, "the state rows are saved as before")
		_, _, stt, _ := st.Tables()
		fields := stt[:len(stt)-len("STATE")] + "FIELD_STATE"
		assert.Equal(t, int64(3), w.int(t, "SELECT COUNT(*) FROM "+fields))
		if w.pushdown {
			assert.Equal(t, int64(0), w.int(t, "SELECT COUNT(*) FROM D.RETL.FIELD_STATE_LOAD"), "cleared after its merge")
		}
	})
}

// Tables an earlier release made, without FIELD_STATE: a run adds it, a
// plan (read-only) finds no tokens.
func TestFieldStateAddedToOlderTables(t *testing.T) {
	ctx := context.Background()
	db, _ := sqliteDB(t)
	st, err := state.New(db, state.SQLite, state.Options{})
	require.NoError(t, err)
	require.NoError(t, st.Prepare(ctx))
	_, err = db.Exec("DROP TABLE RETL_FIELD_STATE")
	require.NoError(t, err)

	ro, err := state.New(db, state.SQLite, state.Options{})
	require.NoError(t, err)
	got, err := ro.ReadOnly().StoredFields(ctx, "s", []string{"a"})
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Zero(t, count(t, db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'RETL_FIELD_STATE'"), "a plan makes nothing")

	again, err := state.New(db, state.SQLite, state.Options{})
	require.NoError(t, err)
	require.NoError(t, again.SaveState(ctx, "r", "s", []reverseetl.StateRow{{Key: "a", Fields: map[string]string{"X": "1"}}}))
	got, err = again.StoredFields(ctx, "s", []string{"a"})
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]string{"a": {"X": "1"}}, got)
}

// Tokens that are not a JSON object are an error, not an empty state.
func TestFieldStateUnreadable(t *testing.T) {
	ctx := context.Background()
	st, db := newSQLiteStore(t, state.Options{})
	require.NoError(t, st.Prepare(ctx))
	_, err := db.Exec("INSERT INTO RETL_FIELD_STATE (SYNC, RECORD_KEY, FIELD_TOKENS) VALUES ('s', 'a', 'not json')")
	require.NoError(t, err)
	_, err = st.StoredFields(ctx, "s", []string{"a"})
	assert.ErrorContains(t, err, `RETL_FIELD_STATE: the tokens of key "a" are not a JSON object`)

	_, err = db.Exec("DROP TABLE RETL_FIELD_STATE")
	require.NoError(t, err)
	_, err = st.StoredFields(ctx, "s", []string{"a"})
	assert.ErrorContains(t, err, "no such table: RETL_FIELD_STATE")
	err = st.SaveState(ctx, "r", "s", []reverseetl.StateRow{{Key: "a", Fields: map[string]string{"X": "1"}}})
	assert.ErrorContains(t, err, "no such table: RETL_FIELD_STATE")
}

// Tables of layout 1 (before FIELD_STATE and RUNS.FIELDS_KEPT_EDITED) are
// migrated by the first store that writes, and count kept edits after.
func TestMigrateFromLayout1CountsKeptEdits(t *testing.T) {
	warehouses(t, func(t *testing.T, w *warehouse) {
		ctx := context.Background()
		st, err := state.New(w.db, w.dialect, state.Options{})
		require.NoError(t, err)
		require.NoError(t, st.Prepare(ctx))
		runs, _, stt, version := st.Tables()
		fields := stt[:len(stt)-len("STATE")] + "FIELD_STATE"
		w.exec(t, "ALTER TABLE "+runs+" DROP COLUMN FIELDS_KEPT_EDITED")
		w.exec(t, "DROP TABLE "+fields)
		w.exec(t, "DELETE FROM "+version)
		w.exec(t, "INSERT INTO "+version+" (VERSION) VALUES (1)")

		again, err := state.New(w.db, w.dialect, state.Options{})
		require.NoError(t, err)
		wb := again.Writeback("r1")
		rep := &reverseetl.SyncReport{Name: "people", Status: reverseetl.Succeeded, Read: 1, Updated: 1, KeptEdits: 3}
		wb.SyncFinished(ctx, writebackSync(), rep)
		assert.False(t, rep.WritebackFailed, "%v", rep.Warnings)
		assert.Equal(t, int64(3), w.int(t, "SELECT FIELDS_KEPT_EDITED FROM "+runs+" WHERE RUN_ID = 'r1'"))
		assert.Equal(t, int64(2), w.int(t, "SELECT MAX(VERSION) FROM "+version))
		require.NoError(t, again.SaveState(ctx, "r1", "s", []reverseetl.StateRow{{Key: "a", Fields: map[string]string{"X": "1"}}}))
		got, err := again.StoredFields(ctx, "s", []string{"a"})
		require.NoError(t, err)
		assert.Equal(t, map[string]map[string]string{"a": {"X": "1"}}, got)
	})
}

// A migration that cannot add the column fails the store's preparation,
// naming it.
func TestMigrateFromLayout1Fails(t *testing.T) {
	ctx := context.Background()
	st, db := newSQLiteStore(t, state.Options{})
	require.NoError(t, st.Prepare(ctx))
	for _, q := range []string{"DROP TABLE RETL_RUNS", "CREATE VIEW RETL_RUNS AS SELECT 1 AS RUN_ID", "DELETE FROM RETL_SCHEMA_VERSION",
		"INSERT INTO RETL_SCHEMA_VERSION (VERSION) VALUES (1)"} {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
	again, err := state.New(db, state.SQLite, state.Options{})
	require.NoError(t, err)
	err = again.Prepare(ctx)
	assert.ErrorContains(t, err, "migrating the tables from layout version 1")
	assert.Equal(t, 1, count(t, db, "SELECT MAX(VERSION) FROM RETL_SCHEMA_VERSION"), "the version stays until the migration is done")
}

// Forgetting a key's state forgets its field tokens too.
func TestForgetStateForgetsFields(t *testing.T) {
	ctx := context.Background()
	st, _ := newSQLiteStore(t, state.Options{})
	require.NoError(t, st.SaveState(ctx, "r", "s", []reverseetl.StateRow{
		{Key: "a", Hash: "h", Fields: map[string]string{"X": "1"}}, {Key: "b", Hash: "h", Fields: map[string]string{"X": "2"}}}))
	require.NoError(t, st.ForgetState(ctx, "s", []string{"a"}))
	got, err := st.StoredFields(ctx, "s", []string{"a", "b"})
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]string{"b": {"X": "2"}}, got)
}
