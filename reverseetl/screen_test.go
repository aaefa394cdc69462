package reverseetl_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	memsource "github.com/retl-go/retl/source/memory"
)

// screenSink is a memory sink that screens records: it holds back every
// record whose name is "hold" (failed) or "pass" (skipped), and notes the
// order in which it saw batches.
type screenSink struct {
	memory.Sink
	mu    sync.Mutex
	seen  []int64
	err   error
	short bool
	count bool
	// calls counts Screen calls; err and short apply from the second.
	calls int
}

func (s *screenSink) Screen(_ context.Context, recs []sink.Record) ([]sink.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil && s.calls > 1 {
		return nil, s.err
	}
	if s.short && s.calls > 1 {
		return make([]sink.Result, len(recs)-1), nil
	}
	var out []sink.Result
	for i, r := range recs {
		s.seen = append(s.seen, r.Seq)
		v, _ := r.Get("Name")
		var res sink.Result
		switch v.S {
		case "hold":
			res.Err = &sink.RecordError{Code: "HELD", Message: "held back"}
		case "pass":
			res.Skipped = "passed over"
		default:
			continue
		}
		if out == nil {
			out = make([]sink.Result, len(recs))
		}
		out[i] = res
	}
	return out, nil
}

func (s *screenSink) CountFirst() bool { return s.count }

func screenRows(n int, names map[int]string) [][]any {
	out := rows(n)
	for i, name := range names {
		out[i][1] = name
	}
	return out
}

func TestScreenerHoldsBackRecordsInInputOrder(t *testing.T) {
	for _, count := range []bool{false, true} {
		t.Run(map[bool]string{false: "streamed", true: "counted first"}[count], func(t *testing.T) {
			f := newFixture()
			snk := &screenSink{Sink: memory.Sink{KeyField: "Ext", BatchSize: 100, Concurrency: 4}, count: count}
			f.sinks["s"] = snk
			f.sources["s"] = memsource.New([]string{"ID", "NAME"}, screenRows(1000, map[int]string{3: "hold", 500: "pass", 999: "hold"}))
			obs := &recorderObserver{}
			rep, err := f.engine(reverseetl.WithObserver(obs)).Run(context.Background(),
				&config.Project{Syncs: []*config.Sync{spec("s")}}, reverseetl.RunOptions{})
			require.NoError(t, err)
			sr := rep.Sync("s")
			assert.True(t, sr.Accounted(), "%+v", sr)
			assert.Equal(t, int64(997), sr.Created)
			assert.Equal(t, int64(2), sr.Failed)
			assert.Equal(t, int64(1), sr.Skipped)
			assert.Equal(t, map[sink.SkipCode]int64{"passed over": 1}, sr.SkipReasons)
			assert.Len(t, snk.Rows(), 997, "held-back records never reach Write")
			for i := 1; i < len(snk.seen); i++ {
				require.Less(t, snk.seen[i-1], snk.seen[i], "batches are screened in input order")
			}
			assert.Len(t, snk.seen, 1000)
			var held []string
			for _, o := range obs.outcomes["s"] {
				if o.Kind == reverseetl.RowFailed {
					held = append(held, o.Key+" "+o.Err.Code)
				}
			}
			assert.ElementsMatch(t, []string{"K3 HELD", "K999 HELD"}, held)
		})
	}
}

func TestScreenerErrorsStopTheSync(t *testing.T) {
	for _, count := range []bool{false, true} {
		for _, short := range []bool{false, true} {
			name := map[bool]string{false: "error", true: "wrong number of results"}[short] + map[bool]string{false: "", true: ", counted first"}[count]
			t.Run(name, func(t *testing.T) {
				f := newFixture()
				snk := &screenSink{Sink: memory.Sink{KeyField: "Ext", BatchSize: 100, Concurrency: 1}, count: count, short: short}
				if !short {
					snk.err = errors.New("describe failed")
				}
				f.sinks["s"] = snk
				f.sources["s"] = memsource.New([]string{"ID", "NAME"}, rows(300))
				rep, err := f.engine().Run(context.Background(), &config.Project{Syncs: []*config.Sync{spec("s")}}, reverseetl.RunOptions{})
				require.NoError(t, err)
				sr := rep.Sync("s")
				assert.Equal(t, reverseetl.Failed, sr.Status)
				assert.True(t, sr.Accounted(), "%+v", sr)
				if short {
					assert.Contains(t, sr.Error, "screen: the sink returned 99 results for 100 records")
					require.NotEmpty(t, sr.FailedRows)
					assert.Equal(t, reverseetl.CodeSinkResult, sr.FailedRows[0].Err.Code)
				} else {
					assert.Contains(t, sr.Error, "screen: describe failed")
					for reason := range sr.SkipReasons {
						assert.Equal(t, sink.SkipNotSent, reason)
					}
				}
				if count {
					assert.Empty(t, snk.Rows(), "a counted sync sends nothing once a screen failed")
				} else {
					assert.LessOrEqual(t, len(snk.Rows()), 100, "only the batch screened before the failure may be written")
				}
			})
		}
	}
}
