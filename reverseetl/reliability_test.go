package reverseetl_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	"github.com/retl-go/retl/sink/sinktest"
	"github.com/retl-go/retl/source"
	memsource "github.com/retl-go/retl/source/memory"
)

// brokenObserver panics when a sync or the run finishes, as an alert
// observer with a bug would.
type brokenObserver struct{ reverseetl.NopObserver }

func (brokenObserver) SyncFinished(context.Context, *config.Sync, *reverseetl.SyncReport) {
	panic("observer broke on a sync")
}
func (brokenObserver) RunFinished(context.Context, *reverseetl.Report) {
	panic("observer broke on the run")
}

// An observer that panics neither fails a sync that succeeded nor keeps
// the run's report from its caller or the other observers.
func TestReliabilityObserverPanicsAreContained(t *testing.T) {
	p, err := config.Parse(context.Background(), "", nil, map[string][]byte{
		"a.yaml": []byte("name: a\nkey: ID\nsource: {type: rows, query: q}\ndestination: {type: store}\nmapping:\n  - {from: ID, to: K}\n"),
		"b.yaml": []byte("name: b\nkey: ID\nsource: {type: rows, query: q}\ndestination: {type: store}\nmapping:\n  - {from: ID, to: K}\n"),
	})
	require.NoError(t, err)
	reg := reverseetl.NewRegistry()
	reg.RegisterSource("rows", func(context.Context, reverseetl.BuildContext) (source.Source, error) {
		return memsource.New([]string{"ID"}, [][]any{{"1"}, {"2"}, {"3"}}), nil
	})
	reg.RegisterSink("store", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) { return memory.New(""), nil })
	var logs bytes.Buffer
	ledger := sinktest.NewLedger()
	eng := reverseetl.New(reg, reverseetl.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		reverseetl.WithObserver(brokenObserver{}), reverseetl.WithObserver(ledger))
	rep, err := eng.Run(context.Background(), p, reverseetl.RunOptions{})
	require.NoError(t, err)
	require.Len(t, rep.Syncs, 2)
	for _, s := range rep.Syncs {
		assert.Equal(t, reverseetl.Succeeded, s.Status, s.Error)
		assert.EqualValues(t, 3, s.Created)
		ledger.Check(t, s)
	}
	assert.Equal(t, 3, bytes.Count(logs.Bytes(), []byte("observer panicked")), logs.String())
	assert.Contains(t, logs.String(), "observer broke on the run")
}
