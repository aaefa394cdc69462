package sinktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	"github.com/retl-go/retl/sink/sinktest"
)

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
			return sinktest.Target{Sink: wrap(m), Count: func() (int, error) { return len(m.Rows()), nil }}
		},
		Good:    func(i int) sink.Record { return sinktest.SimpleRecord(i, "ok") },
		Bad:     func(i int) sink.Record { return sinktest.SimpleRecord(i, "") },
		Timeout: 20 * time.Second,
	}
}

func TestMemorySinkConforms(t *testing.T) {
	sinktest.Run(t, memHarness(func(m *memory.Sink) sink.Sink { return m }))
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
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fails := sinktest.Check(t, memHarness(tc.wrap))
			var cases []string
			for _, f := range fails {
				cases = append(cases, f.Case)
			}
			assert.Contains(t, cases, tc.want, "failures: %v", fails)
		})
	}
}

func TestCasesListed(t *testing.T) {
	assert.Contains(t, sinktest.Cases(), "one result per record")
	h := memHarness(func(m *memory.Sink) sink.Sink { return dropper{m} })
	h.Skip = sinktest.Cases()
	assert.Empty(t, sinktest.Check(t, h))
}
