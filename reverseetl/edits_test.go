package reverseetl_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	memsource "github.com/retl-go/retl/source/memory"
)

// fieldState is memState that keeps field tokens too.
type fieldState struct {
	*memState
	failFields error
	looked     int
}

func (f *fieldState) StoredFields(_ context.Context, syncName string, keys []string) (map[string]map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failFields != nil {
		return nil, f.failFields
	}
	f.looked++
	out := map[string]map[string]string{}
	for _, k := range keys {
		if r, ok := f.rows[syncName][k]; ok && r.Fields != nil {
			out[k] = r.Fields
		}
	}
	return out, nil
}

// trackingSink tracks Name: it answers each write with the token of the
// value it holds, and keeps back a Name whose held value is not the one
// the record expects, as a destination a person edits would.
type trackingSink struct {
	*countingSink
	mu     sync.Mutex
	held   map[string]string // key → Name held
	expect map[string]string // key → the Expect of Name last received
	track  bool
}

func newTrackingSink() *trackingSink {
	return &trackingSink{countingSink: newCountingSink(), held: map[string]string{}, expect: map[string]string{}, track: true}
}

func (s *trackingSink) Tracks(l *sink.Layout) []bool {
	if !s.track {
		return nil
	}
	t := make([]bool, len(l.Fields))
	t[l.Index("Name")] = true
	return t
}

func (s *trackingSink) answer(recs []sink.Record, write bool) []sink.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := make([]sink.Result, len(recs))
	for i, r := range recs {
		n := r.Layout.Index("Name")
		exp := ""
		if r.Expect != nil {
			exp = r.Expect[n]
		}
		s.expect[r.Key] = exp
		if exp != "" && "t:"+s.held[r.Key] != exp {
			res[i].KeptEdits = []string{"Name"}
			continue
		}
		if write {
			s.held[r.Key] = r.Values[n].S
		}
		res[i].Wrote = make([]string, len(r.Values))
		res[i].Wrote[n] = "t:" + r.Values[n].S
	}
	return res
}

func (s *trackingSink) Write(ctx context.Context, recs []sink.Record) ([]sink.Result, error) {
	if _, err := s.countingSink.Write(ctx, recs); err != nil {
		return nil, err
	}
	return s.answer(recs, true), nil
}

func (s *trackingSink) Plan(_ context.Context, recs []sink.Record) ([]sink.Result, error) {
	return s.answer(recs, false), nil
}

func (s *trackingSink) edit(key, name string) {
	s.mu.Lock()
	s.held[key] = name
	s.mu.Unlock()
}

func (s *trackingSink) expected(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expect[key]
}

func editRun(t *testing.T) (*cdRun, *trackingSink, *fieldState) {
	c := newCDRun(3)
	snk := newTrackingSink()
	st := &fieldState{memState: c.state}
	return c, snk, st
}

func (c *cdRun) runWith(t *testing.T, snk sink.Sink, st reverseetl.StateStore, opts reverseetl.RunOptions) *reverseetl.SyncReport {
	t.Helper()
	c.f.sinks["s"] = snk
	data := make([][]any, len(c.data))
	for i, r := range c.data {
		data[i] = append([]any(nil), r...)
	}
	c.f.sources["s"] = memsource.New([]string{"ID", "NAME"}, data)
	rep, err := c.f.engine(reverseetl.WithState(st)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{c.spec}}, opts)
	require.NoError(t, err)
	r := rep.Sync("s")
	require.NotNil(t, r)
	assert.True(t, r.Accounted(), "%+v", r)
	return r
}

// The Engine keeps the tokens a write gives, hands them back as the next
// write's expectations, and reports the fields the sink kept back; a plan
// shows them and saves nothing.
func TestKeepHumanEditsThroughTheEngine(t *testing.T) {
	c, snk, st := editRun(t)
	r := c.runWith(t, snk, st, reverseetl.RunOptions{})
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	assert.Equal(t, "", snk.expected("K0"), "nothing expected of a record never written")
	assert.Equal(t, map[string]string{"Name": "t:name"}, st.rows["s"]["K0"].Fields)

	snk.edit("K0", "by hand")
	c.data[0][1], c.data[1][1] = "new", "new"
	plan := c.runWith(t, snk, st, reverseetl.RunOptions{Plan: true})
	assert.EqualValues(t, 1, plan.KeptEdits)
	assert.Equal(t, map[string]string{"Name": "t:name"}, st.rows["s"]["K0"].Fields, "a plan saves nothing")

	r = c.runWith(t, snk, st, reverseetl.RunOptions{})
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	assert.Equal(t, "t:name", snk.expected("K0"))
	assert.EqualValues(t, 1, r.KeptEdits)
	require.Len(t, r.KeptEditRows, 1)
	assert.Equal(t, "K0", r.KeptEditRows[0].Key)
	assert.Equal(t, []string{"Name"}, r.KeptEditRows[0].KeptEdits)
	assert.Equal(t, map[string]string{"Name": "t:name"}, st.rows["s"]["K0"].Fields, "retl's last write stays the expectation")
	assert.Equal(t, map[string]string{"Name": "t:new"}, st.rows["s"]["K1"].Fields)
	assert.Equal(t, 2, st.looked, "one look-up per write of the plan and the second run; the first run's keys had no state")

	var out bytes.Buffer
	require.NoError(t, reverseetl.WriteSummary(&out, &reverseetl.Report{Syncs: []*reverseetl.SyncReport{r}}, 10))
	assert.Contains(t, out.String(), "s: 1 fields kept, edited in Salesforce since retl wrote it:\n  K0: Name\n")
}

// Without the state's tokens nothing is sent: sending could overwrite an
// edit.
func TestKeepHumanEditsStateUnreadable(t *testing.T) {
	c, snk, st := editRun(t)
	r := c.runWith(t, snk, st, reverseetl.RunOptions{})
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	n, _ := snk.take()
	require.EqualValues(t, 3, n)

	st.failFields = errors.New("warehouse away")
	c.data[0][1] = "new"
	r = c.runWith(t, snk, st, reverseetl.RunOptions{})
	assert.EqualValues(t, 1, r.Failed)
	require.Len(t, r.FailedRows, 1)
	assert.Equal(t, reverseetl.CodeEditState, r.FailedRows[0].Err.Code)
	assert.Contains(t, r.FailedRows[0].Err.Message, "warehouse away")
	n, _ = snk.take()
	assert.Zero(t, n, "nothing was sent")
}

// The rail needs change detection and a state that keeps tokens, and a
// mapping entry cannot ask a sink that tracks nothing.
func TestKeepHumanEditsRequirements(t *testing.T) {
	c, snk, st := editRun(t)
	c.spec.ChangeDetection = nil
	r := c.runWith(t, snk, st, reverseetl.RunOptions{})
	assert.Equal(t, reverseetl.Failed, r.Status)
	assert.Contains(t, r.Error, "keep_human_edits needs change_detection")

	c, snk, _ = editRun(t)
	r = c.runWith(t, snk, c.state, reverseetl.RunOptions{})
	assert.Equal(t, reverseetl.Failed, r.Status)
	assert.Contains(t, r.Error, "the warehouse state cannot keep")

	c, snk, st = editRun(t)
	snk.track = false
	on := true
	c.spec.Mapping[1].KeepHumanEdits = &on
	r = c.runWith(t, snk, st, reverseetl.RunOptions{})
	assert.Equal(t, reverseetl.Failed, r.Status)
	assert.Contains(t, r.Error, `keep_human_edits: destination type "mem" does not keep edits`)
}
