package reverseetl_test

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	memsource "github.com/retl-go/retl/source/memory"
)

// outcomeLog records what observers are handed, on_removed's included.
type outcomeLog struct {
	reverseetl.NopObserver
	mu      sync.Mutex
	outs    []reverseetl.Outcome
	removed map[string][]reverseetl.Outcome
}

func (l *outcomeLog) Outcomes(_ context.Context, _ *config.Sync, outs []reverseetl.Outcome) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.outs = append(l.outs, outs...)
	return nil
}

func (l *outcomeLog) Removed(_ context.Context, _ *config.Sync, action string, outs []reverseetl.Outcome) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.removed == nil {
		l.removed = map[string][]reverseetl.Outcome{}
	}
	l.removed[action] = append(l.removed[action], outs...)
	return nil
}

// Salesforce echoes a rejected value in its message; an excluded field's
// value leaves the process through no report, observer or failed-rows file.
func TestExcludedValuesLeaveNoMessage(t *testing.T) {
	f := newFixture()
	s := spec("people")
	s.Mapping = append(s.Mapping, &config.Mapping{From: "EMAIL", To: "Email"})
	f.sources["people"] = memsource.New([]string{"ID", "NAME", "EMAIL"}, [][]any{
		{"K1", "Viktor", "viktor.jensen@example"}, {"K2", "Ann", "ann@example.com"}, {"K3", "Bo", "bo"},
	})
	snk := memory.New("Ext")
	snk.Reject = func(r *sink.Record) *sink.RecordError {
		email := r.Values[2].S
		if email == "ann@example.com" {
			return nil
		}
		return &sink.RecordError{Code: "INVALID_EMAIL_ADDRESS", Message: "Email: invalid email address: " + email, Fields: []string{"Email"}}
	}
	f.sinks["people"] = snk
	dir := t.TempDir()
	failed := &reverseetl.FailedRowsCSV{Dir: dir, RunID: "r1", ExcludeFields: []string{"email"}}
	obs := &outcomeLog{}
	p := &config.Project{Syncs: []*config.Sync{s}, Writeback: &config.Writeback{ExcludeFields: []string{"EMAIL"}}}
	rep, err := f.engine(reverseetl.WithObserver(failed), reverseetl.WithObserver(obs)).Run(context.Background(), p, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("people")
	require.Len(t, r.FailedRows, 2)
	assert.Equal(t, "Email: invalid email address: [EXCLUDED]", r.FailedRows[0].Err.Message)
	assert.Equal(t, "Email: invalid email address: [EXCLUDED]", r.FailedRows[1].Err.Message, "a short value standing alone goes too")
	var seen []string
	for _, o := range obs.outs {
		if o.Err != nil {
			seen = append(seen, o.Err.Message)
		}
	}
	assert.Equal(t, []string{"Email: invalid email address: [EXCLUDED]", "Email: invalid email address: [EXCLUDED]"}, seen)

	b, err := os.Open(filepath.Join(dir, "r1", "people.failed.csv"))
	require.NoError(t, err)
	defer b.Close()
	recs, err := csv.NewReader(b).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 3)
	assert.Equal(t, []string{"row", "key", "error_code", "error_message", "error_fields", "Ext", "Name", "Email"}, recs[0])
	assert.Equal(t, []string{"1", "K1", "INVALID_EMAIL_ADDRESS", "Email: invalid email address: [EXCLUDED]", "Email", "K1", "Viktor", ""}, recs[1])
	for _, rec := range recs {
		assert.False(t, slices.Contains(rec, "viktor.jensen@example"), rec)
	}
}

// An Engine option excludes fields for embedders without a project file.
func TestWithExcludeFields(t *testing.T) {
	f := newFixture()
	f.sources["s"] = memsource.New([]string{"ID", "NAME"}, [][]any{{"K1", "Margaret Hamilton"}})
	snk := memory.New("Ext")
	snk.Reject = func(r *sink.Record) *sink.RecordError {
		return &sink.RecordError{Code: "X", Message: "bad name Margaret Hamilton, key K1"}
	}
	f.sinks["s"] = snk
	rep, err := f.engine(reverseetl.WithExcludeFields("NAME")).Run(context.Background(), &config.Project{Syncs: []*config.Sync{spec("s")}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	require.Len(t, rep.Sync("s").FailedRows, 1)
	assert.Equal(t, "bad name [EXCLUDED], key K1", rep.Sync("s").FailedRows[0].Err.Message)
}

// on_removed's records reach the observers that record them, each with
// its outcome, and never the rows' own Outcomes.
func TestOnRemovedOutcomesReachObservers(t *testing.T) {
	m := newMirrorRun(5, &config.OnRemoved{Delete: true})
	m.run(t, reverseetl.RunOptions{})
	ids := m.ids("K1", "K2", "K3")
	m.rm.answer = map[string]sink.Result{
		ids[0]: {Err: &sink.RecordError{Code: "DELETE_FAILED", Message: "refused"}},
		ids[1]: {Skipped: sink.SkipAlreadyDeleted},
	}
	m.state.rows["s"]["K4"] = reverseetl.StateRow{Key: "K4", Hash: "h"} // no id
	m.data = m.data[:1]
	obs := &outcomeLog{}
	m.f.sinks["s"] = m.rm
	m.f.sources["s"] = memsource.New([]string{"ID", "NAME"}, m.data)
	m.spec.OnFailure = config.OnFailure{MaxFailedRows: ptr(1)}
	rep, err := m.f.engine(reverseetl.WithState(m.state), reverseetl.WithObserver(obs)).Run(context.Background(),
		&config.Project{Syncs: []*config.Sync{m.spec}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, reverseetl.Succeeded, rep.Sync("s").Status, rep.Sync("s").Error)
	assert.Len(t, obs.outs, 1, "the one row read")
	got := map[string]reverseetl.Outcome{}
	for _, o := range obs.removed["delete"] {
		got[o.Key] = o
	}
	require.Len(t, got, 4)
	assert.Equal(t, reverseetl.RowFailed, got["K1"].Kind)
	assert.Equal(t, "DELETE_FAILED", got["K1"].Err.Code)
	assert.Equal(t, ids[0], got["K1"].ID)
	assert.Equal(t, reverseetl.RowSkipped, got["K2"].Kind)
	assert.Equal(t, sink.SkipAlreadyDeleted, got["K2"].Reason)
	assert.Equal(t, reverseetl.Written, got["K3"].Kind)
	assert.Equal(t, ids[2], got["K3"].ID)
	assert.Equal(t, reverseetl.RowSkipped, got["K4"].Kind)
	assert.Equal(t, sink.SkipNoID, got["K4"].Reason)
	assert.Equal(t, "no destination id in the state", got["K4"].Detail)
}
