package reverseetl_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
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
	"github.com/retl-go/retl/source"
	memsource "github.com/retl-go/retl/source/memory"
	"github.com/retl-go/retl/transform"
)

// memState is a StateStore in memory that counts its calls and can fail.
type memState struct {
	mu         sync.Mutex
	rows       map[string]map[string]reverseetl.StateRow
	runs       map[string]string // sync/key → run id
	lookups    int
	keysLooked int
	failLookup error
	failSave   error
}

func newMemState() *memState {
	return &memState{rows: map[string]map[string]reverseetl.StateRow{}, runs: map[string]string{}}
}

func (m *memState) StoredHashes(ctx context.Context, syncName string, keys []string) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failLookup != nil {
		return nil, m.failLookup
	}
	m.lookups++
	m.keysLooked += len(keys)
	out := map[string]string{}
	for _, k := range keys {
		if r, ok := m.rows[syncName][k]; ok {
			out[k] = r.Hash
		}
	}
	return out, nil
}

func (m *memState) SaveState(ctx context.Context, runID, syncName string, rows []reverseetl.StateRow) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failSave != nil {
		return m.failSave
	}
	if m.rows[syncName] == nil {
		m.rows[syncName] = map[string]reverseetl.StateRow{}
	}
	for _, r := range rows {
		m.rows[syncName][r.Key] = r
		m.runs[syncName+"/"+r.Key] = runID
	}
	return nil
}

func (m *memState) count(syncName string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rows[syncName])
}

// countingSink stays open across runs and counts the records sent to it.
type countingSink struct {
	*memory.Sink
	sent    atomic.Int64
	planned atomic.Int64
	keys    sync.Map
}

func newCountingSink() *countingSink { return &countingSink{Sink: memory.New("Ext")} }

func (c *countingSink) Write(ctx context.Context, recs []sink.Record) ([]sink.Result, error) {
	c.sent.Add(int64(len(recs)))
	for _, r := range recs {
		c.keys.Store(r.Key, true)
	}
	return c.Sink.Write(ctx, recs)
}

func (c *countingSink) Close(context.Context) error { return nil }

// Plan answers that every record would be updated, and writes nothing.
func (c *countingSink) Plan(_ context.Context, recs []sink.Record) ([]sink.Result, error) {
	c.planned.Add(int64(len(recs)))
	return make([]sink.Result, len(recs)), nil
}

// take returns the records sent since the last call and forgets them.
func (c *countingSink) take() (int64, []string) {
	var keys []string
	c.keys.Range(func(k, _ any) bool {
		keys = append(keys, k.(string))
		c.keys.Delete(k)
		return true
	})
	slices.Sort(keys)
	return c.sent.Swap(0), keys
}

func cdSpec(name string) *config.Sync {
	s := spec(name)
	s.ChangeDetection = &config.ChangeDetection{Key: "ID"}
	return s
}

type cdRun struct {
	f     *fixture
	state *memState
	snk   *countingSink
	spec  *config.Sync
	data  [][]any
}

func newCDRun(n int) *cdRun {
	c := &cdRun{f: newFixture(), state: newMemState(), snk: newCountingSink(), spec: cdSpec("s"), data: rows(n)}
	return c
}

func (c *cdRun) run(t *testing.T, opts reverseetl.RunOptions, eopts ...reverseetl.Option) *reverseetl.SyncReport {
	t.Helper()
	data := make([][]any, len(c.data))
	for i, r := range c.data {
		data[i] = slices.Clone(r)
	}
	c.f.sources["s"] = memsource.New([]string{"ID", "NAME"}, data)
	c.f.sinks["s"] = c.snk
	eopts = append([]reverseetl.Option{reverseetl.WithState(c.state)}, eopts...)
	rep, err := c.f.engine(eopts...).Run(context.Background(), &config.Project{Syncs: []*config.Sync{c.spec}}, opts)
	require.NoError(t, err)
	r := rep.Sync("s")
	require.NotNil(t, r)
	assert.True(t, r.Accounted(), "%+v", r)
	return r
}

func TestSecondRunSendsNothing(t *testing.T) {
	c := newCDRun(2500)
	r := c.run(t, reverseetl.RunOptions{})
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	assert.Equal(t, int64(2500), r.Created)
	assert.Zero(t, r.Unchanged)
	sent, _ := c.snk.take()
	assert.Equal(t, int64(2500), sent)
	assert.Equal(t, 2500, c.state.count("s"))
	assert.Equal(t, c.snk.Rows()["K0"]["Id"], c.state.rows["s"]["K0"].ID, "the destination's id is kept")

	r = c.run(t, reverseetl.RunOptions{})
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	sent, _ = c.snk.take()
	assert.Zero(t, sent)
	assert.Equal(t, int64(2500), r.Read)
	assert.Equal(t, int64(2500), r.Unchanged)
	assert.Equal(t, int64(2500), r.Skipped)
	assert.Zero(t, r.UnchangedNotRead)
	assert.Equal(t, map[sink.SkipCode]int64{sink.SkipUnchanged: 2500}, r.SkipReasons)
	assert.False(t, r.WritebackFailed)
	// Look-ups go in bounded groups, never the whole state at once.
	assert.Equal(t, 6, c.state.lookups, "3 per run of 2500 rows")
}

func TestChangedRowsAloneAreSent(t *testing.T) {
	c := newCDRun(1000)
	c.run(t, reverseetl.RunOptions{})
	c.snk.take()
	var want []string
	for i := 0; i < 1000; i += 100 {
		c.data[i][1] = "renamed"
		want = append(want, fmt.Sprintf("K%d", i))
	}
	slices.Sort(want)
	r := c.run(t, reverseetl.RunOptions{})
	sent, keys := c.snk.take()
	assert.Equal(t, int64(10), sent)
	assert.Equal(t, want, keys)
	assert.Equal(t, int64(10), r.Updated)
	assert.Equal(t, int64(990), r.Unchanged)
}

func TestRejectedRowIsSentAgain(t *testing.T) {
	c := newCDRun(50)
	reject := true
	c.snk.Reject = func(r *sink.Record) *sink.RecordError {
		if reject && r.Key == "K7" {
			return &sink.RecordError{Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: "no"}
		}
		return nil
	}
	r := c.run(t, reverseetl.RunOptions{})
	assert.Equal(t, int64(1), r.Failed)
	c.snk.take()
	_, stored := c.state.rows["s"]["K7"]
	assert.False(t, stored, "a failed row keeps no state")

	reject = false
	r = c.run(t, reverseetl.RunOptions{})
	sent, keys := c.snk.take()
	assert.Equal(t, int64(1), sent)
	assert.Equal(t, []string{"K7"}, keys)
	assert.Equal(t, int64(49), r.Unchanged)
	assert.Equal(t, reverseetl.Succeeded, r.Status)
}

func TestMappingChangeResendsAll(t *testing.T) {
	c := newCDRun(300)
	c.run(t, reverseetl.RunOptions{})
	c.snk.take()
	c.spec.Mapping[1] = &config.Mapping{From: "NAME", To: "Description"}
	r := c.run(t, reverseetl.RunOptions{})
	sent, _ := c.snk.take()
	assert.Equal(t, int64(300), sent)
	assert.Zero(t, r.Unchanged)

	// The destination's identity counts as part of the mapping.
	c.snk.Identity = "upsert Contact"
	c.run(t, reverseetl.RunOptions{})
	sent, _ = c.snk.take()
	assert.Equal(t, int64(300), sent)
}

func TestFullResendsAllAndSavesState(t *testing.T) {
	c := newCDRun(300)
	c.run(t, reverseetl.RunOptions{})
	c.snk.take()
	lookups := c.state.lookups
	r := c.run(t, reverseetl.RunOptions{Full: true}, reverseetl.WithRunID("full-run"))
	sent, _ := c.snk.take()
	assert.Equal(t, int64(300), sent)
	assert.Zero(t, r.Unchanged)
	assert.Equal(t, lookups, c.state.lookups, "--full reads no state")
	assert.Equal(t, "full-run", c.state.runs["s/K0"], "--full still saves the state")

	r = c.run(t, reverseetl.RunOptions{})
	assert.Equal(t, int64(300), r.Unchanged)
}

func TestPlanCountsUnchangedAndSavesNothing(t *testing.T) {
	c := newCDRun(100)
	c.run(t, reverseetl.RunOptions{})
	c.snk.take()
	c.data[3][1] = "renamed"
	r := c.run(t, reverseetl.RunOptions{Plan: true}, reverseetl.WithRunID("plan"))
	assert.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	assert.Equal(t, int64(99), r.Unchanged)
	assert.Equal(t, int64(1), r.Updated)
	assert.Equal(t, int64(1), c.snk.planned.Load())
	for k, run := range c.state.runs {
		assert.NotEqual(t, "plan", run, k)
	}
	// The plan did not save the change: a run still sends it.
	r = c.run(t, reverseetl.RunOptions{})
	sent, keys := c.snk.take()
	assert.Equal(t, int64(1), sent)
	assert.Equal(t, []string{"K3"}, keys)
	assert.Equal(t, int64(99), r.Unchanged)
}

func TestDuplicateAndNullKeys(t *testing.T) {
	c := newCDRun(10)
	c.data[4][0] = nil
	c.data[5][0] = "K6" // K6 twice
	c.run(t, reverseetl.RunOptions{})
	c.snk.take()
	assert.Equal(t, 8, c.state.count("s"), "a NULL key keeps no state, a duplicate one entry")
	r := c.run(t, reverseetl.RunOptions{})
	sent, _ := c.snk.take()
	assert.Equal(t, int64(1), sent, "the row with no key is always sent")
	assert.Equal(t, int64(9), r.Unchanged)
}

func TestSinkSkipsKeepNoState(t *testing.T) {
	c := newCDRun(5)
	c.f.sources["s"] = memsource.New([]string{"ID", "NAME"}, c.data)
	skipper := &skippingSink{countingSink: c.snk}
	c.snk = skipper.countingSink
	c.f.reg.RegisterSink("skips", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) { return skipper, nil })
	c.spec.Destination.Type = "skips"
	r := c.run(t, reverseetl.RunOptions{})
	assert.Equal(t, int64(5), r.Skipped)
	assert.Zero(t, c.state.count("s"))
}

// A record the destination reports unchanged holds the row's values: its
// state is saved as for a written record, so the next run does not send it.
func TestSinkUnchangedKeepsState(t *testing.T) {
	c := newCDRun(5)
	c.f.sources["s"] = memsource.New([]string{"ID", "NAME"}, c.data)
	skipper := &skippingSink{countingSink: c.snk, reason: sink.SkipUnchanged}
	c.snk = skipper.countingSink
	c.f.reg.RegisterSink("skips", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) { return skipper, nil })
	c.spec.Destination.Type = "skips"
	r := c.run(t, reverseetl.RunOptions{})
	assert.Equal(t, int64(5), r.Unchanged)
	assert.Equal(t, int64(5), skipper.got.Load())
	assert.Equal(t, 5, c.state.count("s"))
	r = c.run(t, reverseetl.RunOptions{})
	assert.Equal(t, int64(5), r.Unchanged)
	assert.Equal(t, int64(5), skipper.got.Load(), "the second run sends nothing")
}

type skippingSink struct {
	*countingSink
	reason sink.SkipCode
	got    atomic.Int64
}

func (s *skippingSink) Write(_ context.Context, recs []sink.Record) ([]sink.Result, error) {
	s.got.Add(int64(len(recs)))
	out := make([]sink.Result, len(recs))
	for i := range out {
		out[i].Skipped = cmp.Or(s.reason, sink.SkipNotFound)
	}
	return out, nil
}

func TestNoStateFailsTheSync(t *testing.T) {
	f := newFixture()
	f.sources["s"] = memsource.New([]string{"ID", "NAME"}, rows(5))
	f.sinks["s"] = memory.New("Ext")
	rep, err := f.engine().Run(context.Background(), &config.Project{Syncs: []*config.Sync{cdSpec("s")}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	assert.Equal(t, reverseetl.Failed, r.Status)
	assert.Contains(t, r.Error, "change_detection needs the warehouse state")
}

func TestMissingKeyColumnFailsTheSync(t *testing.T) {
	c := newCDRun(5)
	c.spec.ChangeDetection.Key = "NOPE"
	r := c.run(t, reverseetl.RunOptions{})
	assert.Equal(t, reverseetl.Failed, r.Status)
	assert.Contains(t, r.Error, `key: column "NOPE" not in the query's result (columns: ID, NAME)`)
	assert.Equal(t, int64(5), r.Read)
	assert.Equal(t, int64(5), r.Skipped)
	sent, _ := c.snk.take()
	assert.Zero(t, sent)
}

func TestKeyColumnMatchesWithoutCase(t *testing.T) {
	c := newCDRun(5)
	c.spec.ChangeDetection.Key = "id"
	c.run(t, reverseetl.RunOptions{})
	assert.Equal(t, 5, c.state.count("s"))
}

func TestStateReadFailureSendsEverything(t *testing.T) {
	c := newCDRun(20)
	c.run(t, reverseetl.RunOptions{})
	c.snk.take()
	c.state.failLookup = errors.New("warehouse unreachable")
	r := c.run(t, reverseetl.RunOptions{})
	sent, _ := c.snk.take()
	assert.Equal(t, int64(20), sent)
	assert.Equal(t, reverseetl.Succeeded, r.Status)
	assert.True(t, r.WritebackFailed)
	assert.Equal(t, []string{"reading change-detection state: warehouse unreachable (rows are sent as changed)"}, r.Warnings)
}

func TestStateSaveFailureKeepsOutcomesAndResends(t *testing.T) {
	c := newCDRun(20)
	c.state.failSave = errors.New("insufficient privileges")
	r := c.run(t, reverseetl.RunOptions{})
	assert.Equal(t, reverseetl.Succeeded, r.Status)
	assert.Equal(t, int64(20), r.Created)
	assert.True(t, r.WritebackFailed)
	require.Len(t, r.Warnings, 1)
	assert.Contains(t, r.Warnings[0], "saving change-detection state: insufficient privileges")
	c.snk.take()

	c.state.failSave = nil
	r = c.run(t, reverseetl.RunOptions{})
	sent, _ := c.snk.take()
	assert.Equal(t, int64(20), sent, "rows whose state was not saved go again")
	assert.False(t, r.WritebackFailed)
}

func TestReportWritebackFailed(t *testing.T) {
	rep := &reverseetl.Report{Syncs: []*reverseetl.SyncReport{{Name: "a"}, {Name: "b"}}}
	assert.False(t, rep.WritebackFailed())
	rep.Syncs[1].WritebackFailed = true
	assert.True(t, rep.WritebackFailed())
}

// stopper fails the sync with a CompileError at row n, while earlier rows
// are still held for their look-up.
type stopper struct {
	*passthrough
	n, seen int
}

func (s *stopper) Transform(row transform.Row) (sink.Record, error) {
	s.seen++
	if s.seen == s.n {
		return sink.Record{}, &transform.CompileError{Key: "mapping", Msg: "stop"}
	}
	return s.passthrough.Transform(row)
}

func TestHeldRecordsGetAnOutcomeWhenTheSyncStops(t *testing.T) {
	c := newCDRun(600)
	r := c.run(t, reverseetl.RunOptions{}, reverseetl.WithTransformerFactory(func(s *config.Sync) (transform.Transformer, error) {
		p, err := newPassthrough(s)
		return &stopper{passthrough: p.(*passthrough), n: 300}, err
	}))
	assert.Equal(t, reverseetl.Failed, r.Status)
	assert.Equal(t, int64(600), r.Read)
	assert.Equal(t, int64(1), r.Failed)
	assert.Equal(t, int64(599), r.Skipped)
	sent, _ := c.snk.take()
	assert.Zero(t, sent)
}

// rewriting is a source that runs a "query": it records the query it is
// given and answers the rows the test sets for it.
type rewriting struct {
	memsource.Source
	query string
}

func (r *rewriting) Query() string         { return r.query }
func (r *rewriting) SetQuery(query string) { r.query = query }

// pushdownState compares "in the warehouse": WrapQuery marks the query.
type pushdownState struct {
	*memState
	asked   []reverseetl.ChangeQuery
	refuse  bool
	wrapErr error
}

func (p *pushdownState) WrapQuery(_ context.Context, q reverseetl.ChangeQuery) (string, bool, error) {
	p.asked = append(p.asked, q)
	if p.wrapErr != nil {
		return "", false, p.wrapErr
	}
	if p.refuse {
		return "", false, nil
	}
	return "WRAPPED(" + q.Query + ")", true, nil
}

func TestPushdownReadsOnlyChangedRows(t *testing.T) {
	f := newFixture()
	st := &pushdownState{memState: newMemState()}
	src := &rewriting{query: "select * from t"}
	// Two changed rows, with the warehouse's columns, after which the
	// transformer must not see them; 98 rows stayed in the warehouse.
	src.Columns = []string{"ID", "NAME", reverseetl.HashColumn, reverseetl.KeyColumn, "__RETL_OLD", reverseetl.UnchangedColumn}
	src.Rows = [][]any{
		{"K1", "a", "h1", "K1", nil, int64(98)},
		{"K2", "b", "h2", "K2", "old", int64(98)},
	}
	f.sources["s"] = src
	snk := newCountingSink()
	f.sinks["s"] = snk
	s := cdSpec("s")
	s.Source.Connection = "warehouse"
	var seen [][]string
	tf := func(sp *config.Sync) (transform.Transformer, error) {
		p, err := newPassthrough(sp)
		return &colSpy{passthrough: p.(*passthrough), seen: &seen}, err
	}
	rep, err := f.engine(reverseetl.WithState(st), reverseetl.WithTransformerFactory(tf)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{s}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	assert.Equal(t, "WRAPPED(select * from t)", src.query)
	require.Len(t, st.asked, 1)
	assert.Equal(t, reverseetl.ChangeQuery{Sync: "s", Connection: "warehouse", Query: "select * from t", KeyColumn: "ID",
		Fingerprint: reverseetl.Fingerprint(s, "")}, st.asked[0])
	assert.Equal(t, int64(2), r.Read)
	assert.Equal(t, int64(2), r.Created)
	assert.Equal(t, int64(98), r.Unchanged)
	assert.Equal(t, int64(98), r.UnchangedNotRead)
	assert.Zero(t, r.Skipped)
	assert.True(t, r.Accounted())
	assert.Equal(t, [][]string{{"ID", "NAME"}, {"ID", "NAME"}}, seen)
	assert.Equal(t, "h1", st.rows["s"]["K1"].Hash)
	assert.Equal(t, "h2", st.rows["s"]["K2"].Hash)
	assert.Zero(t, st.lookups, "the warehouse compared")
}

func TestPushdownWithNothingChanged(t *testing.T) {
	f := newFixture()
	st := &pushdownState{memState: newMemState()}
	src := &rewriting{query: "q"}
	// The added columns need not come last.
	src.Columns = []string{reverseetl.HashColumn, "ID", reverseetl.KeyColumn, "NAME", reverseetl.UnchangedColumn}
	src.Rows = [][]any{{nil, nil, nil, nil, int64(500)}}
	f.sources["s"] = src
	f.sinks["s"] = newCountingSink()
	rep, err := f.engine(reverseetl.WithState(st)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{cdSpec("s")}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	assert.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	assert.Zero(t, r.Read)
	assert.Equal(t, int64(500), r.Unchanged)

	// Columns out of order are copied without the added ones.
	src.Rows = [][]any{{"h9", "K9", "K9", "n", int64(0)}}
	f.sinks["s"] = newCountingSink()
	rep, err = f.engine(reverseetl.WithState(st)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{cdSpec("s")}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r = rep.Sync("s")
	assert.Equal(t, int64(1), r.Created)
	assert.Equal(t, "h9", st.rows["s"]["K9"].Hash)
}

func TestPushdownMissingColumnsFailTheSync(t *testing.T) {
	f := newFixture()
	st := &pushdownState{memState: newMemState()}
	src := &rewriting{query: "q"}
	src.Columns = []string{"ID", "NAME"}
	src.Rows = rows(3)
	f.sources["s"] = src
	f.sinks["s"] = newCountingSink()
	rep, err := f.engine(reverseetl.WithState(st)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{cdSpec("s")}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	assert.Equal(t, reverseetl.Failed, r.Status)
	assert.Contains(t, r.Error, "the warehouse's result lacks __RETL_HASH")
	assert.True(t, r.Accounted())
	assert.Equal(t, int64(3), r.Skipped)
}

func TestPushdownRefusedOrFailingComparesInRetl(t *testing.T) {
	for _, tc := range []struct {
		name    string
		st      *pushdownState
		warning string
	}{
		{"refused", &pushdownState{memState: newMemState(), refuse: true}, ""},
		{"failing", &pushdownState{memState: newMemState(), wrapErr: errors.New("no such schema")}, "change detection in the warehouse: no such schema"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			src := &rewriting{query: "q"}
			src.Columns = []string{"ID", "NAME"}
			src.Rows = rows(3)
			f.sources["s"] = src
			f.sinks["s"] = newCountingSink()
			rep, err := f.engine(reverseetl.WithState(tc.st)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{cdSpec("s")}}, reverseetl.RunOptions{Full: true})
			require.NoError(t, err)
			r := rep.Sync("s")
			assert.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
			assert.Equal(t, "q", src.query)
			assert.True(t, tc.st.asked[0].Full)
			assert.Equal(t, 3, tc.st.count("s"))
			if tc.warning == "" {
				assert.Empty(t, r.Warnings)
				assert.False(t, r.WritebackFailed)
			} else {
				assert.Equal(t, []string{tc.warning}, r.Warnings)
				assert.True(t, r.WritebackFailed)
			}
		})
	}
}

type colSpy struct {
	*passthrough
	mu   sync.Mutex
	seen *[][]string
}

func (c *colSpy) Transform(row transform.Row) (sink.Record, error) {
	c.mu.Lock()
	*c.seen = append(*c.seen, slices.Clone(row.Columns))
	c.mu.Unlock()
	return c.passthrough.Transform(row)
}

func TestFingerprintFollowsWhatIsSent(t *testing.T) {
	const id = "upsert Account by External_Id__c"
	base := cdSpec("s")
	fp := reverseetl.Fingerprint(base, id)
	assert.Len(t, fp, 32)
	assert.Equal(t, fp, reverseetl.Fingerprint(cdSpec("s"), id), "stable")
	other := cdSpec("other")
	assert.Equal(t, fp, reverseetl.Fingerprint(other, id), "the name is not part of it: state is kept per sync anyway")

	changes := map[string]func(s *config.Sync) string{
		"mapping target": func(s *config.Sync) string { s.Mapping[1].To = "Other"; return id },
		"constant": func(s *config.Sync) string {
			s.Mapping = append(s.Mapping, &config.Mapping{To: "X", Value: 1, HasValue: true})
			return id
		},
		"constant type": func(s *config.Sync) string {
			s.Mapping = append(s.Mapping, &config.Mapping{To: "X", Value: "1", HasValue: true})
			return id
		},
		"set_if_empty":         func(s *config.Sync) string { s.Mapping[1].SetIfEmpty = true; return id },
		"truncate":             func(s *config.Sync) string { s.Mapping[1].Truncate = true; return id },
		"destination identity": func(*config.Sync) string { return "upsert Lead by External_Id__c" },
		"destination type":     func(s *config.Sync) string { s.Destination.Type = "other"; return id },
		"filter":               func(s *config.Sync) string { s.Filter = "NAME != ''"; return id },
		"null policy":          func(s *config.Sync) string { s.NullPolicy = config.NullIgnore; return id },
		"change key":           func(s *config.Sync) string { s.ChangeDetection.Key = "NAME"; return id },
	}
	seen := map[string]string{"base": fp}
	for name, change := range changes {
		s := cdSpec("s")
		got := reverseetl.Fingerprint(s, change(s))
		for prev, p := range seen {
			assert.NotEqual(t, p, got, "%s and %s", name, prev)
		}
		seen[name] = got
	}
}

func TestRecordHash(t *testing.T) {
	l := sink.NewLayout([]string{"A", "B"}, nil)
	h := func(fp string, vals ...sink.Value) string {
		return reverseetl.RecordHash(fp, &sink.Record{Layout: l, Values: vals})
	}
	base := h("fp", sink.TextValue("x"), sink.NumberValue("1"))
	assert.Len(t, base, 64)
	assert.Equal(t, base, h("fp", sink.TextValue("x"), sink.NumberValue("1")))
	assert.NotEqual(t, base, h("fp2", sink.TextValue("x"), sink.NumberValue("1")), "fingerprint")
	assert.NotEqual(t, base, h("fp", sink.TextValue("x"), sink.TextValue("1")), "kind")
	assert.NotEqual(t, base, h("fp", sink.TextValue("x1"), sink.NumberValue("")), "boundaries")
	assert.NotEqual(t, h("fp", sink.NullValue(), sink.Value{}), h("fp", sink.Value{}, sink.Value{}), "null is not absent")
	assert.Equal(t, h("fp", sink.TextValue("x")), h("fp", sink.TextValue("x"), sink.Value{}), "missing values are absent")
}

func TestKeyText(t *testing.T) {
	ts := time.Date(2024, 5, 1, 12, 0, 0, 5, time.FixedZone("x", 3600))
	for _, c := range []struct {
		v    any
		want string
	}{
		{nil, ""}, {"a", "a"}, {int64(-4), "-4"}, {1.5, "1.5"}, {true, "true"},
		{source.Decimal("1.50"), "1.50"}, {source.Date("2024-05-01"), "2024-05-01"},
		{source.TimeOfDay("10:00:00"), "10:00:00"}, {source.JSON(`{"a":1}`), `{"a":1}`},
		{ts, "2024-05-01T11:00:00.000000005Z"}, {[]byte{0xab, 1}, "ab01"}, {int32(3), "3"},
		{&source.ValueError{Column: "K", Type: "DATE", Raw: "2024-13-45"}, "2024-13-45"},
	} {
		assert.Equal(t, c.want, reverseetl.KeyText(c.v), "%T", c.v)
	}
	assert.Equal(t, "123456789012345678901234567890", reverseetl.KeyText(mustBig("123456789012345678901234567890")))
}

func mustBig(s string) any {
	var b big.Int
	b.SetString(s, 10)
	return &b
}

func TestUnchangedFromTheSinkIsCounted(t *testing.T) {
	// A sink that answers unchanged (a plan) is counted the same way.
	f := newFixture()
	f.sources["s"] = memsource.New([]string{"ID", "NAME"}, rows(4))
	f.reg.RegisterSink("same", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) { return &sameSink{}, nil })
	s := spec("s")
	s.Destination.Type = "same"
	rep, err := f.engine().Run(context.Background(), &config.Project{Syncs: []*config.Sync{s}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, int64(4), rep.Sync("s").Unchanged)
	assert.Equal(t, int64(4), rep.Sync("s").Skipped)
}

type sameSink struct{ memory.Sink }

func (*sameSink) Write(_ context.Context, recs []sink.Record) ([]sink.Result, error) {
	out := make([]sink.Result, len(recs))
	for i := range out {
		out[i].Skipped = sink.SkipUnchanged
	}
	return out, nil
}

func TestRowsWithoutKeysNeedNoLookup(t *testing.T) {
	c := newCDRun(3)
	for _, r := range c.data {
		r[0] = nil
	}
	c.run(t, reverseetl.RunOptions{})
	c.run(t, reverseetl.RunOptions{})
	sent, _ := c.snk.take()
	assert.Equal(t, int64(6), sent)
	assert.Zero(t, c.state.lookups)
}

type hintFails struct{ *countingSink }

func (h *hintFails) Hint(context.Context, sink.Hint) error { return errors.New("no API fits") }

func TestHintErrorAfterLookupStopsTheSync(t *testing.T) {
	c := newCDRun(1200)
	h := &hintFails{countingSink: c.snk}
	c.f.reg.RegisterSink("hintfails", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) { return h, nil })
	c.spec.Destination.Type = "hintfails"
	r := c.run(t, reverseetl.RunOptions{})
	assert.Equal(t, reverseetl.Failed, r.Status)
	assert.Contains(t, r.Error, "hint: no API fits")
	assert.Equal(t, int64(1200), r.Skipped)
	sent, _ := c.snk.take()
	assert.Zero(t, sent)
}
