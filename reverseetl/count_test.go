package reverseetl_test

import (
	"context"
	"fmt"
	"sync"
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

// totalFirstSink wants the total before its first Write and refuses a load
// larger than limit, as a delete guardrail does.
type totalFirstSink struct {
	memory.Sink
	limit int

	mu      sync.Mutex
	hints   []sink.Hint
	batches []int
	// hintedFirst is false when a Write came before the Hint.
	hintedFirst bool
	block       chan struct{} // when set, each Write waits for it or ctx
	started     chan struct{}
	once        sync.Once
}

func (c *totalFirstSink) CountFirst() bool { return true }

func (c *totalFirstSink) Hint(_ context.Context, h sink.Hint) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hints = append(c.hints, h)
	c.hintedFirst = len(c.batches) == 0
	if h.Records > c.limit {
		return fmt.Errorf("%d records, more than %d", h.Records, c.limit)
	}
	return nil
}

func (c *totalFirstSink) Write(ctx context.Context, recs []sink.Record) ([]sink.Result, error) {
	c.mu.Lock()
	c.batches = append(c.batches, len(recs))
	c.mu.Unlock()
	if c.block != nil {
		c.once.Do(func() { close(c.started) })
		select {
		case <-c.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return c.Sink.Write(ctx, recs)
}

func TestCounterGetsTheTotalBeforeTheFirstWrite(t *testing.T) {
	f := newFixture()
	snk := &totalFirstSink{limit: 10_000}
	snk.BatchSize = 400
	f.sources["s"] = &memsource.Source{Columns: []string{"ID", "NAME"}, Rows: rows(2500, 7), BatchSize: 300}
	f.sinks["s"] = snk
	rep, err := f.engine().Run(context.Background(), &config.Project{Syncs: []*config.Sync{spec("s")}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	assert.True(t, r.Accounted())
	assert.EqualValues(t, 2499, r.Created)
	assert.EqualValues(t, 1, r.Failed, "the row that fails to transform is not counted")
	require.Len(t, snk.hints, 1)
	assert.Equal(t, sink.Hint{Records: 2499, Final: true}, snk.hints[0])
	assert.True(t, snk.hintedFirst)
	total := 0
	for _, b := range snk.batches {
		assert.LessOrEqual(t, b, 400, "records still go in the sink's batches")
		total += b
	}
	assert.Equal(t, 2499, total)
}

func TestCounterRefusalWritesNothing(t *testing.T) {
	f := newFixture()
	snk := &totalFirstSink{limit: 100}
	f.sources["s"] = memsource.New([]string{"ID", "NAME"}, rows(150))
	f.sinks["s"] = snk
	rep, err := f.engine().Run(context.Background(), &config.Project{Syncs: []*config.Sync{spec("s")}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	assert.Equal(t, reverseetl.Failed, r.Status)
	assert.Contains(t, r.Error, "150 records, more than 100")
	assert.Empty(t, snk.batches, "no Write after a refused Hint")
	assert.True(t, r.Accounted())
	assert.EqualValues(t, 150, r.Skipped)
	assert.EqualValues(t, 150, r.SkipReasons[sink.SkipNotSent])
}

func TestCounterCancelledWhileSendingAccountsForEveryRow(t *testing.T) {
	f := newFixture()
	snk := &totalFirstSink{limit: 10_000, block: make(chan struct{}), started: make(chan struct{})}
	snk.BatchSize, snk.Concurrency = 10, 1
	f.sources["s"] = memsource.New([]string{"ID", "NAME"}, rows(200))
	f.sinks["s"] = snk
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-snk.started; cancel() }()
	start := time.Now()
	rep, err := f.engine().Run(ctx, &config.Project{Syncs: []*config.Sync{spec("s")}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
	r := rep.Sync("s")
	assert.Equal(t, reverseetl.Cancelled, r.Status)
	assert.True(t, r.Accounted(), "%+v", r)
	assert.EqualValues(t, 200, r.Read)
	assert.Zero(t, r.Created)
}

// checkingSink counts the records whose NAME is "found" and refuses more
// than limit of them, as a delete guardrail counts the records a delete
// would find.
type checkingSink struct {
	totalFirstSink
	found   int
	checked []int
}

func (c *checkingSink) CheckCount(_ context.Context, recs []sink.Record) error {
	found := 0
	for i := range recs {
		if v, _ := recs[i].Get("Name"); v.S == "found" {
			found++
		}
	}
	c.mu.Lock()
	c.checked = append(c.checked, len(recs))
	c.mu.Unlock()
	if found > c.found {
		return fmt.Errorf("%d records found, more than %d", found, c.found)
	}
	return nil
}

// A CountChecker sees every held record before Hint; its refusal leaves
// every row unsent.
func TestCountCheckerSeesEveryRecord(t *testing.T) {
	data := [][]any{{int64(1), "found"}, {int64(2), "found"}, {int64(3), "gone"}, {int64(4), "gone"}}
	for _, tc := range []struct {
		limit int
		err   string
	}{{2, ""}, {1, "count: 2 records found, more than 1"}} {
		f := newFixture()
		snk := &checkingSink{totalFirstSink: totalFirstSink{limit: 10}, found: tc.limit}
		f.sources["s"] = memsource.New([]string{"ID", "NAME"}, data)
		f.sinks["s"] = snk
		rep, err := f.engine().Run(context.Background(), &config.Project{Syncs: []*config.Sync{spec("s")}}, reverseetl.RunOptions{})
		require.NoError(t, err)
		r := rep.Sync("s")
		assert.True(t, r.Accounted())
		assert.Equal(t, []int{4}, snk.checked)
		if tc.err == "" {
			assert.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
			assert.EqualValues(t, 4, r.Created)
			require.Len(t, snk.hints, 1, "Hint follows the check")
			continue
		}
		assert.Equal(t, reverseetl.Failed, r.Status)
		assert.Contains(t, r.Error, tc.err)
		assert.Empty(t, snk.hints, "no Hint after a refused check")
		assert.Empty(t, snk.batches)
		assert.EqualValues(t, 4, r.Skipped)
	}
}
