package state_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/state"
)

// A read-only store (a plan) creates no table, reads an absent state as
// empty, refuses every write, and reads the state once a run made it.
func TestReadOnlyStoreWritesNothing(t *testing.T) {
	warehouses(t, func(t *testing.T, w *warehouse) {
		ctx := context.Background()
		tables := func() int64 {
			var n int64
			for _, name := range []string{"SCHEMA_VERSION", "RUNS", "RECORD_RESULTS", "STATE"} {
				q, args := w.dialect.TableExists("RETL", name)
				n += w.int(t, q, args...)
			}
			return n
		}
		ro, err := state.New(w.db, w.dialect, state.Options{Connection: "wh"})
		require.NoError(t, err)
		ro.ReadOnly()
		require.NoError(t, ro.Prepare(ctx))
		hashes, err := ro.StoredHashes(ctx, "people", []string{"1", "2"})
		require.NoError(t, err)
		assert.Empty(t, hashes)
		_, ok, err := ro.WrapQuery(ctx, reverseetl.ChangeQuery{Sync: "people", Connection: "wh", Query: "SELECT 1 AS ID", KeyColumn: "ID"})
		require.NoError(t, err)
		assert.False(t, ok, "no state to compare against in the warehouse")
		n := 0
		require.NoError(t, ro.StateRows(ctx, "people", func(reverseetl.StateRow) error { n++; return nil }))
		assert.Zero(t, n)
		assert.ErrorIs(t, ro.SaveState(ctx, "r", "people", []reverseetl.StateRow{{Key: "1", Hash: "h"}}), state.ErrReadOnly)
		assert.ErrorIs(t, ro.ForgetState(ctx, "people", []string{"1"}), state.ErrReadOnly)
		assert.ErrorIs(t, ro.Writeback("r").Outcomes(ctx, writebackSync(), outcomes(1)), state.ErrReadOnly)
		assert.Zero(t, tables(), "a read-only store creates nothing")

		rw, err := state.New(w.db, w.dialect, state.Options{})
		require.NoError(t, err)
		require.NoError(t, rw.SaveState(ctx, "r", "people", []reverseetl.StateRow{{Key: "1", Hash: "h1"}}))
		assert.EqualValues(t, 4, tables())
		again, err := state.New(w.db, w.dialect, state.Options{})
		require.NoError(t, err)
		hashes, err = again.ReadOnly().StoredHashes(ctx, "people", []string{"1", "2"})
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"1": "h1"}, hashes)

		// Tables of a newer layout are refused, as when writing.
		_, _, _, version := rw.Tables()
		w.exec(t, "INSERT INTO "+version+" (VERSION) VALUES (99)")
		newer, err := state.New(w.db, w.dialect, state.Options{})
		require.NoError(t, err)
		assert.ErrorContains(t, newer.ReadOnly().Prepare(ctx), "newer than this release of retl knows")
	})
}
