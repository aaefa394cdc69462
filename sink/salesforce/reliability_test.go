package salesforce

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/internal/faultsuite"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
	"github.com/retl-go/retl/sink/sinktest"
	"github.com/retl-go/retl/source"
	memsource "github.com/retl-go/retl/source/memory"
	"github.com/retl-go/retl/source/sqlsource"
)

// The fault suite runs whole syncs through the Engine and the registered
// Salesforce sink against the emulator, with one fault injected each, and
// checks what must hold whatever went wrong:
//   - every row read has exactly one outcome, in the report and for an
//     observer (each Seq once);
//   - the emulator holds each written row exactly once (a marker per row);
//     a row reported failed for a reason other than RETL_OUTCOME_UNKNOWN
//     was not written at all;
//   - retries stayed within their bounds (requests counted by the emulator).

// relRows is the rows per sync: three Bulk jobs of 200, or three sObject
// Collections calls of 200.
const relRows = 600

// relMarker is the Description a row's record carries: its Seq, so that an
// outcome and the record it produced can be paired.
func relMarker(seq int64) string { return fmt.Sprintf("M-%04d", seq) }

func relSource() *memsource.Source {
	rows := make([][]any, relRows)
	for i := range rows {
		rows[i] = []any{fmt.Sprintf("R-%04d", i+1), fmt.Sprintf("Account %d", i+1), relMarker(int64(i + 1))}
	}
	src := memsource.New([]string{"ID", "NAME", "MARKER"}, rows)
	src.BatchSize = 100
	return src
}

// relSink wraps the registered sink to let a case act between Writes.
type relSink struct {
	*sfSink
	mu     sync.Mutex
	writes int
	after  func(n int)
}

func (s *relSink) Write(ctx context.Context, recs []sink.Record) ([]sink.Result, error) {
	res, err := s.sfSink.Write(ctx, recs)
	if s.after != nil {
		s.mu.Lock()
		s.writes++
		n := s.writes
		s.mu.Unlock()
		s.after(n)
	}
	return res, err
}

// relFactory builds sinks as Register's factory does, but makes the run's
// shared client first, with millisecond backoff, so that retries do not
// slow the suite down; their number is what it checks.
func relFactory(after func(n int)) reverseetl.SinkFactory {
	return func(ctx context.Context, b reverseetl.BuildContext) (sink.Sink, error) {
		if b.Shared != nil && b.Connection != nil {
			_, err := b.Shared.Get("salesforce:"+b.Connection.Name, func() (any, error) {
				cfg, err := parseConnConfig(b.Connection)
				if err != nil {
					return nil, err
				}
				cfg.retryBase = 2 * time.Millisecond
				return newAPIClient(cfg, withLogger(quiet))
			})
			if err != nil {
				return nil, err
			}
		}
		k, err := New(ctx, b)
		if err != nil {
			return nil, err
		}
		s := k.(*sfSink)
		s.dest.Options.lockBackoff = time.Millisecond
		return &relSink{sfSink: s, after: after}, nil
	}
}

// relCase is one fault and what the run must show.
type relCase struct {
	name string
	api  string
	op   Operation
	// conn adds keys to the connection.
	conn string
	// arm injects the fault before the run; after, if set, runs after each Write.
	arm   func(srv *sftest.Server)
	after func(srv *sftest.Server, n int)
	// check asserts the case's own figures.
	check func(t *testing.T, r *relRun)
}

// relRun is the outcome of one case's sync.
type relRun struct {
	srv    *sftest.Server
	rep    *reverseetl.SyncReport
	codes  map[string]int
	reqs   []sftest.Request
	marks  map[string]int // live records by marker
	landed int            // rows reported RETL_OUTCOME_UNKNOWN whose record exists
}

// count is the requests whose method matches and whose path matches re.
func (r *relRun) count(method, re string) int {
	rx := regexp.MustCompile(re)
	n := 0
	for _, q := range r.reqs {
		if (method == "" || q.Method == method) && rx.MatchString(q.Path) {
			n++
		}
	}
	return n
}

func (r *relRun) status(code int) int {
	n := 0
	for _, q := range r.reqs {
		if q.Status == code {
			n++
		}
	}
	return n
}

func (r *relRun) jobStates() map[string]int {
	out := map[string]int{}
	for _, j := range r.srv.Jobs() {
		out[j.State]++
	}
	return out
}

// Paths of the requests the suite counts.
const (
	pLogin     = `^/services/oauth2/token$`
	pJobCreate = `/jobs/ingest$`
	pUpload    = `/jobs/ingest/[^/]+/batches$`
	pJob       = `/jobs/ingest/[^/]+$`
	pSuccess   = `/successfulResults/?$`
	pComposite = `/composite/sobjects`
)

func runRelCase(t *testing.T, c relCase) *relRun {
	t.Helper()
	srv := emulator(t)
	if c.op == Upsert {
		// A third of the rows exist already, so upserts update as well as create.
		for i := 1; i <= relRows; i += 3 {
			seed(t, srv, "Account", map[string]any{"Name": "old", "External_Id__c": fmt.Sprintf("R-%04d", i), "Description": "old"})
		}
	}
	if c.arm != nil {
		c.arm(srv)
	}
	srv.ResetRequests()

	var after func(int)
	if c.after != nil {
		after = func(n int) { c.after(srv, n) }
	}
	reg := reverseetl.NewRegistry()
	reg.RegisterSink("salesforce", relFactory(after))
	reg.RegisterSource("rows", func(context.Context, reverseetl.BuildContext) (source.Source, error) {
		return relSource(), nil
	})
	project := fmt.Sprintf(`connections:
  crm:
    type: salesforce
    login_url: %s
    auth: password
    client_id: %s
    client_secret: %s
    username: %s
    password: %s
%s`, srv.URL(), sftest.DefaultClientID, sftest.DefaultClientSecret, sftest.DefaultUsername, sftest.DefaultPassword, indent(connKeys(c.conn), "    "))
	ext, key := "", "ID"
	if c.op == Upsert {
		ext = "\n  match_on: External_Id__c"
	}
	syncYAML := fmt.Sprintf(`name: accounts
key: %s
source:
  type: rows
  query: select
destination:
  type: salesforce
  connection: crm
  object: Account
  operation: %s%s
  api: %s
  bulk_batch_size: 200
  max_jobs_in_flight: 1
  rest_concurrency: 1
  poll_max_wait: 10ms
mapping:
  - {from: NAME, to: Name}
  - {from: MARKER, to: Description}
`, key, c.op, ext, c.api)
	if c.op == Upsert {
		syncYAML += "  - {from: ID, to: External_Id__c}\n"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := config.Parse(ctx, "retl.yaml", []byte(project), map[string][]byte{"accounts.yaml": []byte(syncYAML)})
	require.NoError(t, err)
	ledger := sinktest.NewLedger()
	rep, err := reverseetl.New(reg, reverseetl.WithLogger(quiet), reverseetl.WithObserver(ledger)).Run(ctx, p, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := &relRun{srv: srv, rep: rep.Sync("accounts"), codes: ledger.Codes("accounts")}
	require.NotNil(t, r.rep)
	require.True(t, ledger.Check(t, r.rep))
	assert.EqualValues(t, relRows, r.rep.Read)

	// A request the client gave up on may still be handled; let the
	// emulator finish before counting.
	require.Eventually(t, func() bool {
		for _, j := range srv.Jobs() {
			if j.State == sftest.StateUploadComplete || j.State == sftest.StateInProgress {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond)
	// Close waits for the requests still being handled.
	srv.Close()
	r.reqs = srv.Requests()

	// Each written row exactly once; no failed row written, except those
	// reported as possibly written.
	r.marks = map[string]int{}
	for _, rec := range live(srv, "Account") {
		if m, ok := rec["Description"].(string); ok && strings.HasPrefix(m, "M-") {
			r.marks[m]++
		}
	}
	for m, n := range r.marks {
		assert.Equal(t, 1, n, "%s written %d times", m, n)
	}
	for _, o := range ledger.Of("accounts") {
		m := relMarker(o.Seq)
		switch {
		case o.Kind == reverseetl.Written:
			assert.Equal(t, 1, r.marks[m], "row %d is reported written", o.Seq)
		case o.Kind == reverseetl.RowFailed && o.Err.Code == CodeOutcomeUnknown:
			r.landed += r.marks[m]
		default:
			assert.Zero(t, r.marks[m], "row %d is reported %s (%v) but was written", o.Seq, o.Kind, o.Err)
		}
	}
	total := 0
	for _, n := range r.marks {
		total += n
	}
	assert.EqualValues(t, r.rep.Written()+int64(r.landed), total, "records in the emulator")
	return r
}

// connKeys are the suite's retry bounds, with a case's own keys in place
// of the defaults they name.
func connKeys(own string) string {
	keys := own
	for _, def := range []string{"max_retries: 3", "retry_max_wait: 30s", "timeout: 10s"} {
		name, _, _ := strings.Cut(def, ":")
		if !strings.Contains(own, name+":") {
			keys += "\n" + def
		}
	}
	return strings.TrimLeft(keys, "\n")
}

func indent(s, by string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return by + strings.Join(lines, "\n"+by) + "\n"
}

// relFigures collects one line per case for the Reliability section of docs/reliability.md.
type relFigures struct {
	mu    sync.Mutex
	lines []string
}

func (f *relFigures) add(name string, r *relRun, extra string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	codes := r.codes
	line := fmt.Sprintf("| %s | %s | %d | %s |", name, faultsuite.Summary(r.rep, codes), len(r.reqs), extra)
	f.lines = append(f.lines, line)
}

func (f *relFigures) print(t *testing.T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sort.Strings(f.lines)
	t.Logf("fault | outcome | requests | retries and jobs\n%s", strings.Join(f.lines, "\n"))
}

func TestReliabilityFaults(t *testing.T) {
	figs := &relFigures{}
	t.Cleanup(func() { figs.print(t) })
	cases := []relCase{
		// Rate limits.
		{name: "rate limit, retried (retry_rate_limit)", api: APIBulk, op: Insert, conn: "retry_rate_limit: true",
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultRateLimit, Method: http.MethodPost, Path: "/jobs/ingest", Times: 2})
			},
			check: func(t *testing.T, r *relRun) {
				assert.EqualValues(t, relRows, r.rep.Created)
				assert.Equal(t, 3+2, r.count(http.MethodPost, pJobCreate), "each refused creation asked once more")
			}},
		{name: "rate limit, not retried (default)", api: APIBulk, op: Insert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultRateLimit, Method: http.MethodPost, Path: "/jobs/ingest", Times: 1})
			},
			check: func(t *testing.T, r *relRun) {
				assert.Equal(t, map[string]int{"REQUEST_LIMIT_EXCEEDED": 200}, r.codes, "one job's rows")
				assert.Equal(t, 3, r.count(http.MethodPost, pJobCreate), "no retry")
			}},
		{name: "rate limit, retried (retry_rate_limit)", api: APIREST, op: Insert, conn: "retry_rate_limit: true",
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultRateLimit, Method: http.MethodPost, Path: "/composite/sobjects", Times: 2})
			},
			check: func(t *testing.T, r *relRun) {
				assert.EqualValues(t, relRows, r.rep.Created)
				assert.Equal(t, 3+2, r.count(http.MethodPost, pComposite))
			}},
		{name: "rate limit, not retried (default)", api: APIREST, op: Insert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultRateLimit, Method: http.MethodPost, Path: "/composite/sobjects", Times: 1})
			},
			check: func(t *testing.T, r *relRun) {
				assert.Equal(t, map[string]int{"REQUEST_LIMIT_EXCEEDED": 200}, r.codes)
				assert.Equal(t, 3, r.count(http.MethodPost, pComposite))
			}},

		// 5xx bursts.
		{name: "503 burst on job polls", api: APIBulk, op: Insert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Method: http.MethodGet, Path: "/jobs/ingest/", Times: 3})
			},
			check: func(t *testing.T, r *relRun) {
				assert.EqualValues(t, relRows, r.rep.Created)
				assert.Equal(t, 3, r.status(http.StatusServiceUnavailable))
			}},
		{name: "500 on every job creation, past max_retries", api: APIBulk, op: Insert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Status: 500, Method: http.MethodPost, Path: "/jobs/ingest"})
			},
			check: func(t *testing.T, r *relRun) {
				assert.Equal(t, map[string]int{"UNKNOWN_EXCEPTION": relRows}, r.codes)
				assert.Equal(t, 3*(1+3), r.count(http.MethodPost, pJobCreate), "1 + max_retries attempts per job")
			}},
		{name: "503 burst on inserts", api: APIREST, op: Insert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Method: http.MethodPost, Path: "/composite/sobjects", Times: 3})
			},
			check: func(t *testing.T, r *relRun) {
				assert.EqualValues(t, relRows, r.rep.Created)
				assert.Equal(t, 3+3, r.count(http.MethodPost, pComposite), "503 means not processed: resent")
			}},
		{name: "500 on an insert", api: APIREST, op: Insert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Status: 500, Method: http.MethodPost, Path: "/composite/sobjects", Times: 1})
			},
			check: func(t *testing.T, r *relRun) {
				assert.Equal(t, map[string]int{CodeOutcomeUnknown: 200}, r.codes)
				assert.Equal(t, 3, r.count(http.MethodPost, pComposite), "an insert is never resent")
			}},
		{name: "500 on every upsert, past max_retries", api: APIREST, op: Upsert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Status: 500, Method: http.MethodPatch, Path: "/composite/sobjects"})
			},
			check: func(t *testing.T, r *relRun) {
				assert.Equal(t, map[string]int{"UNKNOWN_EXCEPTION": relRows}, r.codes)
				assert.Equal(t, 3*(1+3), r.count(http.MethodPatch, pComposite))
			}},

		// Dropped connections.
		{name: "connection dropped during the upload", api: APIBulk, op: Insert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultDropRequest, Method: http.MethodPut, Path: "/batches", Times: 1})
			},
			check: func(t *testing.T, r *relRun) {
				assert.EqualValues(t, relRows, r.rep.Created)
				assert.Equal(t, 4, r.count(http.MethodPut, pUpload))
				assert.Equal(t, map[string]int{sftest.StateAborted: 1, sftest.StateJobComplete: 3}, r.jobStates())
			}},
		{name: "answer to the upload dropped", api: APIBulk, op: Insert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultDropResponse, Method: http.MethodPut, Path: "/batches", Times: 1})
			},
			check: func(t *testing.T, r *relRun) {
				assert.EqualValues(t, relRows, r.rep.Created)
				assert.Equal(t, 4, r.count(http.MethodPut, pUpload))
				assert.Equal(t, map[string]int{sftest.StateAborted: 1, sftest.StateJobComplete: 3}, r.jobStates(),
					"the job whose upload may have landed is aborted, a new one takes its rows")
			}},
		{name: "connection dropped during the result download", api: APIBulk, op: Upsert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultDropResponse, Method: http.MethodGet, Path: "/successfulResults", Times: 1})
			},
			check: func(t *testing.T, r *relRun) {
				assert.EqualValues(t, relRows/3, r.rep.Updated)
				assert.EqualValues(t, relRows-relRows/3, r.rep.Created)
				assert.Equal(t, 3+1, r.count(http.MethodGet, pSuccess))
			}},
		{name: "connection dropped during an insert", api: APIREST, op: Insert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultDropRequest, Method: http.MethodPost, Path: "/composite/sobjects", Times: 1})
			},
			check: func(t *testing.T, r *relRun) {
				assert.Equal(t, map[string]int{CodeOutcomeUnknown: 200}, r.codes)
				assert.Zero(t, r.landed)
				assert.Equal(t, 3, r.count(http.MethodPost, pComposite))
			}},
		{name: "answer to an insert dropped", api: APIREST, op: Insert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultDropResponse, Method: http.MethodPost, Path: "/composite/sobjects", Times: 1})
			},
			check: func(t *testing.T, r *relRun) {
				assert.Equal(t, map[string]int{CodeOutcomeUnknown: 200}, r.codes)
				assert.Equal(t, 200, r.landed, "written once, reported as possibly written, not resent")
				assert.Equal(t, 3, r.count(http.MethodPost, pComposite))
			}},
		{name: "answer to an upsert dropped", api: APIREST, op: Upsert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultDropResponse, Method: http.MethodPatch, Path: "/composite/sobjects", Times: 1})
			},
			check: func(t *testing.T, r *relRun) {
				assert.Empty(t, r.codes)
				assert.Equal(t, 3+1, r.count(http.MethodPatch, pComposite), "an upsert is resent")
			}},

		// Slow answers past the client's timeout.
		{name: "job polls slower than the timeout", api: APIBulk, op: Insert, conn: "timeout: 200ms",
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultDelay, Method: http.MethodGet, Path: "/jobs/ingest/", Delay: time.Second, Times: 2})
			},
			check: func(t *testing.T, r *relRun) {
				assert.EqualValues(t, relRows, r.rep.Created)
			}},
		{name: "upload slower than the timeout", api: APIBulk, op: Insert, conn: "timeout: 200ms",
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultDelay, Method: http.MethodPut, Path: "/batches", Delay: time.Second, Times: 1})
			},
			check: func(t *testing.T, r *relRun) {
				assert.EqualValues(t, relRows, r.rep.Created)
				assert.Equal(t, map[string]int{sftest.StateAborted: 1, sftest.StateJobComplete: 3}, r.jobStates())
			}},
		{name: "insert slower than the timeout", api: APIREST, op: Insert, conn: "timeout: 1s",
			arm: func(srv *sftest.Server) {
				// Four times the timeout: a loaded machine can slow the other
				// calls, never past the timeout.
				srv.Fault(sftest.Fault{Kind: sftest.FaultDelay, Method: http.MethodPost, Path: "/composite/sobjects", Delay: 4 * time.Second, Times: 1})
			},
			check: func(t *testing.T, r *relRun) {
				assert.Equal(t, map[string]int{CodeOutcomeUnknown: 200}, r.codes)
				assert.Equal(t, 3, r.count(http.MethodPost, pComposite))
			}},
		{name: "upsert slower than the timeout", api: APIREST, op: Upsert, conn: "timeout: 1s",
			arm: func(srv *sftest.Server) {
				// Four times the timeout: a loaded machine can slow the other
				// calls, never past the timeout.
				srv.Fault(sftest.Fault{Kind: sftest.FaultDelay, Method: http.MethodPatch, Path: "/composite/sobjects", Delay: 4 * time.Second, Times: 1})
			},
			check: func(t *testing.T, r *relRun) {
				assert.Empty(t, r.codes)
				assert.Equal(t, 3+1, r.count(http.MethodPatch, pComposite))
			}},

		// Sessions that expire mid-run.
		{name: "session expires between jobs", api: APIBulk, op: Insert,
			after: func(srv *sftest.Server, n int) {
				if n == 1 {
					srv.ExpireSessions()
				}
			},
			check: func(t *testing.T, r *relRun) {
				assert.EqualValues(t, relRows, r.rep.Created)
				assert.Equal(t, 2, r.count(http.MethodPost, pLogin), "one new token")
				assert.Equal(t, 1, r.status(http.StatusUnauthorized))
			}},
		{name: "session expires while a job runs", api: APIBulk, op: Insert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultSessionExpired, Method: http.MethodGet, Path: "/jobs/ingest/", Times: 1})
			},
			check: func(t *testing.T, r *relRun) {
				assert.EqualValues(t, relRows, r.rep.Created)
				assert.Equal(t, 2, r.count(http.MethodPost, pLogin))
			}},
		{name: "session expires between calls", api: APIREST, op: Upsert,
			after: func(srv *sftest.Server, n int) {
				if n == 1 {
					srv.ExpireSessions()
				}
			},
			check: func(t *testing.T, r *relRun) {
				assert.Empty(t, r.codes)
				assert.Equal(t, 2, r.count(http.MethodPost, pLogin))
				assert.Equal(t, 3+1, r.count(http.MethodPatch, pComposite))
			}},

		// A job that fails.
		{name: "a Bulk job fails", api: APIBulk, op: Upsert,
			arm: func(srv *sftest.Server) { srv.FailJobs(1, "InternalServerError : disk on fire") },
			check: func(t *testing.T, r *relRun) {
				assert.Equal(t, map[string]int{CodeJobFailed: 200}, r.codes)
				assert.Equal(t, map[string]int{sftest.StateFailed: 1, sftest.StateJobComplete: 2}, r.jobStates())
			}},

		// Row locks.
		{name: "UNABLE_TO_LOCK_ROW on 10% of saves", api: APIBulk, op: Upsert,
			arm: func(srv *sftest.Server) { srv.LockRows(0.1, 7) },
			check: func(t *testing.T, r *relRun) {
				jobs := len(r.srv.Jobs())
				assert.Greater(t, jobs, 3, "locked rows go again in later jobs")
				assert.LessOrEqual(t, jobs, 3*(1+2), "at most lock_retries later jobs per Write")
				assert.LessOrEqual(t, r.codes["UNABLE_TO_LOCK_ROW"], 5, "few rows stay locked through two retries")
			}},
		{name: "UNABLE_TO_LOCK_ROW on 10% of saves", api: APIREST, op: Upsert,
			arm: func(srv *sftest.Server) { srv.LockRows(0.1, 7) },
			check: func(t *testing.T, r *relRun) {
				assert.LessOrEqual(t, r.codes["UNABLE_TO_LOCK_ROW"], 5, "few rows stay locked through two retries")
			}},

		// Malformed answers.
		{name: "malformed CSV results", api: APIBulk, op: Insert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultMalformed, Method: http.MethodGet, Path: "/successfulResults", Times: 1})
			},
			check: func(t *testing.T, r *relRun) {
				assert.EqualValues(t, relRows, r.rep.Created)
				assert.Equal(t, 3+1, r.count(http.MethodGet, pSuccess), "fetched once more")
			}},
		{name: "malformed JSON job status", api: APIBulk, op: Insert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultMalformed, Method: http.MethodGet, Path: "/jobs/ingest/", Times: 1})
			},
			check: func(t *testing.T, r *relRun) {
				assert.EqualValues(t, relRows, r.rep.Created, "the status is asked for again")
			}},
		{name: "malformed JSON answer to an insert", api: APIREST, op: Insert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultMalformed, Method: http.MethodPost, Path: "/composite/sobjects", Times: 1})
			},
			check: func(t *testing.T, r *relRun) {
				assert.Equal(t, map[string]int{CodeOutcomeUnknown: 200}, r.codes)
				assert.Equal(t, 3, r.count(http.MethodPost, pComposite), "an insert is never resent")
			}},
		{name: "malformed JSON answer to an upsert", api: APIREST, op: Upsert,
			arm: func(srv *sftest.Server) {
				srv.Fault(sftest.Fault{Kind: sftest.FaultMalformed, Method: http.MethodPatch, Path: "/composite/sobjects", Times: 1})
			},
			check: func(t *testing.T, r *relRun) {}},
	}
	for _, c := range cases {
		name := c.api + "/" + c.name
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := runRelCase(t, c)
			if c.check != nil {
				c.check(t, r)
			}
			extra := fmt.Sprintf("logins %d", r.count(http.MethodPost, pLogin))
			if c.api == APIBulk {
				states := r.jobStates()
				keys := make([]string, 0, len(states))
				for k := range states {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				var js []string
				for _, k := range keys {
					js = append(js, fmt.Sprintf("%d %s", states[k], k))
				}
				extra += fmt.Sprintf(", uploads %d, jobs: %s", r.count(http.MethodPut, pUpload), strings.Join(js, ", "))
			} else {
				extra += fmt.Sprintf(", collection calls %d", r.count("", pComposite))
			}
			if r.landed > 0 {
				extra += fmt.Sprintf(", %d possibly-written rows did land", r.landed)
			}
			figs.add(name, r, extra)
		})
	}
}

// TestReliabilityHugeCell reads, through the sql source, a row whose text
// cell is 10 MB, far past Salesforce's 131,072-character limit for any
// text field. The row fails on its own with STRING_TOO_LONG, its
// neighbours are written, and memory stays within a few copies of the
// cell.
func TestReliabilityHugeCell(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 10 MB cells")
	}
	const cell = 10_000_000
	dbPath := filepath.Join(t.TempDir(), "warehouse.db")
	db, err := sql.Open("sqlite", dbPath)
	require.NoError(t, err)
	for _, q := range []string{
		"create table accounts (id text, name text, note text)",
		"with recursive n(i) as (select 1 union all select i + 1 from n where i < 49) " +
			"insert into accounts select printf('H-%02d', i), 'Account ' || i, 'short note' from n",
		fmt.Sprintf("insert into accounts values ('H-50', 'Account 50', hex(randomblob(%d)))", cell/2),
	} {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
	require.NoError(t, db.Close())

	for _, api := range []string{APIBulk, APIREST} {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			reg := reverseetl.NewRegistry()
			reg.RegisterSink("salesforce", relFactory(nil))
			sqlsource.Register(reg)
			project := fmt.Sprintf(`connections:
  warehouse: {type: sql, driver: sqlite, dsn: %q}
  crm:
    type: salesforce
    login_url: %s
    auth: password
    client_id: %s
    client_secret: %s
    username: %s
    password: %s
`, dbPath, srv.URL(), sftest.DefaultClientID, sftest.DefaultClientSecret, sftest.DefaultUsername, sftest.DefaultPassword)
			syncYAML := fmt.Sprintf(`name: accounts
key: ID
source: {connection: warehouse, query: "select id, name, note from accounts order by id"}
destination:
  connection: crm
  object: Account
  operation: upsert
  match_on: External_Id__c
  api: %s
  poll_max_wait: 10ms
mapping:
  - {from: ID, to: External_Id__c}
  - {from: NAME, to: Name}
  - {from: NOTE, to: Description}
`, api)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			p, err := config.Parse(ctx, "retl.yaml", []byte(project), map[string][]byte{"accounts.yaml": []byte(syncYAML)})
			require.NoError(t, err)
			ledger := sinktest.NewLedger()
			runtime.GC()
			var peak uint64
			stop := samplePeakHeap(&peak)
			rep, err := reverseetl.New(reg, reverseetl.WithLogger(quiet), reverseetl.WithObserver(ledger)).Run(ctx, p, reverseetl.RunOptions{})
			stop()
			require.NoError(t, err)
			s := rep.Sync("accounts")
			ledger.Check(t, s)
			assert.EqualValues(t, 50, s.Read)
			assert.EqualValues(t, 49, s.Created)
			require.EqualValues(t, 1, s.Failed)
			fr := s.FailedRows[0]
			assert.Equal(t, "H-50", fr.Key)
			assert.Equal(t, "STRING_TOO_LONG", fr.Err.Code)
			assert.LessOrEqual(t, len(fr.Err.Message), 1100, "the report does not keep the value")
			assert.Contains(t, fr.Err.Message, "bytes cut)")
			assert.Len(t, byExt(srv, "Account"), 49)
			assert.Less(t, peak, uint64(30*cell), "peak live heap")
			t.Logf("%s: %s; %s: %.80s; peak live heap %.0f MiB (emulator included)", api, faultsuite.Summary(s, ledger.Codes("accounts")),
				fr.Err.Code, fr.Err.Message, float64(peak)/(1<<20))
		})
	}
}

// samplePeakHeap records the peak of the live heap into *peak until the
// returned func is called.
func samplePeakHeap(peak *uint64) func() {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			*peak = max(*peak, s[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() { close(done); <-stopped }
}
