package sinktest_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	"github.com/retl-go/retl/sink/sinktest"
)

// memSync builds a memory sink from its key_field, its only key.
const memSync = `name: s
source: {type: memory, query: select 1}
destination:
  type: memory
  key_field: External_Id__c
mapping:
  - {from: ID, to: External_Id__c}
  - {from: NAME, to: Name}
`

// memFactory is a well-behaved factory: it checks its section, does no
// I/O, and builds a sink that honours guarded fields.
func memFactory(_ context.Context, b reverseetl.BuildContext) (sink.Sink, error) {
	var sec struct {
		KeyField string `yaml:"key_field"`
	}
	if err := b.Sync.Destination.Section.Decode(&sec); err != nil {
		return nil, err
	}
	if sec.KeyField == "" {
		return nil, errors.New("memory: destination.key_field is required")
	}
	return memory.New(sec.KeyField), nil
}

func memBuild(f reverseetl.SinkFactory, io func() int64) *sinktest.Build {
	return &sinktest.Build{
		Register: func(r *reverseetl.Registry) { r.RegisterSink("memory", f) },
		Sync:     []byte(memSync),
		Required: []string{"destination.key_field"},
		IO:       io,
	}
}

func memHarness(wrap func(*memory.Sink) sink.Sink) sinktest.Harness {
	return sinktest.Harness{
		New: func(testing.TB) sinktest.Target {
			m := memory.New("External_Id__c")
			m.Reject = func(r *sink.Record) *sink.RecordError {
				if v, _ := r.Get("Name"); v.S == "" {
					return &sink.RecordError{Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [Name]", Fields: []string{"Name"}}
				}
				return nil
			}
			return sinktest.Target{
				Sink:   wrap(m),
				Count:  func() (int, error) { return len(m.Rows()), nil },
				Lookup: func(key string) (map[string]string, error) { return m.Rows()[key], nil },
			}
		},
		Good:    func(i int) sink.Record { return sinktest.SimpleRecord(i, "ok") },
		Bad:     func(i int) sink.Record { return sinktest.SimpleRecord(i, "") },
		Guard:   "Name",
		Build:   memBuild(memFactory, func() int64 { return 0 }),
		Timeout: 20 * time.Second,
	}
}

func TestMemorySinkConforms(t *testing.T) {
	sinktest.Run(t, memHarness(func(m *memory.Sink) sink.Sink { return m }))
}

// With a Planner that writes nothing, the memory sink passes the planner
// case too.
func TestMemoryPlannerConforms(t *testing.T) {
	h := memHarness(func(m *memory.Sink) sink.Sink { return planner{m} })
	assert.Empty(t, sinktest.Check(t, h))
}

// dropper loses the last result of every write.
type dropper struct{ *memory.Sink }

func (d dropper) Write(ctx context.Context, r []sink.Record) ([]sink.Result, error) {
	res, err := d.Sink.Write(ctx, r)
	if len(res) > 0 {
		res = res[:len(res)-1]
	}
	return res, err
}

// reverser returns results in reverse order.
type reverser struct{ *memory.Sink }

func (d reverser) Write(ctx context.Context, r []sink.Record) ([]sink.Result, error) {
	res, err := d.Sink.Write(ctx, r)
	for i, j := 0, len(res)-1; i < j; i, j = i+1, j-1 {
		res[i], res[j] = res[j], res[i]
	}
	return res, err
}

// ignoresCancel writes even when the context is done.
type ignoresCancel struct{ *memory.Sink }

func (d ignoresCancel) Write(_ context.Context, r []sink.Record) ([]sink.Result, error) {
	return d.Sink.Write(context.Background(), r)
}

// failsBatch fails the whole call when any record is bad.
type failsBatch struct{ *memory.Sink }

func (d failsBatch) Write(ctx context.Context, r []sink.Record) ([]sink.Result, error) {
	res, err := d.Sink.Write(ctx, r)
	for _, x := range res {
		if x.Err != nil {
			return nil, x.Err
		}
	}
	return res, err
}

// leaky starts a goroutine per write that never ends.
type leaky struct {
	*memory.Sink
	stop chan struct{}
}

func (d leaky) Write(ctx context.Context, r []sink.Record) ([]sink.Result, error) {
	go func() { <-d.stop }()
	return d.Sink.Write(ctx, r)
}

// ignoresGuard writes guarded fields as if they were not guarded.
type ignoresGuard struct{ *memory.Sink }

func (d ignoresGuard) Write(ctx context.Context, r []sink.Record) ([]sink.Result, error) {
	out := make([]sink.Record, len(r))
	for i, rec := range r {
		rec.Layout = sink.NewLayout(rec.Layout.Fields, nil)
		out[i] = rec
	}
	return d.Sink.Write(ctx, out)
}

// planner plans without writing: a record is created when its key is new.
type planner struct{ *memory.Sink }

func (p planner) Plan(_ context.Context, r []sink.Record) ([]sink.Result, error) {
	rows := p.Rows()
	out := make([]sink.Result, len(r))
	for i := range r {
		v, _ := r[i].Get(p.KeyField)
		_, held := rows[v.S]
		out[i] = sink.Result{Created: !held}
	}
	return out, nil
}

// writingPlanner writes what it is asked to plan.
type writingPlanner struct{ *memory.Sink }

func (p writingPlanner) Plan(ctx context.Context, r []sink.Record) ([]sink.Result, error) {
	return p.Write(ctx, r)
}

// shortPlanner plans the first record only.
type shortPlanner struct{ planner }

func (p shortPlanner) Plan(ctx context.Context, r []sink.Record) ([]sink.Result, error) {
	res, err := p.planner.Plan(ctx, r)
	return res[:1], err
}

func TestSuiteCatchesBrokenSinks(t *testing.T) {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	cases := []struct {
		name string
		wrap func(*memory.Sink) sink.Sink
		want string
	}{
		{"drops a result", func(m *memory.Sink) sink.Sink { return dropper{m} }, "one result per record"},
		{"reorders results", func(m *memory.Sink) sink.Sink { return reverser{m} }, "results in input order"},
		{"ignores cancellation", func(m *memory.Sink) sink.Sink { return ignoresCancel{m} }, "cancelled context"},
		{"fails the batch for one record", func(m *memory.Sink) sink.Sink { return failsBatch{m} }, "results in input order"},
		{"leaks goroutines", func(m *memory.Sink) sink.Sink { return leaky{m, stop} }, "close leaves no goroutines"},
		{"ignores guarded fields", func(m *memory.Sink) sink.Sink { return ignoresGuard{m} }, "set_if_empty"},
		{"writes when planning", func(m *memory.Sink) sink.Sink { return writingPlanner{m} }, "planner writes nothing"},
		{"plans too few records", func(m *memory.Sink) sink.Sink { return shortPlanner{planner{m}} }, "planner writes nothing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Only the case that must catch it: a leaking sink would
			// fail every case, each after goleak's full wait.
			h := memHarness(tc.wrap)
			h.Skip = slices.DeleteFunc(sinktest.Cases(), func(c string) bool { return c == tc.want })
			fails := sinktest.Check(t, h)
			var cases []string
			for _, f := range fails {
				cases = append(cases, f.Case)
			}
			assert.Contains(t, cases, tc.want, "failures: %v", fails)
		})
	}
}

// A sink that ignores guarded fields passes when its factory refuses
// them: the contract is honour or refuse.
func TestGuardRefusedWhenBuilt(t *testing.T) {
	h := memHarness(func(m *memory.Sink) sink.Sink { return ignoresGuard{m} })
	h.Build = memBuild(func(ctx context.Context, b reverseetl.BuildContext) (sink.Sink, error) {
		for _, m := range b.Sync.Mapping {
			if m.SetIfEmpty {
				return nil, errors.New("memory: set_if_empty is not supported")
			}
		}
		return memFactory(ctx, b)
	}, nil)
	assert.Empty(t, sinktest.Check(t, h))
}

func TestSuiteCatchesBrokenFactories(t *testing.T) {
	var calls atomic.Int64
	dials := func(ctx context.Context, b reverseetl.BuildContext) (sink.Sink, error) {
		calls.Add(1) // stands for a login at build time
		return memFactory(ctx, b)
	}
	defaults := func(_ context.Context, b reverseetl.BuildContext) (sink.Sink, error) {
		return memory.New("External_Id__c"), nil // never reads key_field
	}
	refuses := func(context.Context, reverseetl.BuildContext) (sink.Sink, error) {
		return nil, errors.New("memory: no")
	}
	nothing := func(context.Context, reverseetl.BuildContext) (sink.Sink, error) { return nil, nil }
	cases := []struct {
		name  string
		build *sinktest.Build
		want  []string
	}{
		{"does I/O when built", memBuild(dials, calls.Load), []string{"factory builds the sink", "offline build does no I/O"}},
		{"builds without a required key", memBuild(defaults, nil), []string{"required keys"}},
		{"refuses a good file", memBuild(refuses, nil), []string{"factory builds the sink", "offline build does no I/O"}},
		{"returns no sink", memBuild(nothing, nil), []string{"factory builds the sink"}},
		{"a required key the file lacks", func() *sinktest.Build {
			b := memBuild(memFactory, nil)
			b.Required = []string{"destination.nope"}
			return b
		}(), []string{"required keys"}},
		{"a sync file that does not load", func() *sinktest.Build {
			b := memBuild(memFactory, nil)
			b.Sync = []byte("name: s\n")
			return b
		}(), []string{"factory builds the sink", "set_if_empty"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := memHarness(func(m *memory.Sink) sink.Sink { return m })
			h.Build = tc.build
			fails := sinktest.Check(t, h)
			var got []string
			for _, f := range fails {
				got = append(got, f.Case)
			}
			for _, w := range tc.want {
				assert.Contains(t, got, w, "failures: %v", fails)
			}
		})
	}
}

func TestCasesListed(t *testing.T) {
	assert.Contains(t, sinktest.Cases(), "one result per record")
	h := memHarness(func(m *memory.Sink) sink.Sink { return dropper{m} })
	h.Skip = sinktest.Cases()
	assert.Empty(t, sinktest.Check(t, h))
}
