package state_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/state"
)

// A lease is taken by one run at a time, renewed by its holder, taken
// over once expired and free again once released; the clock is the
// store's, set per store.
func TestLeases(t *testing.T) {
	warehouses(t, func(t *testing.T, w *warehouse) {
		ctx := context.Background()
		t0 := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
		at := func(d time.Duration) *state.Store {
			st, err := state.New(w.db, w.dialect, state.Options{Now: func() time.Time { return t0.Add(d) }})
			require.NoError(t, err)
			return st
		}
		a := reverseetl.LeaseOwner{RunID: "run-a", Host: "host-a"}
		b := reverseetl.LeaseOwner{RunID: "run-b", Host: "host-b"}
		require.NoError(t, at(0).TakeLease(ctx, "people", a, time.Minute))
		err := at(30*time.Second).TakeLease(ctx, "people", b, time.Minute)
		var held *reverseetl.LeaseHeldError
		require.ErrorAs(t, err, &held)
		assert.Equal(t, a, held.Holder)
		assert.Contains(t, held.Expires, "2024-06-01 12:01:00")
		assert.Contains(t, err.Error(), `sync "people" is being run by run run-a on host-a`)
		assert.NoError(t, at(0).TakeLease(ctx, "other", b, time.Minute), "leases are per sync")

		// The holder renews; the renewed lease holds past the first expiry.
		require.NoError(t, at(50*time.Second).TakeLease(ctx, "people", a, time.Minute))
		assert.ErrorAs(t, at(90*time.Second).TakeLease(ctx, "people", b, time.Minute), &held)
		// Expired (a crashed run stopped renewing): taken over.
		require.NoError(t, at(111*time.Second).TakeLease(ctx, "people", b, time.Minute))
		assert.ErrorAs(t, at(112*time.Second).TakeLease(ctx, "people", a, time.Minute), &held)
		assert.Equal(t, b, held.Holder)

		// Releasing someone else's lease does nothing; the holder's frees it.
		require.NoError(t, at(0).ReleaseLease(ctx, "people", a))
		assert.ErrorAs(t, at(113*time.Second).TakeLease(ctx, "people", a, time.Minute), &held)
		require.NoError(t, at(0).ReleaseLease(ctx, "people", b))
		assert.NoError(t, at(114*time.Second).TakeLease(ctx, "people", a, time.Minute))
	})
}

// Of runs taking one lease at once, on connections of their own, one wins
// and every other is told who holds it.
func TestLeaseTakenAtomically(t *testing.T) {
	ctx := context.Background()
	t.Run("sqlite", func(t *testing.T) {
		_, path := sqliteDB(t)
		var stores []*state.Store
		for range 8 {
			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)")
			require.NoError(t, err)
			db.SetMaxOpenConns(1)
			t.Cleanup(func() { db.Close() })
			st, err := state.New(db, state.SQLite, state.Options{})
			require.NoError(t, err)
			require.NoError(t, st.Prepare(ctx))
			stores = append(stores, st)
		}
		raceForLease(t, stores)
	})
	t.Run("fakesnow", func(t *testing.T) {
		w := fakesnowWarehouse(t)
		var stores []*state.Store
		for range 4 {
			st, err := state.New(w.db, state.Snowflake, state.Options{})
			require.NoError(t, err)
			require.NoError(t, st.Prepare(ctx))
			stores = append(stores, st)
		}
		raceForLease(t, stores)
	})
}

func raceForLease(t *testing.T, stores []*state.Store) {
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, st := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = st.TakeLease(context.Background(), "people", reverseetl.LeaseOwner{RunID: string(rune('a' + i)), Host: "h"}, time.Hour)
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		var held *reverseetl.LeaseHeldError
		assert.ErrorAs(t, err, &held)
	}
	assert.Equal(t, 1, won, "%v", errs)
}
