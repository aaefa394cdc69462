package salesforce

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// childLoad is n contacts, in no order, each looking up one of parents
// accounts by external id.
func childLoad(n, parents int) table {
	rng := rand.New(rand.NewPCG(1, 2))
	t := table{cols: []string{"ID", "LAST_NAME", "ACCOUNT_ID"}}
	for i := range n {
		t.rows = append(t.rows, []any{fmt.Sprintf("C-%05d", i), fmt.Sprintf("Person %d", i), fmt.Sprintf("P-%03d", rng.IntN(parents))})
	}
	return t
}

func childLoadSync(extra string) string {
	return `name: contacts
source: {type: rows}
destination:
  connection: crm
  object: Contact
  operation: upsert
  match_on: External_Id__c
  api: bulk
  bulk_batch_size: 2500
  max_jobs_in_flight: 4
  poll_max_wait: 20ms
` + extra + `mapping:
  - {from: ID, to: External_Id__c}
  - {from: LAST_NAME, to: LastName}
  - {from: ACCOUNT_ID, to: Account.External_Id__c}
`
}

// runChildLoad loads the contacts into a new emulator whose concurrent
// Bulk jobs contend for the rows of the accounts they point to.
func runChildLoad(t *testing.T, load table, parents int, extra string) *reverseetl.SyncReport {
	t.Helper()
	return runChildSync(t, load, parents, childLoadSync(extra))
}

func runChildSync(t *testing.T, load table, parents int, syncYAML string) *reverseetl.SyncReport {
	t.Helper()
	srv := emulator(t, sftest.WithLockContention(), sftest.WithBulkDelay(0, 20*time.Microsecond))
	for i := range parents {
		seed(t, srv, "Account", map[string]any{"Name": fmt.Sprintf("Parent %d", i), "External_Id__c": fmt.Sprintf("P-%03d", i)})
	}
	r := &engineRun{srv: srv, tables: map[string]table{"contacts": load}}
	sr := r.run(t, map[string]string{"contacts.yaml": syncYAML}, reverseetl.RunOptions{}).Sync("contacts")
	n := int64(len(load.rows))
	assert.Equal(t, n, sr.Read)
	assert.Equal(t, n, sr.Created+sr.Updated+sr.Failed+sr.Skipped, "no row without an outcome")
	assert.Len(t, live(srv, "Contact"), int(sr.Created))
	return sr
}

// With lock contention between concurrent jobs, a 20,000-row child load
// grouped by parent meets fewer locks than the same load ungrouped: the
// jobs running at once hold different parents.
func TestGroupByCutsLockFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("large load")
	}
	const n, parents = 20_000, 200
	load := childLoad(n, parents)
	without := runChildLoad(t, load, parents, "")
	with := runChildLoad(t, load, parents, "  group_by: Account.External_Id__c\n")
	lw, lg := without.Stats.Counts["lock_failures"], with.Stats.Counts["lock_failures"]
	t.Logf("UNABLE_TO_LOCK_ROW answers from Bulk jobs, retries included: %d without group_by, %d with group_by", lw, lg)
	t.Logf("rows sent through REST after the Bulk retries: %d without group_by, %d with group_by",
		without.Stats.Counts["lock_rest_retries"], with.Stats.Counts["lock_rest_retries"])
	t.Logf("rows failed in the end: %d without group_by, %d with group_by; Bulk jobs: %d and %d",
		without.Failed, with.Failed, len(without.Stats.Jobs), len(with.Stats.Jobs))
	assert.Positive(t, lw, "ungrouped concurrent jobs contend")
	assert.Less(t, lg, lw)
	assert.Zero(t, lg, "grouped jobs hold different parents")
	for _, sr := range []*reverseetl.SyncReport{without, with} {
		assert.Zero(t, sr.Failed, "rows still locked after the Bulk retries went through REST")
		assert.EqualValues(t, n, sr.Created)
	}
}

// With the default 30,000-record jobs, Salesforce splits a 20,000-row job
// into two internal batches that run in parallel: ungrouped, both hold
// children of every parent and lock each other out. Under group_by a job
// takes at most one internal batch (10,000 records) of whole groups, so no
// parent's children are in two internal batches at once.
func TestGroupByInternalBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("large load")
	}
	const n, parents = 20_000, 200
	load := childLoad(n, parents)
	sync := func(extra string) string {
		return strings.Replace(strings.Replace(childLoadSync(extra), "  bulk_batch_size: 2500\n", "", 1), "max_jobs_in_flight: 4", "max_jobs_in_flight: 2", 1)
	}
	without := runChildSync(t, load, parents, sync(""))
	with := runChildSync(t, load, parents, sync("  group_by: Account.External_Id__c\n"))
	lw, lg := without.Stats.Counts["lock_failures"], with.Stats.Counts["lock_failures"]
	t.Logf("default jobs: %d UNABLE_TO_LOCK_ROW answers (retries included), %d rows through REST, %d Bulk jobs",
		lw, without.Stats.Counts["lock_rest_retries"], len(without.Stats.Jobs))
	t.Logf("group_by: %d UNABLE_TO_LOCK_ROW answers, %d rows through REST, %d Bulk jobs",
		lg, with.Stats.Counts["lock_rest_retries"], len(with.Stats.Jobs))
	assert.Positive(t, lw, "internal batches of one job contend")
	assert.Zero(t, lg, "no parent's children in two internal batches")
	assert.Len(t, with.Stats.Jobs, 3, "whole groups of about 100 records fill jobs of at most 10,000 in three")
	for _, sr := range []*reverseetl.SyncReport{without, with} {
		assert.Zero(t, sr.Failed)
		assert.EqualValues(t, n, sr.Created)
	}
}

// serial runs one job at a time: jobs cannot contend with each other.
func TestSerialRunsOneJobAtATime(t *testing.T) {
	// serial says it alone: beside max_jobs_in_flight: 4 it is an error.
	sr := runChildSync(t, childLoad(6000, 50), 50, strings.Replace(childLoadSync("  serial: true\n"), "  max_jobs_in_flight: 4\n", "", 1))
	assert.Zero(t, sr.Stats.Counts["lock_failures"])
	assert.Len(t, sr.Stats.Jobs, 3)
	assert.EqualValues(t, 6000, sr.Created)

	var o Options
	o.Serial = true
	require.NoError(t, o.normalize())
	assert.Equal(t, 1, o.MaxJobsInFlight)
	assert.Equal(t, 1, o.RESTConcurrency)
	s := &sfSink{dest: Destination{Operation: Insert, Options: o}}
	_, conc := s.Batching()
	assert.Equal(t, 1, conc)
	s.dest.Options.API = APIREST
	_, conc = s.Batching()
	assert.Equal(t, 1, conc)
}

// Jobs take whole groups: a group that would not fit opens a new job, and
// only a group larger than a job is split.
func TestGroupedJobs(t *testing.T) {
	o := fastOptions(APIBulk)
	o.BulkBatchSize, o.MaxJobsInFlight, o.GroupBy = 5, 3, "AccountId"
	s := &sfSink{dest: Destination{Object: "Contact", Operation: Insert, Options: o}}
	require.NoError(t, s.dest.check())
	size, conc := s.Batching()
	assert.Equal(t, 15, size, "one job per job slot in each Write")
	assert.Equal(t, 1, conc, "Writes one at a time")

	l := sink.NewLayout([]string{"LastName", "AccountId"}, nil)
	parents := []string{"001000000000001AAA", "001000000000002", "001000000000001aaa", "", "001000000000002AAA",
		"001000000000001AAA", "003", "003", "003", "001000000000001AAA", "001000000000002AAA"}
	var rows [][]any
	for i, p := range parents {
		rows = append(rows, []any{fmt.Sprintf("L%d", i), sink.TextValue(p)})
	}
	rows[3][1] = sink.NullValue()
	records := recs(l, rows...)
	pending := make([]int, len(records))
	for i := range pending {
		pending[i] = i
	}
	bl, err := s.planColumns(l, records, pending)
	require.NoError(t, err)
	out := make([]sink.Result, len(records))
	jobs := s.planJobs(bl, records, pending, out)
	var got [][]string
	for _, j := range jobs {
		var names []string
		for _, ri := range j.idx {
			names = append(names, records[ri].Values[0].S+"@"+groupKey(&records[ri], 1))
		}
		got = append(got, names)
	}
	id1, id2 := strings.ToLower(toID18("001000000000001AAA")), strings.ToLower(toID18("001000000000002"))
	assert.Equal(t, [][]string{
		{"L3@", "L0@" + id1, "L2@" + id1, "L5@" + id1, "L9@" + id1},
		{"L1@" + id2, "L4@" + id2, "L10@" + id2},
		{"L6@003", "L7@003", "L8@003"},
	}, got)

	s.dest.Options.BulkBatchSize = 2
	jobs = s.planJobs(bl, records, pending, out)
	var sizes []int
	for _, j := range jobs {
		sizes = append(sizes, len(j.idx))
	}
	assert.Equal(t, []int{1, 2, 2, 2, 1, 2, 1}, sizes, "a group larger than a job is split, the others are not")

	// Without group_by, or when the records lack its field, the order stays.
	s.dest.Options.GroupBy = "Nope"
	sorted, groups := s.groupOrder(records, pending)
	assert.Equal(t, pending, sorted)
	assert.Nil(t, groups)
	sorted, _ = s.groupOrder(records, nil)
	assert.Empty(t, sorted)
}

// Rows still refused with UNABLE_TO_LOCK_ROW after the Bulk retries go once
// through REST; a hard delete has no REST call and keeps its failures.
func TestLockedRowsGoOnceThroughREST(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv)
	o := fastOptions(APIBulk)
	o.LockRetries = Int(0)
	s := emuSink(t, c, "Account", Insert, "", o)
	var rows [][]any
	for i := range 400 {
		rows = append(rows, []any{fmt.Sprintf("Account %d", i)})
	}
	srv.LockRows(0.2, 7)
	res := write(t, s, recs(sink.NewLayout([]string{"Name"}, nil), rows...))
	srv.LockRows(0, 0)
	locked := 0
	for _, r := range res {
		if r.Err != nil {
			require.Equal(t, codeLocked, r.Err.Code)
			locked++
		}
	}
	st := s.Stats()
	t.Logf("bulk lock failures %d, sent through REST %d, still locked %d", st.Counts["lock_failures"], st.Counts["lock_rest_retries"], locked)
	assert.Positive(t, st.Counts["lock_failures"])
	assert.Equal(t, st.Counts["lock_failures"], st.Counts["lock_rest_retries"])
	assert.Less(t, int64(locked), st.Counts["lock_rest_retries"], "REST saved some")
	assert.Positive(t, countRequests(srv, "POST", "/composite/sobjects"))
	assert.Len(t, live(srv, "Account"), 400-locked)

	// Hard delete: Bulk only.
	ids := make([][]any, 0, len(res))
	for _, r := range res {
		if r.Err == nil {
			ids = append(ids, []any{r.ID})
		}
	}
	h := emuSink(t, c, "Account", HardDelete, "", o)
	srv.LockRows(0.2, 7)
	res = write(t, h, recs(sink.NewLayout([]string{"Id"}, nil), ids...))
	srv.LockRows(0, 0)
	failed := 0
	for _, r := range res {
		if r.Err != nil {
			failed++
		}
	}
	assert.Positive(t, failed)
	assert.Zero(t, h.Stats().Counts["lock_rest_retries"])
	assert.Zero(t, countRequests(srv, "DELETE", "/composite/sobjects"))
}

// A REST retry in flight when the Write's context ends runs to its
// answer, which is what the records get.
func TestLockFallbackStopsWithItsWrite(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv)
	o := fastOptions(APIBulk)
	o.LockRetries = Int(0)
	s := emuSink(t, c, "Account", Insert, "", o)
	srv.LockRows(1, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv.Fault(sftest.Fault{Kind: sftest.FaultDelay, Path: "/composite/sobjects", Delay: 300 * time.Millisecond})
	c.http = &http.Client{Transport: cancelOn{base: http.DefaultTransport, path: "/composite/sobjects", cancel: cancel}}
	res, err := s.Write(ctx, recs(sink.NewLayout([]string{"Name"}, nil), []any{"a"}, []any{"b"}))
	require.NoError(t, err)
	for _, r := range res {
		require.NotNil(t, r.Err)
		assert.Equal(t, "UNABLE_TO_LOCK_ROW", r.Err.Code, "the call's own answer")
	}
	assert.Empty(t, live(srv, "Account"))
}

// cancelOn cancels a context as a request to path leaves, so a test stops
// a write at a known point without timing.
type cancelOn struct {
	base   http.RoundTripper
	path   string
	method string
	cancel func()
}

func (c cancelOn) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, c.path) && (c.method == "" || r.Method == c.method) {
		c.cancel()
	}
	return c.base.RoundTrip(r)
}

// Preflight names what match_on and group_by need.
func TestPreflightOfMatchOnAndGroupBy(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv)
	ctx := context.Background()
	l := sink.NewLayout([]string{"External_Id__c", "Name"}, nil)

	s := matchSink(t, c, Update, "External_Id__c", fastOptions(APIREST))
	require.NoError(t, s.Preflight(ctx, l), "match_on is matched, not written")

	for _, tc := range []struct {
		op      Operation
		matchOn string
		groupBy string
		layout  []string
		want    string
	}{
		{Update, "External_Id__c", "", []string{"Name"}, "match_on External_Id__c is not a field of the mapping"},
		{Update, "Nope__c", "", []string{"Nope__c", "Name"}, "match_on Nope__c is not a field of Account"},
		{Delete, "NumberOfEmployees", "", []string{"NumberOfEmployees"}, "match_on Account.NumberOfEmployees is of type int; match_on takes a text"},
		{Update, "External_Id__c", "ParentId", []string{"External_Id__c", "Name"}, "group_by ParentId is not a field of the mapping"},
	} {
		o := fastOptions(APIREST)
		o.GroupBy = tc.groupBy
		s := matchSink(t, c, tc.op, tc.matchOn, o)
		err := s.Preflight(ctx, sink.NewLayout(tc.layout, nil))
		assert.ErrorContains(t, err, tc.want)
	}
}
