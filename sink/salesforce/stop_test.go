package salesforce

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
	"github.com/retl-go/retl/source"
	"github.com/retl-go/retl/source/memory"
)

// stoppedRun runs one sync through the Engine against srv, cancelling the
// run as the first request matching stop leaves the client (none when
// stop.path is ""), with the warehouse state st.
func stoppedRun(t *testing.T, srv *sftest.Server, rows table, sync string, st reverseetl.StateStore, stop cancelOn) (*reverseetl.SyncReport, *outcomeLog) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stop.cancel, stop.base = cancel, http.DefaultTransport
	reg := reverseetl.NewRegistry()
	reg.RegisterSink("salesforce", func(ctx context.Context, b reverseetl.BuildContext) (sink.Sink, error) {
		k, err := New(ctx, b)
		if s, ok := k.(*sfSink); ok {
			s.dest.Options.lockBackoff = time.Millisecond
			if stop.path != "" {
				s.c.http = &http.Client{Transport: &stop}
			}
		}
		return k, err
	})
	reg.RegisterSource("rows", func(context.Context, reverseetl.BuildContext) (source.Source, error) {
		return &memory.Source{Columns: rows.cols, Rows: rows.rows, BatchSize: 100}, nil
	})
	r := &engineRun{srv: srv}
	p, err := config.Parse(ctx, "retl.yaml", []byte(r.project()), map[string][]byte{"configs/s.yaml": []byte(sync)})
	require.NoError(t, err)
	log := &outcomeLog{rows: map[string]string{}, kept: map[string][]string{}}
	rep, err := reverseetl.New(reg, reverseetl.WithLogger(quiet), reverseetl.WithObserver(log), reverseetl.WithState(st)).Run(ctx, p, reverseetl.RunOptions{})
	require.NoError(t, err)
	require.Len(t, rep.Syncs, 1)
	require.True(t, rep.Syncs[0].Accounted(), "%+v", rep.Syncs[0])
	return rep.Syncs[0], log
}

// A run stopped at any stage reports exactly what Salesforce holds: every
// record it holds is reported written (or, for an answer that never came,
// unknown), every row reported not sent is absent, and the next run
// writes the rest once, with no duplicate and nothing lost.
func TestStoppedRunReportsWhatSalesforceHolds(t *testing.T) {
	stages := []struct {
		api, name string
		stop      cancelOn
	}{
		{APIBulk, "before the first job", cancelOn{method: "POST", path: "/jobs/ingest"}},
		{APIBulk, "during an upload", cancelOn{method: "PUT", path: "/batches"}},
		{APIBulk, "while a job processes", cancelOn{method: "GET", path: "/jobs/ingest/7"}},
		{APIBulk, "while results download", cancelOn{method: "GET", path: "/successfulResults"}},
		{APIREST, "with calls in flight", cancelOn{method: "POST", path: "/composite/sobjects"}},
	}
	for _, op := range []string{"insert", "upsert"} {
		for _, st := range stages {
			t.Run(op+"/"+st.api+"/"+st.name, func(t *testing.T) {
				srv := emulator(t, sftest.WithBulkDelay(0, 200*time.Microsecond))
				rows := table{cols: []string{"K"}}
				for i := range 600 {
					rows.rows = append(rows.rows, []any{fmt.Sprintf("K-%03d", i)})
				}
				ext := ""
				if op == "upsert" {
					ext = "External_Id__c"
					if st.stop.path == "/composite/sobjects" {
						st.stop.method = "PATCH"
					}
				}
				sync := syncFile("Account", op, ext, st.api, "  bulk_batch_size: 200\n  max_jobs_in_flight: 2\n  rest_concurrency: 2\n",
					"  - {from: K, to: External_Id__c}\n  - {from: K, to: Name}\n") + "change_detection: true\n"
				store := stateStore(t)

				rep, log := stoppedRun(t, srv, rows, sync, store, st.stop)
				assert.Equal(t, reverseetl.Cancelled, rep.Status)
				held := byExt(srv, "Account")
				unknown := 0
				for k, v := range log.rows {
					switch v {
					case "created", "updated":
						assert.Contains(t, held, k, "a row reported written is in Salesforce")
					case "failed " + CodeOutcomeUnknown:
						unknown++
					default:
						assert.NotContains(t, held, k, "a row reported %q is not in Salesforce", v)
					}
				}
				written := int(rep.Created + rep.Updated)
				assert.GreaterOrEqual(t, len(held), written)
				assert.LessOrEqual(t, len(held), written+unknown, "Salesforce holds what was reported written, plus at most the unknowns")
				t.Logf("stopped %s: written %d, unknown %d, held %d, skipped %v", st.name, written, unknown, len(held), rep.SkipReasons)

				// The next run, not stopped, writes the rest once.
				again, _ := stoppedRun(t, srv, rows, sync, store, cancelOn{})
				assert.Equal(t, reverseetl.Succeeded, again.Status, again.Error)
				assert.Len(t, live(srv, "Account"), 600, "no duplicate, nothing lost")
				assert.Len(t, byExt(srv, "Account"), 600)
			})
		}
	}
}

// An insert whose answer was lost is looked up by its unique external id:
// written when Salesforce holds it, known not written when it does not.
// Without such a field the outcome stays unknown.
func TestLostInsertAnswersAreLookedUp(t *testing.T) {
	layout := sink.NewLayout([]string{"External_Id__c", "Name"}, nil)
	cases := []struct {
		name  string
		fault sftest.Fault
		want  func(t *testing.T, r sink.Result)
		held  int
	}{
		{"answer dropped after the save", sftest.Fault{Kind: sftest.FaultDropResponse, Method: "POST", Path: "/composite/sobjects"},
			func(t *testing.T, r sink.Result) {
				assert.Nil(t, r.Err)
				assert.True(t, r.Created)
				assert.Len(t, r.ID, 18)
			}, 2},
		{"request dropped before the save", sftest.Fault{Kind: sftest.FaultDropRequest, Method: "POST", Path: "/composite/sobjects"},
			func(t *testing.T, r sink.Result) {
				require.NotNil(t, r.Err)
				assert.Equal(t, CodeRequestFailed, r.Err.Code)
				assert.Contains(t, r.Err.Message, "it was not written")
			}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := emulator(t)
			s := emuSink(t, emuClient(t, srv), "Account", Insert, "", fastOptions(APIREST))
			require.NoError(t, s.Preflight(context.Background(), layout))
			c.fault.Times = 1
			srv.Fault(c.fault)
			res := write(t, s, recs(layout, []any{"L-1", "one"}, []any{"L-2", "two"}))
			for _, r := range res {
				c.want(t, r)
			}
			assert.Len(t, live(srv, "Account"), c.held)
		})
	}
	t.Run("no external id", func(t *testing.T) {
		srv := emulator(t)
		s := emuSink(t, emuClient(t, srv), "Account", Insert, "", fastOptions(APIREST))
		names := sink.NewLayout([]string{"Name"}, nil)
		require.NoError(t, s.Preflight(context.Background(), names))
		srv.Fault(sftest.Fault{Kind: sftest.FaultDropResponse, Method: "POST", Path: "/composite/sobjects", Times: 1})
		res := write(t, s, recs(names, []any{"one"}))
		require.NotNil(t, res[0].Err)
		assert.Equal(t, CodeOutcomeUnknown, res[0].Err.Code)
	})
	t.Run("the look-up fails", func(t *testing.T) {
		srv := emulator(t)
		s := emuSink(t, emuClient(t, srv), "Account", Insert, "", fastOptions(APIREST))
		require.NoError(t, s.Preflight(context.Background(), layout))
		srv.Fault(sftest.Fault{Kind: sftest.FaultDropResponse, Method: "POST", Path: "/composite/sobjects", Times: 1})
		srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Status: 400, Method: "GET", Path: "/query"})
		res := write(t, s, recs(layout, []any{"L-1", "one"}))
		require.NotNil(t, res[0].Err)
		assert.Equal(t, CodeOutcomeUnknown, res[0].Err.Code, "what cannot be looked up stays unknown")
	})
}
