package reverseetl_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
)

func insertRun(n int) *cdRun {
	c := newCDRun(n)
	c.snk.CreatesOnly = true
	return c
}

// An insert sync with change detection sends each key once: a changed
// row, a mapping change or --full skips the keys the state holds, in a
// plan as in a run; a new key is sent.
func TestInsertSendsAKeyOnce(t *testing.T) {
	c := insertRun(20)
	r := c.run(t, reverseetl.RunOptions{})
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	assert.EqualValues(t, 20, r.Created)
	c.snk.take()

	c.data[3][1] = "changed"
	for _, opts := range []reverseetl.RunOptions{{Plan: true}, {}} {
		r = c.run(t, opts)
		require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
		assert.Zero(t, r.Written())
		assert.Equal(t, map[sink.SkipCode]int64{sink.SkipUnchanged: 19, sink.SkipAlreadyInserted: 1}, r.SkipReasons)
	}
	assert.Zero(t, c.snk.planned.Load())

	c.spec.Mapping = append(c.spec.Mapping, &config.Mapping{To: "Source", Value: "warehouse", HasValue: true})
	for _, opts := range []reverseetl.RunOptions{{Plan: true}, {}, {Full: true}, {Full: true, Plan: true}} {
		r = c.run(t, opts)
		require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
		assert.Zero(t, r.Written(), "%+v", opts)
		assert.Equal(t, map[sink.SkipCode]int64{sink.SkipAlreadyInserted: 20}, r.SkipReasons, "%+v", opts)
	}
	sent, _ := c.snk.take()
	assert.Zero(t, sent)

	c.data = append(c.data, []any{"NEW", "new"})
	r = c.run(t, reverseetl.RunOptions{Plan: true})
	assert.EqualValues(t, 1, c.snk.planned.Load())
	assert.EqualValues(t, 20, r.SkipReasons[sink.SkipAlreadyInserted])
	r = c.run(t, reverseetl.RunOptions{})
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	sent, keys := c.snk.take()
	assert.EqualValues(t, 1, sent)
	assert.Equal(t, []string{"NEW"}, keys)
	assert.EqualValues(t, 20, r.SkipReasons[sink.SkipAlreadyInserted])

	r = c.run(t, reverseetl.RunOptions{})
	assert.Zero(t, r.Written())
	assert.EqualValues(t, 1, r.Unchanged)
}

// Without the state, an insert sync sends nothing: a row might have been
// inserted already. A sync that finds records by key sends everything.
func TestInsertWithoutStateSendsNothing(t *testing.T) {
	c := insertRun(20)
	c.state.failLookup = errors.New("warehouse unreachable")
	r := c.run(t, reverseetl.RunOptions{})
	assert.Equal(t, reverseetl.Failed, r.Status)
	assert.Equal(t, "change detection: reading the state of an insert sync: warehouse unreachable", r.Error)
	assert.Zero(t, r.Written())
	assert.EqualValues(t, 20, r.Skipped)
	sent, _ := c.snk.take()
	assert.Zero(t, sent)
}

// When the warehouse compares, the rows it returns as changed are looked
// up in the state, and those it holds are skipped.
func TestInsertPushdownSkipsInsertedKeys(t *testing.T) {
	f := newFixture()
	st := &pushdownState{memState: newMemState()}
	require.NoError(t, st.SaveState(context.Background(), "r0", "s", []reverseetl.StateRow{{Key: "K2", Hash: "old", ID: "001"}}))
	src := &rewriting{query: "q"}
	src.Columns = []string{"ID", "NAME", reverseetl.HashColumn, reverseetl.KeyColumn, reverseetl.UnchangedColumn}
	src.Rows = [][]any{{"K1", "a", "h1", "K1", int64(5)}, {"K2", "b", "h2", "K2", int64(5)}}
	f.sources["s"] = src
	snk := newCountingSink()
	snk.CreatesOnly = true
	f.sinks["s"] = snk
	s := cdSpec("s")
	s.Source.Connection = "warehouse"
	rep, err := f.engine(reverseetl.WithState(st)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{s}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	assert.True(t, r.Accounted())
	assert.EqualValues(t, 1, r.Created)
	assert.EqualValues(t, 5, r.UnchangedNotRead)
	assert.Equal(t, map[sink.SkipCode]int64{sink.SkipAlreadyInserted: 1}, r.SkipReasons)
	_, keys := snk.take()
	assert.Equal(t, []string{"K1"}, keys)
	assert.Equal(t, 1, st.lookups)
	assert.Equal(t, "h1", st.rows["s"]["K1"].Hash)
	assert.Equal(t, "old", st.rows["s"]["K2"].Hash, "a skipped row keeps its state")
}
