package reverseetl_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	memsource "github.com/retl-go/retl/source/memory"
)

func (m *memState) StateRows(_ context.Context, syncName string, fn func(reverseetl.StateRow) error) error {
	m.mu.Lock()
	rows := make([]reverseetl.StateRow, 0, len(m.rows[syncName]))
	for _, r := range m.rows[syncName] {
		rows = append(rows, r)
	}
	m.mu.Unlock()
	for _, r := range rows {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (m *memState) ForgetState(_ context.Context, syncName string, keys []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failSave != nil {
		return m.failSave
	}
	for _, k := range keys {
		delete(m.rows[syncName], k)
	}
	return nil
}

// removingSink is a countingSink that carries out removals: it records
// them and answers per id from answer (written when absent).
type removingSink struct {
	*countingSink
	mu       sync.Mutex
	removals []sink.Removal
	answer   map[string]sink.Result
	err      error
	short    bool // answer one result too few
}

func (r *removingSink) Remove(_ context.Context, rm sink.Removal) ([]sink.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removals = append(r.removals, rm)
	if r.err != nil {
		return nil, r.err
	}
	out := make([]sink.Result, len(rm.IDs))
	for i, id := range rm.IDs {
		out[i] = r.answer[id]
	}
	if r.short {
		out = out[1:]
	}
	return out, nil
}

type mirrorRun struct {
	*cdRun
	rm *removingSink
}

func newMirrorRun(n int, o *config.OnRemoved) *mirrorRun {
	c := newCDRun(n)
	c.spec.OnRemoved = o
	m := &mirrorRun{cdRun: c, rm: &removingSink{countingSink: c.snk}}
	return m
}

func (m *mirrorRun) run(t *testing.T, opts reverseetl.RunOptions) *reverseetl.SyncReport {
	t.Helper()
	m.f.sinks["s"] = m.rm
	data := make([][]any, len(m.data))
	for i, r := range m.data {
		data[i] = slices.Clone(r)
	}
	m.f.sources["s"] = memsource.New([]string{"ID", "NAME"}, data)
	rep, err := m.f.engine(reverseetl.WithState(m.state)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{m.spec}}, opts)
	require.NoError(t, err)
	r := rep.Sync("s")
	require.True(t, r.Accounted(), "%+v", r)
	return r
}

func (m *mirrorRun) ids(keys ...string) []string {
	var out []string
	for _, k := range keys {
		out = append(out, m.state.rows["s"][k].ID)
	}
	return out
}

// Keys the query no longer returns are removed once, through the sink, and
// forgotten; the rows read keep their own counts.
func TestOnRemovedActsOnKeysNoLongerReturned(t *testing.T) {
	m := newMirrorRun(5, &config.OnRemoved{Delete: true})
	r := m.run(t, reverseetl.RunOptions{})
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	assert.Equal(t, &reverseetl.RemovedReport{Action: "delete"}, r.Removed)
	assert.Empty(t, m.rm.removals, "nothing to remove on the first run")

	gone := m.ids("K3", "K4")
	m.data = m.data[:3]
	m.data[0][1] = "renamed"
	r = m.run(t, reverseetl.RunOptions{})
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	assert.EqualValues(t, 3, r.Read)
	assert.EqualValues(t, 1, r.Updated)
	assert.EqualValues(t, 2, r.Unchanged, "unchanged rows count as returned")
	require.Len(t, m.rm.removals, 1)
	assert.ElementsMatch(t, gone, m.rm.removals[0].IDs)
	assert.Nil(t, m.rm.removals[0].Set)
	assert.False(t, m.rm.removals[0].Plan)
	assert.Equal(t, &reverseetl.RemovedReport{Action: "delete", Found: 2, Done: 2}, r.Removed)
	assert.Equal(t, 3, m.state.count("s"), "removed keys are forgotten")

	r = m.run(t, reverseetl.RunOptions{})
	assert.Equal(t, &reverseetl.RemovedReport{Action: "delete"}, r.Removed)
	assert.Len(t, m.rm.removals, 1, "a removed key is removed once")
}

// namedString is a string type of its own, as a plugin's constant may be.
type namedString string

func TestOnRemovedSetsFields(t *testing.T) {
	m := newMirrorRun(3, &config.OnRemoved{Set: []config.FieldValue{{Field: "Active__c", Value: false},
		{Field: "Status__c", Value: "Churned"}, {Field: "Score__c", Value: int64(0)}, {Field: "Big__c", Value: uint64(1 << 63)},
		{Field: "Ratio__c", Value: 0.5}, {Field: "Note__c", Value: nil}, {Field: "Kind__c", Value: namedString("other")}}})
	m.run(t, reverseetl.RunOptions{})
	m.data = m.data[:2]
	r := m.run(t, reverseetl.RunOptions{})
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	require.Len(t, m.rm.removals, 1)
	set := m.rm.removals[0].Set
	require.NotNil(t, set)
	assert.Equal(t, []string{"Active__c", "Status__c", "Score__c", "Big__c", "Ratio__c", "Note__c", "Kind__c"}, set.Layout.Fields)
	assert.Equal(t, []sink.Value{sink.BoolValue(false), sink.TextValue("Churned"), sink.NumberValue("0"),
		sink.NumberValue("9223372036854775808"), sink.NumberValue("0.5"), sink.NullValue(), sink.TextValue("other")}, set.Values)
	assert.Equal(t, "set", r.Removed.Action)
	assert.EqualValues(t, 1, r.Removed.Done)
}

// A plan asks the sink what it would do and forgets nothing.
func TestOnRemovedPlan(t *testing.T) {
	m := newMirrorRun(3, &config.OnRemoved{Delete: true})
	m.run(t, reverseetl.RunOptions{})
	m.data = m.data[:1]
	r := m.run(t, reverseetl.RunOptions{Plan: true})
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	require.Len(t, m.rm.removals, 1)
	assert.True(t, m.rm.removals[0].Plan)
	assert.EqualValues(t, 2, r.Removed.Done)
	assert.Equal(t, 3, m.state.count("s"))
}

// Failures, skips, refusals and a missing id each get their count, and
// failures count against on_failure.
func TestOnRemovedOutcomes(t *testing.T) {
	m := newMirrorRun(5, &config.OnRemoved{Delete: true})
	m.run(t, reverseetl.RunOptions{})
	ids := m.ids("K1", "K2", "K3", "K4")
	m.rm.answer = map[string]sink.Result{
		ids[0]: {Err: &sink.RecordError{Code: "DELETE_FAILED", Message: "refused"}},
		ids[1]: {Skipped: sink.SkipAlreadyDeleted},
	}
	m.state.rows["s"]["K4"] = reverseetl.StateRow{Key: "K4", Hash: "h"} // no id
	m.data = m.data[:1]
	r := m.run(t, reverseetl.RunOptions{})
	assert.Equal(t, reverseetl.Failed, r.Status)
	assert.Equal(t, "on_removed: 1 rows failed (on_failure allows none)", r.Error)
	assert.Equal(t, int64(4), r.Removed.Found)
	assert.Equal(t, int64(1), r.Removed.Done)
	assert.Equal(t, int64(1), r.Removed.Failed)
	assert.Equal(t, int64(2), r.Removed.Skipped)
	require.Len(t, r.Removed.FailedRows, 1)
	assert.Equal(t, "K1", r.Removed.FailedRows[0].Key)
	assert.Equal(t, ids[0], r.Removed.FailedRows[0].ID)
	assert.Equal(t, "DELETE_FAILED", r.Removed.FailedRows[0].Err.Code)
	assert.ElementsMatch(t, []string{ids[0], ids[1], ids[2]}, m.rm.removals[0].IDs, "a key without an id is not sent")
	_, kept := m.state.rows["s"]["K1"]
	assert.True(t, kept, "a failed removal keeps its state, for the next run")
	assert.Equal(t, 2, m.state.count("s"))

	m.spec.OnFailure = config.OnFailure{MaxFailedRows: ptr(1)}
	r = m.run(t, reverseetl.RunOptions{})
	assert.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
}

func TestOnRemovedErrorsFailTheSync(t *testing.T) {
	t.Run("the sink refuses", func(t *testing.T) {
		m := newMirrorRun(3, &config.OnRemoved{Delete: true})
		m.run(t, reverseetl.RunOptions{})
		m.rm.err = errors.New("max_deletes: too many")
		m.data = m.data[:1]
		r := m.run(t, reverseetl.RunOptions{})
		assert.Equal(t, reverseetl.Failed, r.Status)
		assert.Equal(t, "on_removed: max_deletes: too many", r.Error)
		assert.Equal(t, 3, m.state.count("s"))
	})
	t.Run("too few results", func(t *testing.T) {
		m := newMirrorRun(3, &config.OnRemoved{Delete: true})
		m.run(t, reverseetl.RunOptions{})
		m.rm.short = true
		m.data = m.data[:1]
		r := m.run(t, reverseetl.RunOptions{})
		assert.Equal(t, "on_removed: the sink returned 1 results for 2 records", r.Error)
	})
	t.Run("the state cannot be forgotten", func(t *testing.T) {
		m := newMirrorRun(3, &config.OnRemoved{Delete: true})
		m.run(t, reverseetl.RunOptions{})
		m.data = m.data[:1]
		m.state.failSave = errors.New("warehouse down")
		r := m.run(t, reverseetl.RunOptions{})
		assert.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
		assert.True(t, r.WritebackFailed)
		assert.Contains(t, r.Warnings, "on_removed: forgetting the state of removed records: warehouse down (the next run tries them again)")
		assert.EqualValues(t, 2, r.Removed.Done)
	})
	t.Run("the sink cannot remove", func(t *testing.T) {
		c := newCDRun(2)
		c.spec.OnRemoved = &config.OnRemoved{Delete: true}
		r := c.run(t, reverseetl.RunOptions{})
		assert.Equal(t, `on_removed: destination type "mem" cannot remove records`, r.Error)
	})
	t.Run("no change detection", func(t *testing.T) {
		f := newFixture()
		s := spec("s")
		s.OnRemoved = &config.OnRemoved{Delete: true}
		f.sources["s"] = memsource.New([]string{"ID", "NAME"}, rows(2))
		f.sinks["s"] = &removingSink{countingSink: newCountingSink()}
		rep, err := f.engine().Run(context.Background(), &config.Project{Syncs: []*config.Sync{s}}, reverseetl.RunOptions{})
		require.NoError(t, err)
		assert.Equal(t, "on_removed needs change_detection", rep.Sync("s").Error)
	})
	t.Run("the state cannot list keys", func(t *testing.T) {
		f := newFixture()
		s := cdSpec("s")
		s.OnRemoved = &config.OnRemoved{Delete: true}
		f.sources["s"] = memsource.New([]string{"ID", "NAME"}, rows(2))
		f.sinks["s"] = &removingSink{countingSink: newCountingSink()}
		rep, err := f.engine(reverseetl.WithState(hashesOnly{newMemState()})).Run(context.Background(), &config.Project{Syncs: []*config.Sync{s}}, reverseetl.RunOptions{})
		require.NoError(t, err)
		assert.Equal(t, "on_removed: listing the records the query no longer returns: the state store cannot list a sync's keys", rep.Sync("s").Error)
	})
	t.Run("the state fails to list", func(t *testing.T) {
		m := newMirrorRun(2, &config.OnRemoved{Delete: true})
		m.f.sinks["s"] = m.rm
		st := &failingLister{memState: m.state}
		m.f.sources["s"] = memsource.New([]string{"ID", "NAME"}, rows(2))
		rep, err := m.f.engine(reverseetl.WithState(st)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{m.spec}}, reverseetl.RunOptions{})
		require.NoError(t, err)
		assert.Equal(t, "on_removed: listing the records the query no longer returns: state unreadable", rep.Sync("s").Error)
	})
}

// A run whose source fails removes nothing: keys it did not reach are not
// gone.
func TestOnRemovedNeedsTheWholeQuery(t *testing.T) {
	m := newMirrorRun(5, &config.OnRemoved{Delete: true})
	m.run(t, reverseetl.RunOptions{})
	m.f.sinks["s"] = m.rm
	m.f.sources["s"] = &memsource.Source{Columns: []string{"ID", "NAME"}, Rows: rows(5), BatchSize: 2, FailAfter: 2, Err: errors.New("warehouse gone")}
	rep, err := m.f.engine(reverseetl.WithState(m.state)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{m.spec}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	assert.Equal(t, reverseetl.Failed, r.Status)
	assert.Nil(t, r.Removed)
	assert.Empty(t, m.rm.removals)
	assert.Equal(t, 5, m.state.count("s"))
}

// hashesOnly is a StateStore that cannot list keys.
type hashesOnly struct{ m *memState }

func (h hashesOnly) StoredHashes(ctx context.Context, s string, keys []string) (map[string]string, error) {
	return h.m.StoredHashes(ctx, s, keys)
}

func (h hashesOnly) SaveState(ctx context.Context, runID, s string, rows []reverseetl.StateRow) error {
	return h.m.SaveState(ctx, runID, s, rows)
}

type failingLister struct{ *memState }

func (f *failingLister) StateRows(context.Context, string, func(reverseetl.StateRow) error) error {
	return errors.New("state unreadable")
}

// In the warehouse, the store lists the removed keys itself, from the
// query as written in the sync.
func TestOnRemovedInTheWarehouse(t *testing.T) {
	f := newFixture()
	st := &removedPushdown{pushdownState: pushdownState{memState: newMemState()}}
	st.memState.rows["s"] = map[string]reverseetl.StateRow{"K8": {Key: "K8", ID: "id8"}, "K9": {Key: "K9", ID: "id9"}}
	st.removed = []reverseetl.RemovedRow{{StateRow: reverseetl.StateRow{Key: "K9", ID: "id9"}}}
	src := &rewriting{query: "select * from t"}
	src.Columns = []string{"ID", "NAME", reverseetl.HashColumn, reverseetl.KeyColumn, reverseetl.UnchangedColumn}
	src.Rows = [][]any{{"K1", "n", "h1", "K1", int64(1)}}
	f.sources["s"] = src
	rm := &removingSink{countingSink: newCountingSink()}
	f.sinks["s"] = rm
	s := cdSpec("s")
	s.Source.Connection = "warehouse"
	s.OnRemoved = &config.OnRemoved{Delete: true}
	rep, err := f.engine(reverseetl.WithState(st)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{s}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	require.Len(t, st.removedAsked, 1)
	assert.Equal(t, "select * from t", st.removedAsked[0].Query, "the query as the sync wrote it")
	assert.Equal(t, "warehouse", st.removedAsked[0].Connection)
	require.Len(t, rm.removals, 1)
	assert.Equal(t, []string{"id9"}, rm.removals[0].IDs)
	assert.NotContains(t, st.memState.rows["s"], "K9")

	st.refuse = true
	st.removedAsked = nil
	src.query = "select * from t"
	rep, err = f.engine(reverseetl.WithState(&st.pushdownState)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{s}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, reverseetl.Succeeded, rep.Sync("s").Status, "a store that compares in retl lists from its state")

	st.refuse, st.cannot = false, true
	rep, err = f.engine(reverseetl.WithState(st)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{s}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, "on_removed: listing the records the query no longer returns: the warehouse state cannot list removed keys for this source", rep.Sync("s").Error)

	st.cannot = false
	rep, err = f.engine(reverseetl.WithState(&plainPushdown{st.pushdownState})).Run(context.Background(), &config.Project{Syncs: []*config.Sync{s}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, "on_removed: listing the records the query no longer returns: the warehouse state cannot list removed keys", rep.Sync("s").Error)
}

// removedPushdown is a pushdownState that lists removed keys as told.
type removedPushdown struct {
	pushdownState
	removed      []reverseetl.RemovedRow
	removedAsked []reverseetl.ChangeQuery
	cannot       bool
}

func (p *removedPushdown) RemovedRows(_ context.Context, q reverseetl.ChangeQuery) ([]reverseetl.RemovedRow, bool, error) {
	p.removedAsked = append(p.removedAsked, q)
	if p.cannot {
		return nil, false, nil
	}
	return p.removed, true, nil
}

// plainPushdown compares in the warehouse but cannot list removed keys.
type plainPushdown struct{ pushdownState }

// The run's summary says what on_removed did.
func TestSummaryShowsRemovals(t *testing.T) {
	rep := &reverseetl.Report{Syncs: []*reverseetl.SyncReport{
		{Name: "accounts", Status: reverseetl.Succeeded, Removed: &reverseetl.RemovedReport{Action: "delete", Found: 3, Done: 2, Failed: 1}},
		{Name: "flags", Status: reverseetl.Succeeded, Removed: &reverseetl.RemovedReport{Action: "set", Found: 1, Skipped: 1}},
		{Name: "quiet", Status: reverseetl.Succeeded, Removed: &reverseetl.RemovedReport{Action: "delete"}},
	}}
	var out strings.Builder
	require.NoError(t, reverseetl.WriteSummary(&out, rep, 20))
	assert.Contains(t, out.String(), "accounts: on_removed: 3 records no longer in the query: deleted 2, failed 1, skipped 0\n")
	assert.Contains(t, out.String(), "flags: on_removed: 1 records no longer in the query: updated 0, failed 0, skipped 1\n")
	assert.NotContains(t, out.String(), "quiet: on_removed")
}
