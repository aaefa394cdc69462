package reverseetl_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
)

// foldingSink compares keys without case, as Salesforce compares an
// external id.
type foldingSink struct{ *removingSink }

func (foldingSink) FoldKey(k string) string { return strings.ToLower(k) }

// A record whose Id this run wrote is still in the query, under another
// key: on_removed leaves it and forgets the old key's state. Here the key
// column is not the field matched on, so keys are compared as they are.
// (The test's sink plans no Ids; the plan is checked against Salesforce's
// emulator in sink/salesforce.)
func TestOnRemovedSparesRecordsWrittenThisRun(t *testing.T) {
	m := newMirrorRun(3, &config.OnRemoved{Delete: true})
	m.spec.ChangeDetection.Key = "NAME"
	for i := range m.data {
		m.data[i][1] = "name-" + m.data[i][0].(string)
	}
	r := m.run(t, reverseetl.RunOptions{})
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	id := m.state.rows["s"]["name-K1"].ID
	require.NotEmpty(t, id)

	// K1 keeps its record (matched on ID) under a new NAME, the key.
	m.data[1][1] = "NAME-K1"
	r = m.run(t, reverseetl.RunOptions{})
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	assert.Equal(t, &reverseetl.RemovedReport{Action: "delete"}, r.Removed)
	assert.Empty(t, m.rm.removals)
	assert.NotContains(t, m.state.rows["s"], "name-K1", "the old key is forgotten")
	assert.Equal(t, id, m.state.rows["s"]["NAME-K1"].ID)
}

// When the warehouse compares, a removed key whose Id another returned key
// holds is forgotten; one returned in another case, by a changed row, is
// kept when the sink folds keys and the key column is the field matched
// on; the others are removed, each record once.
func TestOnRemovedInTheWarehouseComparesAsTheSink(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fold       bool
		keyCol     string
		wantIDs    []string
		wantFound  int64
		keptInCase bool
	}{
		{"folding sink", true, "ID", []string{"id2"}, 1, true},
		{"sink without folding", false, "ID", []string{"id1", "id2"}, 2, false},
		{"key column not matched on", true, "NAME", []string{"id1", "id2"}, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			st := &removedPushdown{pushdownState: pushdownState{memState: newMemState()}}
			st.memState.rows["s"] = map[string]reverseetl.StateRow{
				"K1": {Key: "K1", ID: "id1"}, "K2": {Key: "K2", ID: "id2"}, "K2b": {Key: "K2b", ID: "id2"},
				"K3": {Key: "K3", ID: "id3"}, "K4": {Key: "K4", ID: "id3"},
			}
			st.removed = []reverseetl.RemovedRow{
				{StateRow: reverseetl.StateRow{Key: "K1", ID: "id1"}},
				{StateRow: reverseetl.StateRow{Key: "K2", ID: "id2"}},
				{StateRow: reverseetl.StateRow{Key: "K2b", ID: "id2"}},
				{StateRow: reverseetl.StateRow{Key: "K3", ID: "id3"}, Held: true},
			}
			src := &rewriting{query: "q"}
			src.Columns = []string{"ID", "NAME", reverseetl.HashColumn, reverseetl.KeyColumn, reverseetl.UnchangedColumn}
			src.Rows = [][]any{{"k1", "k1", "h", "k1", int64(1)}}
			f.sources["s"] = src
			rm := &removingSink{countingSink: newCountingSink()}
			if tc.fold {
				f.sinks["s"] = foldingSink{rm}
			} else {
				f.sinks["s"] = rm
			}
			s := cdSpec("s")
			s.ChangeDetection.Key = tc.keyCol
			s.Source.Connection = "warehouse"
			s.OnRemoved = &config.OnRemoved{Delete: true}
			rep, err := f.engine(reverseetl.WithState(st)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{s}}, reverseetl.RunOptions{})
			require.NoError(t, err)
			r := rep.Sync("s")
			require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
			require.Len(t, rm.removals, 1)
			assert.ElementsMatch(t, tc.wantIDs, rm.removals[0].IDs)
			assert.Equal(t, &reverseetl.RemovedReport{Action: "delete", Found: tc.wantFound, Done: tc.wantFound}, r.Removed)
			rows := st.memState.rows["s"]
			assert.NotContains(t, rows, "K3", "held: forgotten")
			assert.Contains(t, rows, "K4", "returned: kept")
			assert.NotContains(t, rows, "K2")
			assert.NotContains(t, rows, "K2b", "both keys of a removed record are forgotten")
			if tc.keptInCase {
				assert.Contains(t, rows, "K1")
			} else {
				assert.NotContains(t, rows, "K1")
			}
		})
	}
}

// When retl compares, a removed key whose Id a returned key holds in the
// state is forgotten, not removed, though nothing was written this run.
func TestOnRemovedForgetsStaleKeysOfReturnedRecords(t *testing.T) {
	m := newMirrorRun(3, &config.OnRemoved{Delete: true})
	r := m.run(t, reverseetl.RunOptions{})
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	id := m.state.rows["s"]["K1"].ID
	m.state.rows["s"]["OLD"] = reverseetl.StateRow{Key: "OLD", Hash: "h", ID: id}
	for _, plan := range []bool{true, false} {
		r = m.run(t, reverseetl.RunOptions{Plan: plan})
		require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
		assert.Zero(t, r.Written())
		assert.Equal(t, &reverseetl.RemovedReport{Action: "delete"}, r.Removed)
	}
	assert.Empty(t, m.rm.removals)
	assert.NotContains(t, m.state.rows["s"], "OLD")
	assert.Len(t, m.state.rows["s"], 3)
}
