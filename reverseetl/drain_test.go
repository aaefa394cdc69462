package reverseetl_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	memsource "github.com/retl-go/retl/source/memory"
)

// gate blocks the calls that reach it until it is opened.
type gate struct {
	entered chan struct{} // closed when the first call arrives
	open    chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{entered: make(chan struct{}), open: make(chan struct{})} }

// pass blocks until the gate opens or ctx ends.
func (g *gate) pass(ctx context.Context) error {
	g.once.Do(func() { close(g.entered) })
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gatedObserver records outcomes after passing its gate.
type gatedObserver struct {
	recorderObserver
	g *gate
}

func (o *gatedObserver) Outcomes(ctx context.Context, s *config.Sync, outs []reverseetl.Outcome) error {
	if err := o.g.pass(ctx); err != nil {
		return err
	}
	return o.recorderObserver.Outcomes(ctx, s, outs)
}

// gatedState saves after passing its gate.
type gatedState struct {
	*memState
	g     *gate
	saves atomic.Int64
}

func (s *gatedState) SaveState(ctx context.Context, runID, syncName string, rows []reverseetl.StateRow) error {
	s.saves.Add(1)
	if err := s.g.pass(ctx); err != nil {
		return err
	}
	return s.memState.SaveState(ctx, runID, syncName, rows)
}

// notifySink tells when it has been sent n records.
type notifySink struct {
	*memory.Sink
	n    int64
	sent atomic.Int64
	all  chan struct{}
}

func (k *notifySink) Write(ctx context.Context, recs []sink.Record) ([]sink.Result, error) {
	res, err := k.Sink.Write(ctx, recs)
	if k.sent.Add(int64(len(recs))) == k.n {
		close(k.all)
	}
	return res, err
}

func waitFor(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(time.Minute):
		require.FailNow(t, "never happened: "+what)
	}
}

// The writeback's observer and the state store are both blocked: the
// pipeline still sends every row that fits in the buffer, and once they
// are released each outcome arrives exactly once and every row's state is
// saved.
func TestWritebackBlockedDoesNotHoldThePipeline(t *testing.T) {
	// 2 writes of 1000: 2 state saves and 4 chunks of outcomes, one being
	// handed over and 5 queued in a buffer of 8.
	const n = 2000
	f := newFixture()
	snk := &notifySink{Sink: memory.New("Ext"), n: n, all: make(chan struct{})}
	f.sources["s"] = &memsource.Source{Columns: []string{"ID", "NAME"}, Rows: rows(n), BatchSize: 100}
	f.sinks["s"] = snk
	obsGate, stateGate := newGate(), newGate()
	obs := &gatedObserver{g: obsGate}
	st := &gatedState{memState: newMemState(), g: stateGate}
	e := f.engine(reverseetl.WithObserver(obs), reverseetl.WithState(st), reverseetl.WithWritebackBuffer(2*n))

	done := make(chan *reverseetl.Report)
	go func() {
		rep, err := e.Run(context.Background(), &config.Project{Syncs: []*config.Sync{cdSpec("s")}}, reverseetl.RunOptions{})
		assert.NoError(t, err)
		done <- rep
	}()
	waitFor(t, snk.all, "every row sent while the writeback is blocked")
	waitFor(t, stateGate.entered, "the state store called")
	obs.mu.Lock()
	assert.Empty(t, obs.outcomes, "no outcome got through the blocked observer")
	obs.mu.Unlock()
	assert.Equal(t, 0, st.count("s"), "no state got through the blocked store")
	select {
	case <-done:
		require.FailNow(t, "the run ended before its writeback drained")
	default:
	}
	close(obsGate.open)
	close(stateGate.open)
	rep := <-done

	r := rep.Sync("s")
	assert.Equal(t, reverseetl.Succeeded, r.Status)
	assert.False(t, r.WritebackFailed)
	assert.Empty(t, r.Warnings)
	seen := map[int64]int{}
	for _, o := range obs.outcomes["s"] {
		seen[o.Seq]++
	}
	assert.Len(t, seen, n)
	for seq, c := range seen {
		require.Equal(t, 1, c, "row %d has %d outcomes", seq, c)
	}
	assert.Equal(t, n, st.count("s"))
}

// With a buffer smaller than the rows, the pipeline waits for the
// writeback (backpressure) and loses nothing.
func TestWritebackBackpressureLosesNothing(t *testing.T) {
	const n = 5000
	f := newFixture()
	snk := &notifySink{Sink: memory.New("Ext"), n: n, all: make(chan struct{})}
	f.sources["s"] = &memsource.Source{Columns: []string{"ID", "NAME"}, Rows: rows(n), BatchSize: 100}
	f.sinks["s"] = snk
	g := newGate()
	obs := &gatedObserver{g: g}
	st := newMemState()
	e := f.engine(reverseetl.WithObserver(obs), reverseetl.WithState(st), reverseetl.WithWritebackBuffer(500))

	done := make(chan *reverseetl.Report)
	go func() {
		rep, err := e.Run(context.Background(), &config.Project{Syncs: []*config.Sync{cdSpec("s")}}, reverseetl.RunOptions{})
		assert.NoError(t, err)
		done <- rep
	}()
	waitFor(t, g.entered, "the observer called")
	// The observer holds one chunk and the queue one job: the rows sent
	// are bounded by those and what the stages hold, never all of them.
	assert.Less(t, snk.sent.Load(), int64(n))
	close(g.open)
	rep := <-done
	r := rep.Sync("s")
	assert.Equal(t, reverseetl.Succeeded, r.Status)
	assert.Equal(t, int64(n), snk.sent.Load())
	seen := map[int64]int{}
	for _, o := range obs.outcomes["s"] {
		seen[o.Seq]++
	}
	assert.Len(t, seen, n)
	for seq, c := range seen {
		require.Equal(t, 1, c, "row %d has %d outcomes", seq, c)
	}
	assert.Equal(t, n, st.count("s"))
}

// When the writeback does not finish within its bound, the outcomes still
// queued are given up (the report says so) and the state of every
// accepted row is saved all the same.
func TestWritebackTimeoutKeepsTheState(t *testing.T) {
	const n = 3000
	f := newFixture()
	f.sources["s"] = &memsource.Source{Columns: []string{"ID", "NAME"}, Rows: rows(n), BatchSize: 100}
	f.sinks["s"] = memory.New("Ext")
	// Never opened: each hand-over to the observer waits for its bound.
	obs := &gatedObserver{g: newGate()}
	st := newMemState()
	e := f.engine(reverseetl.WithObserver(obs), reverseetl.WithState(st), reverseetl.WithWritebackTimeout(0, 0))
	rep, err := e.Run(context.Background(), &config.Project{Syncs: []*config.Sync{cdSpec("s")}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	assert.Equal(t, reverseetl.Succeeded, r.Status, "a writeback failure never changes an outcome")
	assert.Equal(t, int64(n), r.Created+r.Updated)
	assert.NotEmpty(t, r.Warnings, "the observer's failures are on the report")
	assert.Empty(t, obs.outcomes)
	assert.Equal(t, n, st.count("s"), "the state of every accepted row is saved")
}

// A state store that fails marks the report and changes no outcome.
func TestWritebackStateFailureIsAWarning(t *testing.T) {
	f := newFixture()
	f.sources["s"] = &memsource.Source{Columns: []string{"ID", "NAME"}, Rows: rows(10)}
	f.sinks["s"] = memory.New("Ext")
	st := newMemState()
	st.failSave = errors.New("warehouse down")
	rep, err := f.engine(reverseetl.WithState(st)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{cdSpec("s")}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	assert.Equal(t, reverseetl.Succeeded, r.Status)
	assert.Equal(t, int64(10), r.Created)
	assert.True(t, r.WritebackFailed)
	assert.Equal(t, []string{"saving change-detection state: warehouse down (those rows are sent again next run)"}, r.Warnings)
}
