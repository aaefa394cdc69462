package state_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/state"
	"github.com/retl-go/retl/sink"
)

// priorOutcomes are a chunk of a run's outcomes: an update that changed
// two fields (one was empty), a record created, and a failed row.
func priorOutcomes() []reverseetl.Outcome {
	return []reverseetl.Outcome{
		{Seq: 1, Key: "K1", Kind: reverseetl.Written, ID: "001A", Prior: []sink.PriorValue{
			{Field: "Phone", Prior: sink.NullValue(), Wrote: "tok-1", Written: "999"},
			{Field: "BillingCity", Prior: sink.TextValue("Oslo"), Wrote: "tok-2", Written: "Paris"},
			{Field: "SSN__c", Prior: sink.TextValue("secret"), Wrote: "tok-3", Written: "other"}}},
		{Seq: 2, Key: "K2", Kind: reverseetl.Written, ID: "001B", Created: true},
		{Seq: 3, Key: "K3", Kind: reverseetl.RowFailed, Err: &sink.RecordError{Code: "X", Message: "no"},
			Prior: []sink.PriorValue{{Field: "Name", Prior: sink.TextValue("never")}}},
	}
}

// PRIOR_VALUES keeps the typed prior values of the written outcomes,
// without excluded fields; the store reads them back for an undo, with
// the run's syncs and the records it created.
func TestPriorValuesRoundTrip(t *testing.T) {
	ctx := context.Background()
	st, db := newSQLiteStore(t, state.Options{ExcludeFields: []string{"ssn__c"}})
	s := &config.Sync{Name: "accounts"}
	wb := st.Writeback("run-1")
	require.NoError(t, wb.Outcomes(ctx, s, priorOutcomes()))
	wb.SyncFinished(ctx, s, &reverseetl.SyncReport{Name: "accounts", Status: reverseetl.Succeeded})
	assert.Equal(t, 2, count(t, db, "SELECT COUNT(*) FROM RETL_PRIOR_VALUES"))
	assert.Equal(t, 1, count(t, db, "SELECT COUNT(*) FROM RETL_PRIOR_VALUES WHERE PRIOR_VALUE IS NULL AND PRIOR_KIND = 'null'"))

	syncs, err := st.RunSyncs(ctx, "run-1")
	require.NoError(t, err)
	assert.Equal(t, []string{"accounts"}, syncs)
	syncs, err = st.RunSyncs(ctx, "run-2")
	require.NoError(t, err)
	assert.Empty(t, syncs)

	priors, err := st.PriorValues(ctx, "run-1", "accounts")
	require.NoError(t, err)
	assert.Equal(t, []reverseetl.PriorRecord{{Seq: 1, Key: "K1", ID: "001A", Fields: []sink.PriorValue{
		{Field: "BillingCity", Prior: sink.TextValue("Oslo"), Wrote: "tok-2", Written: "Paris"},
		{Field: "Phone", Prior: sink.NullValue(), Wrote: "tok-1", Written: "999"}}}}, priors)
	created, err := st.CreatedRecords(ctx, "run-1", "accounts")
	require.NoError(t, err)
	assert.Equal(t, []reverseetl.CreatedRecord{{Seq: 2, Key: "K2", ID: "001B"}}, created)

	_, err = db.Exec("UPDATE RETL_PRIOR_VALUES SET PRIOR_KIND = 'blob'")
	require.NoError(t, err)
	_, err = st.PriorValues(ctx, "run-1", "accounts")
	assert.ErrorContains(t, err, `unknown PRIOR_KIND "blob"`)
}

// A read-only store (a dry run) finds nothing where the tables, or
// PRIOR_VALUES alone, do not exist, and writes nothing.
func TestPriorValuesReadOnly(t *testing.T) {
	ctx := context.Background()
	db, _ := sqliteDB(t)
	ro, err := state.New(db, state.SQLite, state.Options{})
	require.NoError(t, err)
	ro.ReadOnly()
	syncs, err := ro.RunSyncs(ctx, "run-1")
	require.NoError(t, err)
	assert.Empty(t, syncs)
	priors, err := ro.PriorValues(ctx, "run-1", "accounts")
	require.NoError(t, err)
	assert.Empty(t, priors)
	created, err := ro.CreatedRecords(ctx, "run-1", "accounts")
	require.NoError(t, err)
	assert.Empty(t, created)

	// Tables an earlier release made, without PRIOR_VALUES.
	rw, err := state.New(db, state.SQLite, state.Options{})
	require.NoError(t, err)
	require.NoError(t, rw.Prepare(ctx))
	_, err = db.Exec("DROP TABLE RETL_PRIOR_VALUES")
	require.NoError(t, err)
	again, err := state.New(db, state.SQLite, state.Options{})
	require.NoError(t, err)
	priors, err = again.ReadOnly().PriorValues(ctx, "run-1", "accounts")
	require.NoError(t, err)
	assert.Empty(t, priors)

	// A read-only store refuses to keep prior values.
	err = again.Writeback("run-1").Outcomes(ctx, &config.Sync{Name: "accounts"}, priorOutcomes())
	assert.ErrorContains(t, err, "prior values")
	assert.ErrorIs(t, err, state.ErrReadOnly)
}

// The reads fail with the warehouse.
func TestPriorValuesReadErrors(t *testing.T) {
	ctx := context.Background()
	st, db := newSQLiteStore(t, state.Options{})
	require.NoError(t, st.Prepare(ctx))
	require.NoError(t, db.Close())
	_, err := st.RunSyncs(ctx, "run-1")
	assert.Error(t, err)
	_, err = st.PriorValues(ctx, "run-1", "s")
	assert.Error(t, err)
	_, err = st.CreatedRecords(ctx, "run-1", "s")
	assert.Error(t, err)
	ro, err := state.New(db, state.SQLite, state.Options{})
	require.NoError(t, err)
	_, err = ro.ReadOnly().PriorValues(ctx, "run-1", "s")
	assert.Error(t, err)
}

// On both warehouses PRIOR_VALUES reads back what was written: on
// Snowflake from a load file, loaded when the sync finishes, a null prior
// and empty text told apart by PRIOR_KIND.
func TestPriorValuesInBothWarehouses(t *testing.T) {
	warehouses(t, func(t *testing.T, w *warehouse) {
		ctx := context.Background()
		st, err := state.New(w.db, w.dialect, state.Options{Schema: "P"})
		require.NoError(t, err)
		s := &config.Sync{Name: "accounts"}
		wb := st.Writeback("run-p")
		outs := priorOutcomes()
		outs[0].Prior = append(outs[0].Prior, sink.PriorValue{Field: "Website", Prior: sink.TextValue(""), Wrote: "tok-4", Written: "a|\"b\""})
		require.NoError(t, wb.Outcomes(ctx, s, outs))
		rep := &reverseetl.SyncReport{Name: "accounts", Status: reverseetl.Succeeded}
		wb.SyncFinished(ctx, s, rep)
		require.False(t, rep.WritebackFailed, "%v", rep.Warnings)
		priors, err := st.PriorValues(ctx, "run-p", "accounts")
		require.NoError(t, err)
		assert.Equal(t, []reverseetl.PriorRecord{{Seq: 1, Key: "K1", ID: "001A", Fields: []sink.PriorValue{
			{Field: "BillingCity", Prior: sink.TextValue("Oslo"), Wrote: "tok-2", Written: "Paris"},
			{Field: "Phone", Prior: sink.NullValue(), Wrote: "tok-1", Written: "999"},
			{Field: "SSN__c", Prior: sink.TextValue("secret"), Wrote: "tok-3", Written: "other"},
			{Field: "Website", Prior: sink.TextValue(""), Wrote: "tok-4", Written: "a|\"b\""}}}}, priors)
		assert.Zero(t, st.SpooledRows("accounts"), "nothing waits once the sync finished")

		// PRIOR_VALUES gone: the sync's writeback fails and says so (on
		// SQLite at the insert, on Snowflake at the load); RECORD_RESULTS
		// is still written.
		w.exec(t, "DROP TABLE "+w.dialect.Table("P", "PRIOR_VALUES"))
		wb = st.Writeback("run-q")
		err = wb.Outcomes(ctx, s, priorOutcomes())
		rep = &reverseetl.SyncReport{Name: "accounts", Status: reverseetl.Succeeded}
		wb.SyncFinished(ctx, s, rep)
		said := fmt.Sprint(err, rep.Warnings)
		assert.Contains(t, said, "prior values")
		assert.True(t, err != nil || rep.WritebackFailed)
		_, results, _, _ := st.Tables()
		assert.Positive(t, w.int(t, "SELECT COUNT(*) FROM "+results+" WHERE RUN_ID = 'run-q'"))
	})
}
