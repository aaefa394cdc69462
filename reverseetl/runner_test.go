package reverseetl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	"github.com/retl-go/retl/source"
	memsource "github.com/retl-go/retl/source/memory"
)

// fakeWarehouse records what a Runner asks of the warehouse state.
type fakeWarehouse struct {
	reverseetl.StateStore
	readOnly             bool
	prepared, wbPrepared int
	writebacks           []string
	closed               bool
	prepareErr           error
	obs                  *recorderObserver
}

func (w *fakeWarehouse) Store() reverseetl.StateStore { return w.StateStore }
func (w *fakeWarehouse) Prepare(context.Context) error {
	w.prepared++
	return w.prepareErr
}
func (w *fakeWarehouse) Writeback(runID string) (reverseetl.Observer, func(context.Context) error) {
	w.writebacks = append(w.writebacks, runID)
	return w.obs, func(context.Context) error { w.wbPrepared++; return w.prepareErr }
}
func (w *fakeWarehouse) Close() error { w.closed = true; return nil }

// closer counts its calls.
type closer struct{ n int }

func (c *closer) Close() error { c.n++; return nil }

// runnerFixture is a project of one sync "s" over three rows, the second
// of which fails, with a secret the sink's factory logs.
type runnerFixture struct {
	*fixture
	p    *config.Project
	logs bytes.Buffer
	r    *reverseetl.Runner
}

const runnerSecret = "s3cret-Pa55word"

func newRunnerFixture(t *testing.T) *runnerFixture {
	f := &runnerFixture{fixture: newFixture()}
	f.reg = reverseetl.NewRegistry()
	f.reg.RegisterSource("mem", func(context.Context, reverseetl.BuildContext) (source.Source, error) {
		return &memsource.Source{Columns: []string{"ID", "NAME"}, Rows: rows(3, 1)}, nil
	})
	f.reg.RegisterSink("mem", func(_ context.Context, b reverseetl.BuildContext) (sink.Sink, error) {
		b.Logger.Info("building the sink", "password", runnerSecret)
		return memory.New("Ext"), nil
	})
	red := &config.Redactor{}
	red.Add(runnerSecret)
	limit := 5
	s := &config.Sync{Name: "s", File: "s.yaml", Source: config.SourceSpec{Type: "mem"}, Destination: config.DestinationSpec{Type: "mem"},
		Mapping: []*config.Mapping{{From: "ID", To: "Ext"}, {From: "NAME", To: "Name"}}}
	s.OnFailure.MaxFailedRows = &limit
	f.p = &config.Project{Syncs: []*config.Sync{s}, Redactor: red}
	f.r = &reverseetl.Runner{Registry: f.reg, Handler: slog.NewTextHandler(&f.logs, nil),
		EngineOptions: []reverseetl.Option{reverseetl.WithTransformerFactory(newPassthrough)}}
	return f
}

func TestRunnerRunsWritesTheReportAndAlwaysRedactsItsLog(t *testing.T) {
	f := newRunnerFixture(t)
	f.r.ReportFile = filepath.Join(t.TempDir(), "run.json")
	f.p.Reports.Dir = t.TempDir()
	res, err := f.r.Run(context.Background(), f.p, reverseetl.RunOptions{})
	require.NoError(t, err)
	s := res.Report.Sync("s")
	require.NotNil(t, s)
	assert.Equal(t, reverseetl.Succeeded, s.Status)
	assert.EqualValues(t, 2, s.Created)
	assert.EqualValues(t, 1, s.Failed)
	assert.False(t, res.FilesFailed())
	assert.FileExists(t, res.FailedRowFiles["s"], "the failed row went to reports.dir")

	data, err := os.ReadFile(f.r.ReportFile)
	require.NoError(t, err)
	var got reverseetl.Report
	require.NoError(t, json.Unmarshal(data, &got))
	assert.Equal(t, res.Report.RunID, got.RunID)

	assert.Contains(t, f.logs.String(), "building the sink")
	assert.NotContains(t, f.logs.String(), runnerSecret, "the Runner's logger redacts, whatever handler it was given")
	assert.Contains(t, f.logs.String(), "no writeback section", "a run without warehouse state says nothing guards it")
	assert.Nil(t, f.r.Running(), "nothing runs between runs")
}

func TestRunnerLoggerRedacts(t *testing.T) {
	f := newRunnerFixture(t)
	f.r.Logger(f.p).Warn("token " + runnerSecret)
	assert.Contains(t, f.logs.String(), "[REDACTED]")
	assert.NotContains(t, f.logs.String(), runnerSecret)
}

func TestRunnerSaysWhatRunsWhileItRuns(t *testing.T) {
	f := newRunnerFixture(t)
	var during map[string]sink.Statistics
	f.reg = reverseetl.NewRegistry()
	f.reg.RegisterSource("mem", func(context.Context, reverseetl.BuildContext) (source.Source, error) {
		return &memsource.Source{Columns: []string{"ID", "NAME"}, Rows: rows(1)}, nil
	})
	f.reg.RegisterSink("mem", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) {
		return &hookSink{Sink: memory.New("Ext"), hook: func() { during = f.r.Running() }}, nil
	})
	f.r.Registry = f.reg
	_, err := f.r.Run(context.Background(), f.p, reverseetl.RunOptions{})
	require.NoError(t, err)
	assert.Contains(t, during, "s")
}

// hookSink calls hook before each write.
type hookSink struct {
	*memory.Sink
	hook func()
}

func (h *hookSink) Write(ctx context.Context, recs []sink.Record) ([]sink.Result, error) {
	h.hook()
	return h.Sink.Write(ctx, recs)
}

func TestRunnerReportsAFileItCouldNotWrite(t *testing.T) {
	f := newRunnerFixture(t)
	dir := filepath.Join(t.TempDir(), "reports")
	require.NoError(t, os.Mkdir(dir, 0o700))
	f.r.ReportFile = filepath.Join(dir, "run.json")
	f.reg = reverseetl.NewRegistry()
	f.reg.RegisterSource("mem", func(context.Context, reverseetl.BuildContext) (source.Source, error) {
		return &memsource.Source{Columns: []string{"ID", "NAME"}, Rows: rows(1)}, nil
	})
	// The directory disappears once the run has started: the check before
	// the run passed, the write after it fails.
	f.reg.RegisterSink("mem", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) {
		return &hookSink{Sink: memory.New("Ext"), hook: func() { _ = os.RemoveAll(dir) }}, nil
	})
	f.r.Registry = f.reg
	res, err := f.r.Run(context.Background(), f.p, reverseetl.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, reverseetl.Succeeded, res.Report.Sync("s").Status)
	require.Error(t, res.ReportFileErr)
	assert.True(t, res.FilesFailed())
}

func TestRunnerRefusesBeforeWritingAnything(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notDir, nil, 0o600))
	wantErr := errors.New("no connection " + runnerSecret)
	cases := []struct {
		name  string
		setup func(f *runnerFixture)
		opts  reverseetl.RunOptions
		check func(t *testing.T, err error)
	}{
		{name: "report path", setup: func(f *runnerFixture) { f.r.ReportFile = filepath.Join(notDir, "run.json") }},
		{name: "failed-rows directory", setup: func(f *runnerFixture) { f.p.Reports.Dir = notDir }},
		{name: "no sync of that name", opts: reverseetl.RunOptions{Only: []string{"nope"}}},
		{name: "a sync that does not build", setup: func(f *runnerFixture) { f.p.Syncs[0].Source.Type = "nope" }},
		{name: "writeback without warehouse state", setup: func(f *runnerFixture) {
			f.p.Writeback = &config.Writeback{Connection: "wh"}
		}},
		{name: "warehouse state that does not open", setup: func(f *runnerFixture) {
			f.reg.RegisterWarehouse(func(*config.Project, bool) (reverseetl.Warehouse, error) { return nil, wantErr })
		}, check: func(t *testing.T, err error) {
			assert.ErrorIs(t, err, wantErr, "the cause stays typed")
			assert.NotContains(t, err.Error(), runnerSecret)
		}},
		{name: "project observer that does not build", setup: func(f *runnerFixture) {
			f.reg.RegisterObserver("alerts", func(context.Context, reverseetl.ObserverContext) (reverseetl.ProjectObserver, error) {
				return reverseetl.ProjectObserver{}, wantErr
			})
		}, check: func(t *testing.T, err error) { assert.ErrorIs(t, err, wantErr) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newRunnerFixture(t)
			if c.setup != nil {
				c.setup(f)
			}
			res, err := f.r.Run(context.Background(), f.p, c.opts)
			require.Error(t, err)
			assert.Nil(t, res)
			assert.NotContains(t, f.logs.String(), "run started", "no sync started")
			if c.check != nil {
				c.check(t, err)
			}
		})
	}
}

func TestRunnerBuildsProjectObserversForRunsNotPlans(t *testing.T) {
	f := newRunnerFixture(t)
	obs := &recorderObserver{}
	c := &closer{}
	built := 0
	f.reg.RegisterObserver("alerts", func(_ context.Context, b reverseetl.ObserverContext) (reverseetl.ProjectObserver, error) {
		built++
		b.Logger.Info("observer built", "secret", runnerSecret)
		return reverseetl.ProjectObserver{Observer: obs, Closer: c, Summary: "1 alert notifiers"}, nil
	})
	_, err := f.r.Run(context.Background(), f.p, reverseetl.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, built)
	assert.Equal(t, 1, obs.runs, "the observer heard the run")
	assert.Equal(t, 1, c.n, "and was released after it")
	assert.NotContains(t, f.logs.String(), runnerSecret)

	_, err = f.r.Run(context.Background(), f.p, reverseetl.RunOptions{Plan: true})
	require.NoError(t, err)
	assert.Equal(t, 1, built, "a plan sends no alert")

	v, err := f.r.Validate(context.Background(), f.p)
	require.NoError(t, err)
	assert.Equal(t, 1, v.Syncs)
	assert.Equal(t, []string{"1 alert notifiers"}, v.Summaries)
	assert.Equal(t, 2, c.n, "validation releases what it built")
}

func TestRunnerValidateReturnsEveryErrorTyped(t *testing.T) {
	f := newRunnerFixture(t)
	f.reg.RegisterSink("broken", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) {
		return nil, errors.New("bad key, password " + runnerSecret)
	})
	f.p.Syncs[0].Destination.Type = "broken"
	obsErr := errors.New("alerts.webhook: not a URL")
	f.reg.RegisterObserver("alerts", func(context.Context, reverseetl.ObserverContext) (reverseetl.ProjectObserver, error) {
		return reverseetl.ProjectObserver{}, obsErr
	})
	v, err := f.r.Validate(context.Background(), f.p)
	require.Error(t, err)
	assert.Nil(t, v)
	var be *reverseetl.BuildError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "destination", be.Part)
	assert.ErrorIs(t, err, obsErr)
	assert.NotContains(t, err.Error(), runnerSecret)
}

func TestRunnerUsesTheRegisteredWarehouse(t *testing.T) {
	for _, plan := range []bool{false, true} {
		f := newRunnerFixture(t)
		wh := &fakeWarehouse{StateStore: newMemState(), obs: &recorderObserver{}, prepareErr: errors.New("tables: " + runnerSecret)}
		f.reg.RegisterWarehouse(func(_ *config.Project, readOnly bool) (reverseetl.Warehouse, error) {
			wh.readOnly = readOnly
			return wh, nil
		})
		res, err := f.r.Run(context.Background(), f.p, reverseetl.RunOptions{Plan: plan})
		require.NoError(t, err)
		assert.Equal(t, plan, wh.readOnly)
		assert.True(t, wh.closed)
		if plan {
			assert.Equal(t, 1, wh.prepared)
			assert.Empty(t, wh.writebacks, "a plan writes nothing back")
		} else {
			assert.Equal(t, []string{res.Report.RunID}, wh.writebacks)
			assert.Equal(t, 1, wh.wbPrepared)
			assert.Equal(t, 1, wh.obs.runs, "the writeback observed the run")
		}
		assert.Contains(t, f.logs.String(), "warehouse writeback", "a failure to ready the tables is a warning")
		assert.NotContains(t, f.logs.String(), runnerSecret)
		assert.NotContains(t, f.logs.String(), "no writeback section")
	}
}

func TestRegistryPanicsOnBadHooks(t *testing.T) {
	r := reverseetl.NewRegistry()
	open := func(*config.Project, bool) (reverseetl.Warehouse, error) { return nil, nil }
	obs := func(context.Context, reverseetl.ObserverContext) (reverseetl.ProjectObserver, error) {
		return reverseetl.ProjectObserver{}, nil
	}
	assert.Panics(t, func() { r.RegisterWarehouse(nil) })
	r.RegisterWarehouse(open)
	assert.Panics(t, func() { r.RegisterWarehouse(open) })
	assert.Panics(t, func() { r.RegisterObserver("", obs) })
	assert.Panics(t, func() { r.RegisterObserver("x", nil) })
	r.RegisterObserver("x", obs)
	assert.Panics(t, func() { r.RegisterObserver("x", obs) })
}

func TestRunnerWithoutWritebackSectionRunsUnguarded(t *testing.T) {
	f := newRunnerFixture(t)
	f.reg.RegisterWarehouse(func(*config.Project, bool) (reverseetl.Warehouse, error) { return nil, nil })
	res, err := f.r.Run(context.Background(), f.p, reverseetl.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, reverseetl.Succeeded, res.Report.Sync("s").Status)
	assert.Contains(t, f.logs.String(), "no writeback section")
}
