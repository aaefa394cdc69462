package reverseetl_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
)

// undoState is a warehouse state that keeps what an undo reads.
type undoState struct {
	*memState
	syncs   []string
	priors  []reverseetl.PriorRecord
	created []reverseetl.CreatedRecord
	// errs fail a read, by method name.
	errs map[string]error
}

func (u *undoState) RunSyncs(_ context.Context, runID string) ([]string, error) {
	if runID != "run-1" {
		return nil, u.errs["RunSyncs"]
	}
	return u.syncs, u.errs["RunSyncs"]
}

func (u *undoState) PriorValues(context.Context, string, string) ([]reverseetl.PriorRecord, error) {
	return u.priors, u.errs["PriorValues"]
}

func (u *undoState) CreatedRecords(context.Context, string, string) ([]reverseetl.CreatedRecord, error) {
	return u.created, u.errs["CreatedRecords"]
}

// undoTarget is a sink that can be undone: its restorer and deleter keep
// what they are sent.
type undoTarget struct {
	sink.Sink
	restore, del *keepingSink
	restoreErr   error
	deleteErr    error
}

func (u *undoTarget) Restorer() (sink.Sink, error) { return u.restore, u.restoreErr }
func (u *undoTarget) Deleter() (sink.Sink, error)  { return u.del, u.deleteErr }

// keepingSink keeps the records it is sent; a field whose Expect is
// "edited" is kept as an edit. err fails its writes; short drops the
// first result of each; hintErr and preflightErr fail its Hint and
// Preflight.
type keepingSink struct {
	mu      sync.Mutex
	deletes bool
	got     []sink.Record
	err     error
	short   bool
	closed  bool

	hintErr, preflightErr error
	preflighted           [][]string
}

func (k *keepingSink) Write(_ context.Context, recs []sink.Record) ([]sink.Result, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return nil, k.err
	}
	k.got = append(k.got, recs...)
	res := make([]sink.Result, len(recs))
	for i, r := range recs {
		res[i] = sink.Result{ID: r.Values[0].S, Deleted: k.deletes}
		for j, e := range r.Expect {
			if e == "edited" {
				res[i].KeptEdits = append(res[i].KeptEdits, r.Layout.Fields[j])
			}
		}
	}
	if k.short {
		res = res[1:]
	}
	return res, nil
}

func (k *keepingSink) Close(context.Context) error { k.closed = true; return nil }

func (k *keepingSink) Hint(context.Context, sink.Hint) error { return k.hintErr }

func (k *keepingSink) Preflight(_ context.Context, l *sink.Layout) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.preflighted = append(k.preflighted, l.Fields)
	return k.preflightErr
}

type undoFixture struct {
	*runnerFixture
	state  *undoState
	wh     *fakeWarehouse
	target *undoTarget
}

func newUndoFixture(t *testing.T) *undoFixture {
	f := &undoFixture{runnerFixture: newRunnerFixture(t)}
	f.state = &undoState{memState: newMemState(), syncs: []string{"s"}, errs: map[string]error{},
		priors: []reverseetl.PriorRecord{
			{Seq: 1, Key: "K1", ID: "001A", Fields: []sink.PriorValue{
				{Field: "Name", Prior: sink.TextValue("Old"), Wrote: "t-new", Written: "New"},
				{Field: "Phone", Prior: sink.NullValue(), Wrote: "t-999", Written: "999"}}},
			{Seq: 3, Key: "K3", ID: "001C", Fields: []sink.PriorValue{
				{Field: "Name", Prior: sink.TextValue("Was"), Wrote: "edited", Written: "Now"}}},
		},
		created: []reverseetl.CreatedRecord{{Seq: 2, Key: "K2", ID: "001B"}},
	}
	f.wh = &fakeWarehouse{StateStore: f.state, obs: &recorderObserver{}}
	f.reg.RegisterWarehouse(func(_ *config.Project, readOnly bool) (reverseetl.Warehouse, error) {
		f.wh.readOnly = readOnly
		return f.wh, nil
	})
	f.target = &undoTarget{Sink: memory.New("Ext"), restore: &keepingSink{}, del: &keepingSink{deletes: true}}
	f.reg.RegisterSink("undoable", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) { return f.target, nil })
	f.p.Syncs[0].Destination.Type = "undoable"
	f.p.Writeback = &config.Writeback{Connection: "wh"}
	return f
}

func TestUndoPlanReadsWhatItWouldPutBack(t *testing.T) {
	f := newUndoFixture(t)
	res, err := f.r.Undo(context.Background(), f.p, "run-1", reverseetl.UndoOptions{Sample: 2, Only: []string{"s", "s"}})
	require.NoError(t, err)
	assert.Nil(t, res.Run, "nothing was written")
	assert.True(t, f.wh.readOnly, "a dry run opens the state read-only")
	assert.Empty(t, f.wh.writebacks)
	require.Len(t, res.Plan.Syncs, 1, "a sync named twice is undone once")
	s := res.Plan.Syncs[0]
	assert.Equal(t, "s", s.Name)
	assert.Equal(t, [3]int{2, 3, 1}, [3]int{s.Records, s.Fields, s.Created})
	assert.Equal(t, []reverseetl.UndoChange{{Key: "K1", ID: "001A", Field: "Name", Written: "New", Prior: "Old"},
		{Key: "K1", ID: "001A", Field: "Phone", Written: "999", Prior: ""}}, s.Sample)
	assert.Empty(t, f.target.restore.got)
}

func TestUndoApplyPutsBackAndDeletesAsARunOfItsOwn(t *testing.T) {
	for _, del := range []bool{false, true} {
		f := newUndoFixture(t)
		f.r.ReportFile = filepath.Join(t.TempDir(), "undo.json")
		res, err := f.r.Undo(context.Background(), f.p, "run-1", reverseetl.UndoOptions{Apply: true, DeleteCreated: del})
		require.NoError(t, err)
		require.NotNil(t, res.Run)
		rep := res.Run.Report
		assert.NotEqual(t, "run-1", rep.RunID)
		assert.Equal(t, "run-1", rep.Undoes)
		assert.Equal(t, []string{rep.RunID}, f.wh.writebacks, "the undo writes its own run back")
		assert.False(t, f.wh.readOnly)
		assert.FileExists(t, f.r.ReportFile)

		got := f.target.restore.got
		require.Len(t, got, 2)
		assert.Equal(t, []string{"Id", "Name", "Phone"}, got[0].Layout.Fields)
		assert.Equal(t, []sink.Value{sink.TextValue("001A"), sink.TextValue("Old"), sink.NullValue()}, got[0].Values)
		assert.Equal(t, []string{"", "t-new", "t-999"}, got[0].Expect, "expected: what the undone run wrote")
		assert.Equal(t, "K1", got[0].Key)
		assert.Equal(t, sink.Absent, got[1].Values[2].Kind, "a field the record did not change is not sent")

		s := rep.Sync("s")
		require.NotNil(t, s)
		assert.Equal(t, reverseetl.Succeeded, s.Status, s.Error)
		assert.EqualValues(t, 1, s.KeptEdits)
		require.Len(t, s.KeptEditRows, 1)
		assert.Equal(t, "K3", s.KeptEditRows[0].Key)
		outs := f.wh.obs.outcomes["s"]
		if !del {
			assert.Empty(t, f.target.del.got)
			assert.EqualValues(t, 2, s.Updated)
			assert.Len(t, outs, 2)
			continue
		}
		require.Len(t, f.target.del.got, 1)
		assert.Equal(t, []sink.Value{sink.TextValue("001B")}, f.target.del.got[0].Values)
		assert.Equal(t, "K2", f.target.del.got[0].Key)
		assert.EqualValues(t, 1, s.Deleted)
		assert.Len(t, outs, 3, "the writeback hears every record put back or deleted")
		assert.True(t, f.target.restore.closed && f.target.del.closed)
		assert.Equal(t, [][]string{{"Id", "Name", "Phone"}}, f.target.restore.preflighted)
		assert.Equal(t, [][]string{{"Id"}}, f.target.del.preflighted)
	}
}

func TestUndoRefusesBeforeWritingAnything(t *testing.T) {
	boom := errors.New("boom " + runnerSecret)
	notDir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notDir, nil, 0o600))
	cases := []struct {
		name  string
		runID string
		opts  reverseetl.UndoOptions
		setup func(f *undoFixture)
		check func(t *testing.T, err error)
	}{
		{name: "no writeback section", setup: func(f *undoFixture) { f.p.Writeback = nil },
			check: func(t *testing.T, err error) { assert.ErrorIs(t, err, reverseetl.ErrUndoNeedsWarehouse) }},
		{name: "no warehouse state in the program", setup: func(f *undoFixture) {
			f.r.Registry = reverseetl.NewRegistry()
		}, check: func(t *testing.T, err error) { assert.ErrorIs(t, err, reverseetl.ErrUndoNeedsWarehouse) }},
		{name: "the state does not open", setup: func(f *undoFixture) {
			f.r.Registry = reverseetl.NewRegistry()
			f.r.Registry.RegisterWarehouse(func(*config.Project, bool) (reverseetl.Warehouse, error) { return nil, boom })
		}, check: func(t *testing.T, err error) { assert.ErrorIs(t, err, boom) }},
		{name: "the opener finds no state", setup: func(f *undoFixture) {
			f.r.Registry = reverseetl.NewRegistry()
			f.r.Registry.RegisterWarehouse(func(*config.Project, bool) (reverseetl.Warehouse, error) { return nil, nil })
		}, check: func(t *testing.T, err error) { assert.ErrorIs(t, err, reverseetl.ErrUndoNeedsWarehouse) }},
		{name: "a state that keeps nothing to undo", setup: func(f *undoFixture) { f.wh.StateStore = newMemState() }},
		{name: "the tables cannot be read", setup: func(f *undoFixture) { f.wh.prepareErr = boom },
			check: func(t *testing.T, err error) { assert.ErrorIs(t, err, boom) }},
		{name: "unknown run", runID: "run-2", check: func(t *testing.T, err error) {
			var ue *reverseetl.UnknownRunError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, "run-2", ue.RunID)
		}},
		{name: "the run log cannot be read", setup: func(f *undoFixture) { f.state.errs["RunSyncs"] = boom },
			check: func(t *testing.T, err error) { assert.ErrorIs(t, err, boom) }},
		{name: "a sync the run did not write", opts: reverseetl.UndoOptions{Only: []string{"other"}}},
		{name: "prior values cannot be read", setup: func(f *undoFixture) { f.state.errs["PriorValues"] = boom },
			check: func(t *testing.T, err error) { assert.ErrorIs(t, err, boom) }},
		{name: "created records cannot be read", setup: func(f *undoFixture) { f.state.errs["CreatedRecords"] = boom },
			check: func(t *testing.T, err error) { assert.ErrorIs(t, err, boom) }},
		{name: "no prior values kept", setup: func(f *undoFixture) { f.state.priors = nil }, check: func(t *testing.T, err error) {
			var ne *reverseetl.NoPriorValuesError
			require.ErrorAs(t, err, &ne)
			assert.Equal(t, 1, ne.Created)
			assert.Contains(t, err.Error(), "--delete-created")
		}},
		{name: "the report path is unusable", setup: func(f *undoFixture) { f.r.ReportFile = filepath.Join(notDir, "undo.json") }},
		{name: "the writeback cannot be readied", setup: func(f *undoFixture) {
			// Only the writeback's own preparation fails.
			f.r.Registry = reverseetl.NewRegistry()
			f.r.Registry.RegisterSink("undoable", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) { return f.target, nil })
			f.r.Registry.RegisterWarehouse(func(*config.Project, bool) (reverseetl.Warehouse, error) {
				return &wbFailing{fakeWarehouse: f.wh, err: boom}, nil
			})
		}, check: func(t *testing.T, err error) { assert.ErrorIs(t, err, boom) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newUndoFixture(t)
			if c.setup != nil {
				c.setup(f)
			}
			runID := c.runID
			if runID == "" {
				runID = "run-1"
			}
			opts := c.opts
			opts.Apply = true
			res, err := f.r.Undo(context.Background(), f.p, runID, opts)
			require.Error(t, err)
			assert.Nil(t, res)
			assert.NotContains(t, err.Error(), runnerSecret)
			assert.Empty(t, f.target.restore.got, "nothing was written")
			if c.check != nil {
				c.check(t, err)
			}
		})
	}
}

// wbFailing is a warehouse whose writeback cannot be readied.
type wbFailing struct {
	*fakeWarehouse
	err error
}

func (w *wbFailing) Writeback(runID string) (reverseetl.Observer, func(context.Context) error) {
	obs, _ := w.fakeWarehouse.Writeback(runID)
	return obs, func(context.Context) error { return w.err }
}

func TestUndoFailsASyncItCannotUndo(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name  string
		setup func(f *undoFixture)
		want  string
	}{
		{name: "the sync is gone from the project", setup: func(f *undoFixture) { f.p.Syncs[0].Name = "renamed" }, want: "no sync"},
		{name: "an unregistered destination type", setup: func(f *undoFixture) { f.p.Syncs[0].Destination.Type = "nope" }, want: "not registered"},
		{name: "the destination does not build", setup: func(f *undoFixture) {
			f.reg.RegisterSink("broken", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) { return nil, boom })
			f.p.Syncs[0].Destination.Type = "broken"
		}, want: "boom"},
		{name: "a destination that cannot undo", setup: func(f *undoFixture) { f.p.Syncs[0].Destination.Type = "mem" }, want: "cannot undo"},
		{name: "no restorer", setup: func(f *undoFixture) { f.target.restoreErr = boom }, want: "boom"},
		{name: "no deleter", setup: func(f *undoFixture) { f.target.deleteErr = boom }, want: "boom"},
		{name: "a hint refused", setup: func(f *undoFixture) { f.target.del.hintErr = boom }, want: "boom"},
		{name: "the restore's preflight fails", setup: func(f *undoFixture) { f.target.restore.preflightErr = boom }, want: "boom"},
		{name: "the delete's preflight fails", setup: func(f *undoFixture) { f.target.del.preflightErr = boom }, want: "boom"},
		{name: "a write that fails", setup: func(f *undoFixture) { f.target.restore.err = boom }, want: "boom"},
		{name: "a write that answers too few results", setup: func(f *undoFixture) { f.target.del.short = true }, want: "0 results for 1 records"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newUndoFixture(t)
			c.setup(f)
			res, err := f.r.Undo(context.Background(), f.p, "run-1", reverseetl.UndoOptions{Apply: true, DeleteCreated: true})
			require.NoError(t, err)
			s := res.Run.Report.Sync("s")
			require.NotNil(t, s)
			assert.Equal(t, reverseetl.Failed, s.Status)
			assert.Contains(t, s.Error+failedText(s), c.want)
			assert.False(t, res.Run.Report.OK())
		})
	}
}

// failedText joins the failed rows' messages.
func failedText(s *reverseetl.SyncReport) string {
	out := ""
	for _, o := range s.FailedRows {
		if o.Err != nil {
			out += o.Err.Message + "\n"
		}
	}
	return out
}
