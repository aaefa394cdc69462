package reverseetl_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	"github.com/retl-go/retl/source"
	memsource "github.com/retl-go/retl/source/memory"
	"github.com/retl-go/retl/transform"
)

// passthrough maps each mapping entry's column to its target as text, and
// fails a row whose value is "bad".
type passthrough struct {
	layout *sink.Layout
	from   []string
}

func newPassthrough(s *config.Sync) (transform.Transformer, error) {
	p := &passthrough{}
	var to []string
	for _, m := range s.Mapping {
		to = append(to, m.To)
		p.from = append(p.from, m.From)
	}
	p.layout = sink.NewLayout(to, nil)
	return p, nil
}

func (p *passthrough) Layout() *sink.Layout { return p.layout }

func (p *passthrough) Transform(row transform.Row) (sink.Record, error) {
	vals := make([]sink.Value, len(p.from))
	for i, f := range p.from {
		for j, c := range row.Columns {
			if c == f {
				s := fmt.Sprint(row.Values[j])
				if s == "bad" {
					return sink.Record{}, fmt.Errorf("%s: cannot convert %q", f, s)
				}
				if s == "skip" {
					return sink.Record{}, &transform.Skip{Code: sink.SkipFiltered}
				}
				vals[i] = sink.TextValue(s)
			}
		}
	}
	return sink.Record{Key: vals[0].S, Layout: p.layout, Values: vals}, nil
}

type fixture struct {
	reg     *reverseetl.Registry
	sources map[string]source.Source
	sinks   map[string]sink.Sink
}

func newFixture() *fixture {
	f := &fixture{reg: reverseetl.NewRegistry(), sources: map[string]source.Source{}, sinks: map[string]sink.Sink{}}
	f.reg.RegisterSource("mem", func(_ context.Context, b reverseetl.BuildContext) (source.Source, error) {
		s, ok := f.sources[b.Sync.Name]
		if !ok {
			return nil, fmt.Errorf("no rows for %s", b.Sync.Name)
		}
		return s, nil
	})
	f.reg.RegisterSink("mem", func(_ context.Context, b reverseetl.BuildContext) (sink.Sink, error) {
		return f.sinks[b.Sync.Name], nil
	})
	return f
}

func spec(name string, deps ...string) *config.Sync {
	return &config.Sync{
		Name: name, File: name + ".yaml",
		Source:      config.SourceSpec{Type: "mem"},
		Destination: config.DestinationSpec{Type: "mem"},
		Mapping:     []*config.Mapping{{From: "ID", To: "Ext"}, {From: "NAME", To: "Name"}},
		DependsOn:   deps,
	}
}

func rows(n int, bad ...int) [][]any {
	out := make([][]any, n)
	for i := range out {
		out[i] = []any{fmt.Sprintf("K%d", i), "name"}
	}
	for _, b := range bad {
		out[b][1] = "bad"
	}
	return out
}

func (f *fixture) engine(opts ...reverseetl.Option) *reverseetl.Engine {
	opts = append([]reverseetl.Option{reverseetl.WithTransformerFactory(newPassthrough),
		reverseetl.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	return reverseetl.New(f.reg, opts...)
}

type panicSink struct{ memory.Sink }

func (p *panicSink) Write(context.Context, []sink.Record) ([]sink.Result, error) {
	panic("boom in sink")
}

func TestFailingSyncsDoNotStopOthers(t *testing.T) {
	f := newFixture()
	cols := []string{"ID", "NAME"}
	f.sources["panics"] = memsource.New(cols, rows(10))
	f.sinks["panics"] = &panicSink{}
	f.sources["errors"] = &memsource.Source{Columns: cols, Rows: rows(10), FailAfter: 5, Err: errors.New("warehouse said no")}
	f.sinks["errors"] = memory.New("Ext")
	good := memory.New("Ext")
	f.sources["good"] = memsource.New(cols, rows(2500))
	f.sinks["good"] = good
	p := &config.Project{Syncs: []*config.Sync{spec("panics"), spec("errors"), spec("good")}}

	rep, err := f.engine().Run(context.Background(), p, reverseetl.RunOptions{})
	require.NoError(t, err)
	require.Len(t, rep.Syncs, 3)
	assert.False(t, rep.OK())

	pr := rep.Sync("panics")
	assert.Equal(t, reverseetl.Failed, pr.Status)
	assert.Contains(t, pr.Error, "boom in sink")
	assert.True(t, pr.Accounted(), "%+v", pr)
	assert.Equal(t, int64(10), pr.Failed)

	er := rep.Sync("errors")
	assert.Equal(t, reverseetl.Failed, er.Status)
	assert.Contains(t, er.Error, "warehouse said no")
	assert.Equal(t, int64(5), er.Read)
	assert.Equal(t, int64(5), er.Created, "rows read before the source failed are still written")
	assert.True(t, er.Accounted())

	gr := rep.Sync("good")
	assert.Equal(t, reverseetl.Succeeded, gr.Status)
	assert.Equal(t, int64(2500), gr.Read)
	assert.Equal(t, int64(2500), gr.Created)
	assert.Len(t, good.Rows(), 2500)
	assert.True(t, good.Closed())
}

func TestBadRowFailsAlone(t *testing.T) {
	f := newFixture()
	snk := memory.New("Ext")
	snk.Reject = func(r *sink.Record) *sink.RecordError {
		if r.Key == "K7" {
			return &sink.RecordError{Code: "STRING_TOO_LONG", Message: "Name: data value too large", Fields: []string{"Name"}}
		}
		return nil
	}
	f.sources["s"] = memsource.New([]string{"ID", "NAME"}, rows(20, 3))
	f.sinks["s"] = snk
	s := spec("s")
	two := 2
	s.OnFailure.MaxFailedRows = &two
	rep, err := f.engine().Run(context.Background(), &config.Project{Syncs: []*config.Sync{s}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	assert.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	assert.Equal(t, int64(20), r.Read)
	assert.Equal(t, int64(18), r.Created)
	assert.Equal(t, int64(2), r.Failed)
	require.Len(t, r.FailedRows, 2)
	byKey := map[string]reverseetl.Outcome{}
	for _, o := range r.FailedRows {
		byKey[o.Key] = o
	}
	assert.Equal(t, reverseetl.CodeTransform, byKey["row 4"].Err.Code)
	assert.Contains(t, byKey["row 4"].Err.Message, "cannot convert")
	assert.Equal(t, "STRING_TOO_LONG", byKey["K7"].Err.Code)
	assert.Equal(t, []string{"Name"}, byKey["K7"].Err.Fields)
	assert.Len(t, snk.Rows(), 18)
}

func TestFailedRowsOverLimitFailTheSync(t *testing.T) {
	cases := []struct {
		name    string
		maxRows *int
		maxPct  *float64
		status  reverseetl.Status
	}{
		{"default allows none", nil, nil, reverseetl.Failed},
		{"within rows", ptr(1), nil, reverseetl.Succeeded},
		{"over rows", ptr(0), nil, reverseetl.Failed},
		{"within percent", nil, ptr(10.0), reverseetl.Succeeded},
		{"over percent", nil, ptr(1.0), reverseetl.Failed},
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
			assert.Equal(t, tc.status, rep.Syncs[0].Status, rep.Syncs[0].Error)
			assert.Equal(t, int64(1), rep.Syncs[0].Failed)
		})
	}
}

func ptr[T any](v T) *T { return &v }

// slowSink blocks each write until the context is done or it is released.
type slowSink struct {
	memory.Sink
	started chan struct{}
	once    sync.Once
}

func (s *slowSink) Write(ctx context.Context, recs []sink.Record) ([]sink.Result, error) {
	s.once.Do(func() { close(s.started) })
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(10 * time.Second):
		return s.Sink.Write(ctx, recs)
	}
}

func TestCancelEndsRunWithPartialReport(t *testing.T) {
	f := newFixture()
	slow := &slowSink{started: make(chan struct{})}
	slow.BatchSize = 100
	f.sources["s"] = &memsource.Source{Columns: []string{"ID", "NAME"}, Rows: rows(5000), BatchSize: 100, Delay: time.Millisecond}
	f.sinks["s"] = slow
	f.sources["later"] = memsource.New([]string{"ID", "NAME"}, rows(3))
	f.sinks["later"] = memory.New("Ext")
	p := &config.Project{Syncs: []*config.Sync{spec("s"), spec("later", "s")}}

	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-slow.started; cancel() }()
	start := time.Now()
	rep, err := f.engine().Run(ctx, p, reverseetl.RunOptions{})
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
	r := rep.Sync("s")
	assert.Equal(t, reverseetl.Cancelled, r.Status)
	assert.True(t, r.Accounted(), "%+v", r)
	assert.Less(t, r.Read, int64(5000))
	assert.Positive(t, r.Failed+r.Skipped)
	assert.Equal(t, reverseetl.Cancelled, rep.Sync("later").Status)
}

func TestDependsOn(t *testing.T) {
	f := newFixture()
	cols := []string{"ID", "NAME"}
	var order []string
	var mu sync.Mutex
	rec := recorderObserver{fn: func(s *config.Sync) { mu.Lock(); order = append(order, s.Name); mu.Unlock() }}
	f.sources["parent"] = memsource.New(cols, rows(3))
	f.sinks["parent"] = memory.New("Ext")
	f.sources["child"] = memsource.New(cols, rows(3))
	f.sinks["child"] = memory.New("Ext")
	f.sources["broken"] = &memsource.Source{Columns: cols, Rows: rows(3), FailAfter: 1, Err: errors.New("no")}
	f.sinks["broken"] = memory.New("Ext")
	f.sources["orphan"] = memsource.New(cols, rows(3))
	f.sinks["orphan"] = memory.New("Ext")
	f.sources["brave"] = memsource.New(cols, rows(3))
	f.sinks["brave"] = memory.New("Ext")
	brave := spec("brave", "broken")
	brave.RunIfParentFailed = true
	p := &config.Project{Syncs: []*config.Sync{spec("child", "parent"), spec("orphan", "broken"), brave, spec("parent"), spec("broken")}}
	rep, err := f.engine(reverseetl.WithObserver(&rec), reverseetl.WithParallel(8)).Run(context.Background(), p, reverseetl.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, reverseetl.Succeeded, rep.Sync("child").Status)
	assert.Less(t, indexOf(order, "parent"), indexOf(order, "child"))
	assert.Equal(t, reverseetl.SkippedSync, rep.Sync("orphan").Status)
	assert.Contains(t, rep.Sync("orphan").Error, `parent sync "broken" failed`)
	assert.Equal(t, reverseetl.Succeeded, rep.Sync("brave").Status)
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

type recorderObserver struct {
	reverseetl.NopObserver
	fn       func(*config.Sync)
	mu       sync.Mutex
	outcomes map[string][]reverseetl.Outcome
	runs     int
	fail     error
}

func (r *recorderObserver) Outcomes(_ context.Context, s *config.Sync, outs []reverseetl.Outcome) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.outcomes == nil {
		r.outcomes = map[string][]reverseetl.Outcome{}
	}
	r.outcomes[s.Name] = append(r.outcomes[s.Name], outs...)
	return r.fail
}

func (r *recorderObserver) SyncFinished(_ context.Context, s *config.Sync, _ *reverseetl.SyncReport) {
	if r.fn != nil {
		r.fn(s)
	}
}

func (r *recorderObserver) RunFinished(context.Context, *reverseetl.Report) { r.runs++ }

func TestEveryRowHasExactlyOneOutcome(t *testing.T) {
	f := newFixture()
	snk := memory.New("Ext")
	snk.Reject = func(r *sink.Record) *sink.RecordError {
		if strings.HasSuffix(r.Key, "3") {
			return &sink.RecordError{Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: "nope"}
		}
		return nil
	}
	rs := rows(1234, 10, 20)
	rs[30][1] = "skip"
	f.sources["s"] = &memsource.Source{Columns: []string{"ID", "NAME"}, Rows: rs, BatchSize: 77}
	f.sinks["s"] = snk
	obs := &recorderObserver{fail: errors.New("writeback refused")}
	s := spec("s")
	s.OnFailure.MaxFailedRows = ptr(1000)
	rep, err := f.engine(reverseetl.WithObserver(obs)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{s}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	assert.True(t, r.Accounted())
	assert.Equal(t, int64(1), r.Skipped)
	assert.Equal(t, map[sink.SkipCode]int64{sink.SkipFiltered: 1}, r.SkipReasons)
	seen := map[int64]int{}
	for _, o := range obs.outcomes["s"] {
		seen[o.Seq]++
	}
	assert.Len(t, seen, 1234)
	for seq, n := range seen {
		require.Equal(t, 1, n, "row %d has %d outcomes", seq, n)
	}
	assert.Equal(t, []string{"writeback refused"}, r.Warnings)
	assert.Equal(t, 1, obs.runs)
}

func TestHintTellsSmallLoads(t *testing.T) {
	for _, tc := range []struct {
		n     int
		final bool
	}{{10, true}, {1500, false}} {
		f := newFixture()
		snk := memory.New("Ext")
		snk.BatchSize = 1000
		f.sources["s"] = memsource.New([]string{"ID", "NAME"}, rows(tc.n))
		f.sinks["s"] = snk
		_, err := f.engine().Run(context.Background(), &config.Project{Syncs: []*config.Sync{spec("s")}}, reverseetl.RunOptions{})
		require.NoError(t, err)
		h, ok := snk.LastHint()
		require.True(t, ok)
		assert.Equal(t, tc.final, h.Final)
		assert.Equal(t, min(tc.n, 1000), h.Records)
	}
}

func TestBuildErrors(t *testing.T) {
	f := newFixture()
	s := spec("s")
	s.Destination.Type = "nosuch"
	f.sources["s"] = memsource.New([]string{"ID"}, nil)
	rep, err := f.engine().Run(context.Background(), &config.Project{Syncs: []*config.Sync{s, spec("missing")}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, reverseetl.Failed, rep.Sync("s").Status)
	assert.Contains(t, rep.Sync("s").Error, `destination type "nosuch" is not registered`)
	assert.Equal(t, "source: no rows for missing", rep.Sync("missing").Error)

	err = f.engine().Validate(context.Background(), &config.Project{Syncs: []*config.Sync{s, spec("missing")}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `sync "s"`)
	assert.Contains(t, err.Error(), `sync "missing": source: no rows for missing`)
	var be *reverseetl.BuildError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "source", be.Part)

	_, err = f.engine().Run(context.Background(), &config.Project{}, reverseetl.RunOptions{Only: []string{"x"}})
	assert.ErrorContains(t, err, `no sync named "x"`)
}

// A plugin's error found in a file leads with its place: nothing is added
// before it, and syncs sharing a faulty connection report it once.
func TestBuildErrorsInFilesKeepTheirPlace(t *testing.T) {
	f := newFixture()
	bad := &config.Error{Pos: config.Pos{File: "retl.yaml", Line: 7, Col: 9}, Key: "connections.crm.auth", Msg: "want jwt"}
	f.reg.RegisterSink("picky", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) {
		return nil, &config.Error{Pos: bad.Pos, Key: bad.Key, Msg: bad.Msg} // a new value per sync
	})
	var syncs []*config.Sync
	for _, name := range []string{"a", "b"} {
		s := spec(name)
		s.Destination.Type = "picky"
		f.sources[name] = memsource.New([]string{"ID"}, nil)
		syncs = append(syncs, s)
	}
	err := f.engine().Validate(context.Background(), &config.Project{Syncs: syncs})
	require.Error(t, err)
	assert.Equal(t, `retl.yaml:7:9: key "connections.crm.auth": want jwt`, err.Error())
	var ce *config.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 7, ce.Pos.Line)

	rep, err := f.engine().Run(context.Background(), &config.Project{Syncs: syncs}, reverseetl.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, `retl.yaml:7:9: key "connections.crm.auth": want jwt`, rep.Sync("a").Error)
}

func TestSecretsRedactedFromErrors(t *testing.T) {
	f := newFixture()
	f.sources["s"] = &memsource.Source{Columns: []string{"ID", "NAME"}, Rows: rows(3), FailAfter: 1, Err: errors.New("login failed for password hunter2-secret")}
	f.sinks["s"] = memory.New("Ext")
	red := &config.Redactor{}
	red.Add("hunter2-secret")
	var logs bytes.Buffer
	log := slog.New(red.Handler(slog.NewTextHandler(&logs, nil)))
	rep, err := f.engine(reverseetl.WithLogger(log)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{spec("s")}, Redactor: red}, reverseetl.RunOptions{})
	require.NoError(t, err)
	assert.NotContains(t, rep.Sync("s").Error, "hunter2-secret")
	assert.Contains(t, rep.Sync("s").Error, "[REDACTED]")
	assert.NotContains(t, logs.String(), "hunter2-secret")
}

func TestRegistryPanicsOnDuplicates(t *testing.T) {
	r := reverseetl.NewRegistry()
	f := func(context.Context, reverseetl.BuildContext) (sink.Sink, error) { return nil, nil }
	r.RegisterSink("x", f)
	assert.Panics(t, func() { r.RegisterSink("x", f) })
	assert.Panics(t, func() { r.RegisterSink("", f) })
	assert.Equal(t, []string{"x"}, r.SinkTypes())
}

func TestSharedCreatesOnce(t *testing.T) {
	s := reverseetl.NewShared()
	n := 0
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = s.Get("k", func() (any, error) { n++; return n, nil })
		}()
	}
	wg.Wait()
	v, err := s.Get("k", nil)
	require.NoError(t, err)
	assert.Equal(t, 1, v)
	require.NoError(t, s.Close())
}

// panicky panics on the row whose ID is "K<at>".
type panicky struct {
	*passthrough
	at string
}

func (p panicky) Transform(row transform.Row) (sink.Record, error) {
	if row.Values[0] == p.at {
		panic("transformer broke")
	}
	return p.passthrough.Transform(row)
}

func TestTransformerPanicAndMismatchStopTheSyncWithEveryRowAccounted(t *testing.T) {
	for _, tc := range []struct {
		name string
		tf   reverseetl.TransformerFactory
		want string
	}{
		{"panic", func(s *config.Sync) (transform.Transformer, error) {
			p, _ := newPassthrough(s)
			return panicky{p.(*passthrough), "K150"}, nil
		}, "transformer broke"},
		{"columns do not fit", nil, `column "NOPE" not in the query's result`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			snk := memory.New("Ext")
			snk.BatchSize = 40
			f.sources["s"] = &memsource.Source{Columns: []string{"ID", "NAME"}, Rows: rows(400), BatchSize: 64}
			f.sinks["s"] = snk
			s := spec("s")
			opts := []reverseetl.Option{}
			if tc.tf != nil {
				opts = append(opts, reverseetl.WithTransformerFactory(tc.tf))
			} else {
				s.Mapping = append(s.Mapping, &config.Mapping{From: "NOPE", To: "Other"})
			}
			eng := f.engine(opts...)
			if tc.tf == nil {
				eng = reverseetl.New(f.reg, reverseetl.WithLogger(slog.New(slog.DiscardHandler)))
			}
			rep, err := eng.Run(context.Background(), &config.Project{Syncs: []*config.Sync{s}}, reverseetl.RunOptions{})
			require.NoError(t, err)
			r := rep.Sync("s")
			assert.Equal(t, reverseetl.Failed, r.Status)
			assert.Contains(t, r.Error, tc.want)
			assert.LessOrEqual(t, r.Read, int64(400))
			assert.Positive(t, r.Skipped, "rows held when the sync stopped are skipped, not lost")
			assert.True(t, r.Accounted(), "%+v", r)
		})
	}
}

// planner answers every record as unchanged with one field kept back.
type planner struct{ *memory.Sink }

func (p planner) Plan(_ context.Context, recs []sink.Record) ([]sink.Result, error) {
	out := make([]sink.Result, len(recs))
	for i := range out {
		out[i] = sink.Result{Skipped: sink.SkipUnchanged, KeptBack: []string{"Name"}}
	}
	return out, nil
}

func TestPlanCountsUnchangedAndKeptBack(t *testing.T) {
	f := newFixture()
	snk := memory.New("Ext")
	f.sources["s"] = memsource.New([]string{"ID", "NAME"}, rows(5))
	f.sinks["s"] = planner{snk}
	rep, err := f.engine().Run(context.Background(), &config.Project{Syncs: []*config.Sync{spec("s")}}, reverseetl.RunOptions{Plan: true})
	require.NoError(t, err)
	r := rep.Sync("s")
	assert.Equal(t, int64(5), r.Unchanged)
	assert.Equal(t, int64(5), r.Skipped)
	assert.Equal(t, int64(5), r.KeptBack)
	assert.Empty(t, snk.Rows(), "a plan writes nothing")

	f.sinks["s"] = memory.New("Ext")
	f.sources["s"] = memsource.New([]string{"ID", "NAME"}, rows(5))
	rep, err = f.engine().Run(context.Background(), &config.Project{Syncs: []*config.Sync{spec("s")}}, reverseetl.RunOptions{Plan: true})
	require.NoError(t, err)
	assert.Equal(t, reverseetl.Failed, rep.Sync("s").Status)
	assert.Contains(t, rep.Sync("s").Error, `cannot plan`)
}

func TestOfflineProjectsAreNotRun(t *testing.T) {
	f := newFixture()
	_, err := f.engine().Run(context.Background(), &config.Project{Offline: true}, reverseetl.RunOptions{})
	assert.ErrorContains(t, err, "loaded offline")
}
