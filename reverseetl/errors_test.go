package reverseetl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	memsource "github.com/retl-go/retl/source/memory"
)

func TestFailureLimitIsTypedInTheReport(t *testing.T) {
	cases := []struct {
		name    string
		maxRows *int
		maxPct  *float64
		key     string
		text    string
	}{
		{"default allows none", nil, nil, "", "1 rows failed (on_failure allows none)"},
		{"over rows", ptr(0), nil, "max_failed_rows", "1 rows failed, more than on_failure.max_failed_rows (0)"},
		{"over percent", nil, ptr(1.0), "max_failed_percent", "5.00% of rows failed, more than on_failure.max_failed_percent (1%)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			f.sources["s"] = memsource.New([]string{"ID", "NAME"}, rows(20, 5))
			f.sinks["s"] = memory.New("Ext")
			s := spec("s")
			s.OnFailure = config.OnFailure{MaxFailedRows: tc.maxRows, MaxFailedPercent: tc.maxPct}
			rep, err := f.engine().Run(context.Background(), &config.Project{Syncs: []*config.Sync{s}}, reverseetl.RunOptions{})
			require.NoError(t, err)
			r := rep.Sync("s")
			var limit *reverseetl.FailureLimitError
			require.ErrorAs(t, r.Cause(), &limit)
			assert.Equal(t, tc.key, limit.Key)
			assert.EqualValues(t, 1, limit.Failed)
			assert.EqualValues(t, 20, limit.Read)
			assert.Equal(t, tc.text, r.Error)
			assert.Equal(t, r.Error, r.Err.Error())
		})
	}
}

func TestParentAndBuildErrorsAreTypedInTheReport(t *testing.T) {
	f := newFixture()
	f.sinks["parent"] = memory.New("Ext") // no source: the build fails
	f.sources["child"] = memsource.New([]string{"ID", "NAME"}, rows(2))
	f.sinks["child"] = memory.New("Ext")
	rep, err := f.engine().Run(context.Background(), &config.Project{Syncs: []*config.Sync{spec("parent"), spec("child", "parent")}}, reverseetl.RunOptions{})
	require.NoError(t, err)

	var be *reverseetl.BuildError
	require.ErrorAs(t, rep.Sync("parent").Cause(), &be)
	assert.Equal(t, "source", be.Part)

	child := rep.Sync("child")
	assert.Equal(t, reverseetl.SkippedSync, child.Status)
	var pe *reverseetl.ParentError
	require.ErrorAs(t, child.Cause(), &pe)
	assert.Equal(t, &reverseetl.ParentError{Parent: "parent", Status: reverseetl.Failed}, pe)
	assert.Equal(t, `parent sync "parent" failed`, child.Error)
}

func TestCancellationIsTypedInTheReport(t *testing.T) {
	f := newFixture()
	f.sources["s"] = memsource.New([]string{"ID", "NAME"}, rows(2))
	f.sinks["s"] = memory.New("Ext")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := f.engine().Run(ctx, &config.Project{Syncs: []*config.Sync{spec("s")}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	assert.Equal(t, reverseetl.Cancelled, r.Status)
	assert.ErrorIs(t, r.Cause(), context.Canceled)
}

func TestCancellationMidSyncIsTypedInTheReport(t *testing.T) {
	f := newFixture()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.sources["s"] = memsource.New([]string{"ID", "NAME"}, rows(2))
	f.sinks["s"] = &hookSink{Sink: memory.New("Ext"), hook: cancel}
	rep, err := f.engine().Run(ctx, &config.Project{Syncs: []*config.Sync{spec("s")}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	assert.Equal(t, reverseetl.Cancelled, r.Status)
	assert.Equal(t, "run cancelled", r.Error)
	assert.ErrorIs(t, r.Cause(), context.Canceled)
}

func TestLeaseHeldIsTypedInTheReport(t *testing.T) {
	held := &reverseetl.LeaseHeldError{Sync: "parent", Holder: reverseetl.LeaseOwner{RunID: "run-1", Host: "ci-7"}, Expires: "2024-06-01 12:10:00"}
	ls := &leasingState{memState: newMemState(), answers: []error{held}}
	rep, _ := leaseRun(t, context.Background(), ls, reverseetl.RunOptions{})
	var got *reverseetl.LeaseHeldError
	require.ErrorAs(t, rep.Sync("parent").Cause(), &got)
	assert.Equal(t, held, got)
}

// guardSink refuses, when told how many records come, to delete them.
type guardSink struct{ *memory.Sink }

func (g guardSink) Hint(context.Context, sink.Hint) error {
	return fmt.Errorf("vendor: %w", &sink.DeleteLimitError{Setting: "max_deletes", Verdict: "3 records, more than max_deletes allows (2)"})
}

func TestDeleteGuardIsTypedInTheReport(t *testing.T) {
	f := newFixture()
	f.sources["s"] = memsource.New([]string{"ID", "NAME"}, rows(3))
	f.sinks["s"] = guardSink{memory.New("Ext")}
	rep, err := f.engine().Run(context.Background(), &config.Project{Syncs: []*config.Sync{spec("s")}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	assert.Equal(t, reverseetl.Failed, r.Status)
	var guard *sink.DeleteLimitError
	require.ErrorAs(t, r.Cause(), &guard)
	assert.Equal(t, "max_deletes", guard.Setting)
	assert.Contains(t, r.Error, "max_deletes: 3 records, more than max_deletes allows (2)")
}

func TestCauseOfAReportReadFromJSON(t *testing.T) {
	f := newFixture()
	f.sources["s"] = memsource.New([]string{"ID", "NAME"}, rows(2, 1))
	f.sinks["s"] = memory.New("Ext")
	rep, err := f.engine().Run(context.Background(), &config.Project{Syncs: []*config.Sync{spec("s")}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	data, err := json.Marshal(rep)
	require.NoError(t, err)
	assert.NotContains(t, string(data), `"Err"`, "the cause is not in the JSON")
	var back reverseetl.Report
	require.NoError(t, json.Unmarshal(data, &back))
	s := back.Sync("s")
	require.Error(t, s.Cause())
	assert.Equal(t, s.Error, s.Cause().Error(), "the text survives; the type does not")
	var limit *reverseetl.FailureLimitError
	assert.False(t, errors.As(s.Cause(), &limit))
	assert.NoError(t, (&reverseetl.SyncReport{}).Cause())
}

func TestReportCauseIsRedacted(t *testing.T) {
	f := newFixture()
	f.sources["s"] = &memsource.Source{Columns: []string{"ID", "NAME"}, Rows: rows(3), FailAfter: 1, Err: errors.New("login failed for password hunter2-secret")}
	f.sinks["s"] = memory.New("Ext")
	red := &config.Redactor{}
	red.Add("hunter2-secret")
	rep, err := f.engine().Run(context.Background(), &config.Project{Syncs: []*config.Sync{spec("s")}, Redactor: red}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	assert.NotContains(t, r.Err.Error(), "hunter2-secret")
	assert.Equal(t, r.Error, r.Err.Error())
}
