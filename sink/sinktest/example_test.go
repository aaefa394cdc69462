package sinktest_test

import (
	"context"
	"sync"
	"testing"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/sinktest"
)

// ledger is another team's destination: records kept by key, a record
// without a name rejected.
type ledger struct {
	mu   sync.Mutex
	rows map[string]string
}

// Write gives one result per record, in input order; a rejected record is
// a result with Err, not an error return.
func (l *ledger) Write(ctx context.Context, recs []sink.Record) ([]sink.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]sink.Result, len(recs))
	for i := range recs {
		name, _ := recs[i].Get("Name")
		if name.S == "" {
			out[i].Err = &sink.RecordError{Code: "REQUIRED_FIELD_MISSING", Message: "Name is required", Fields: []string{"Name"}}
			continue
		}
		_, seen := l.rows[recs[i].Key]
		l.rows[recs[i].Key] = name.S
		out[i] = sink.Result{ID: recs[i].Key, Created: !seen}
	}
	return out, nil
}

func (l *ledger) Close(context.Context) error { return nil }

func (l *ledger) count() (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.rows), nil
}

// A custom sink is registered under a type name and proved against the
// contract the Engine relies on with sinktest.Run, in the sink's own test:
//
//	func TestConformance(t *testing.T) { sinktest.Run(t, harness) }
func Example_customSink() {
	reg := reverseetl.NewRegistry()
	reg.RegisterSink("ledger", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) {
		return &ledger{rows: map[string]string{}}, nil
	})

	harness := sinktest.Harness{
		New: func(testing.TB) sinktest.Target {
			l := &ledger{rows: map[string]string{}}
			return sinktest.Target{Sink: l, Count: l.count}
		},
		Good: func(i int) sink.Record { return sinktest.SimpleRecord(i, "ok") },
		Bad:  func(i int) sink.Record { return sinktest.SimpleRecord(i, "") },
	}
	_ = harness // passed to sinktest.Run(t, harness) in a test
}

// The ledger keeps the contract.
func TestLedgerConforms(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		New: func(testing.TB) sinktest.Target {
			l := &ledger{rows: map[string]string{}}
			return sinktest.Target{Sink: l, Count: l.count}
		},
		Good: func(i int) sink.Record { return sinktest.SimpleRecord(i, "ok") },
		Bad:  func(i int) sink.Record { return sinktest.SimpleRecord(i, "") },
	})
}
