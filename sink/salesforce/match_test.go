package salesforce

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

func matchSink(t testing.TB, c *apiClient, op Operation, matchOn string, opt Options) *sfSink {
	t.Helper()
	s, err := buildSink(c, Destination{Object: "Account", Operation: op, MatchOn: matchOn, Options: opt})
	require.NoError(t, err)
	return s
}

func countLive(srv *sftest.Server, obj string) int { return len(live(srv, obj)) }

// Update by external id finds records with SOQL and updates them by Id:
// the record count stays as it was, a key with no record is skipped "not
// found", several records with one key fail with their Ids, and an empty
// key fails.
func TestUpdateByMatchOn(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			id1 := seed(t, srv, "Account", map[string]any{"Name": "One", "External_Id__c": "A-1", "AccountNumber": "N-1", "Phone": "111"})
			seed(t, srv, "Account", map[string]any{"Name": "Quote", "External_Id__c": `O'Brien \ Co`, "AccountNumber": "N-2"})
			twinA := seed(t, srv, "Account", map[string]any{"Name": "Twin A", "External_Id__c": "T-1", "AccountNumber": "TWIN"})
			twinB := seed(t, srv, "Account", map[string]any{"Name": "Twin B", "External_Id__c": "T-2", "AccountNumber": "twin"})
			before := countLive(srv, "Account")

			s := matchSink(t, emuClient(t, srv), Update, "External_Id__c", fastOptions(api))
			l := sink.NewLayout([]string{"External_Id__c", "Name", "Phone"}, nil)
			res := write(t, s, recs(l,
				[]any{"a-1", "One!", nil}, // external ids match without regard to case
				[]any{"A-404", "Nobody", "000"},
				[]any{`O'Brien \ Co`, "Quoted", nil},
				[]any{sink.NullValue(), "No key", nil},
			))
			assert.Nil(t, res[0].Err)
			assert.Equal(t, id1, toID18(res[0].ID))
			assert.False(t, res[0].Created)
			assert.Equal(t, sink.SkipNotFound, res[1].Skipped)
			assert.Nil(t, res[2].Err)
			require.NotNil(t, res[3].Err)
			assert.Equal(t, CodeNoMatchValue, res[3].Err.Code)

			got := byExt(srv, "Account")
			assert.Equal(t, "One!", got["A-1"]["Name"])
			assert.Equal(t, "111", got["A-1"]["Phone"], "an absent field is left as it is")
			assert.Equal(t, "A-1", got["A-1"]["External_Id__c"], "the match_on field is not rewritten")
			assert.Equal(t, "Quoted", got[`O'Brien \ Co`]["Name"])
			assert.Equal(t, before, countLive(srv, "Account"), "an update by match_on creates nothing")

			// Several records holding one value: none is changed.
			s = matchSink(t, emuClient(t, srv), Update, "AccountNumber", fastOptions(api))
			l = sink.NewLayout([]string{"AccountNumber", "Name"}, nil)
			res = write(t, s, recs(l, []any{"Twin", "Changed"}, []any{"N-1", "One again"}))
			require.NotNil(t, res[0].Err)
			assert.Equal(t, CodeMultipleMatches, res[0].Err.Code)
			assert.Equal(t, fmt.Sprintf("2 Account records have AccountNumber Twin: %s, %s; none was changed", min(twinA, twinB), max(twinA, twinB)), res[0].Err.Message)
			assert.Nil(t, res[1].Err)
			got = byExt(srv, "Account")
			assert.Equal(t, "Twin A", got["T-1"]["Name"])
			assert.Equal(t, "Twin B", got["T-2"]["Name"])
			assert.Equal(t, "One again", got["A-1"]["Name"])
		})
	}
}

func TestUpdateByMatchOnFailsNotFoundWhenAsked(t *testing.T) {
	srv := emulator(t)
	seed(t, srv, "Account", map[string]any{"Name": "One", "External_Id__c": "A-1"})
	opt := fastOptions(APIREST)
	opt.OnNotFound = NotFoundFail
	s := matchSink(t, emuClient(t, srv), Update, "External_Id__c", opt)
	l := sink.NewLayout([]string{"External_Id__c", "Name"}, nil)
	res := write(t, s, recs(l, []any{"A-2", "x"}, []any{"A-1", "y"}))
	require.NotNil(t, res[0].Err)
	assert.Equal(t, CodeNotFound, res[0].Err.Code)
	assert.Equal(t, "no Account record has External_Id__c A-2", res[0].Err.Message)
	assert.Nil(t, res[1].Err)
	assert.Equal(t, 1, countLive(srv, "Account"))
}

// Keys that need many IN lists are found in several queries, each under
// the URL limit.
func TestMatchOnChunksItsQueries(t *testing.T) {
	srv := emulator(t)
	const n = 1500
	rows := make([][]any, n)
	for i := range rows {
		k := fmt.Sprintf("KEY-%04d-%s", i, strings.Repeat("x", 20))
		seed(t, srv, "Account", map[string]any{"Name": "old", "External_Id__c": k})
		rows[i] = []any{k, "new"}
	}
	// The same key in another case goes in another query, which finds the
	// same record once more: still one match.
	rows = append(rows, []any{strings.ToLower(rows[0][0].(string)), "new"})
	srv.ResetRequests()
	s := matchSink(t, emuClient(t, srv), Update, "External_Id__c", fastOptions(APIBulk))
	res := write(t, s, recs(sink.NewLayout([]string{"External_Id__c", "Name"}, nil), rows...))
	requireOK(t, res)
	queries := 0
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, "/query") {
			queries++
			assert.Less(t, len(r.Query), 16_000)
		}
	}
	assert.Greater(t, queries, 2)
	for _, r := range live(srv, "Account") {
		require.Equal(t, "new", r["Name"])
	}
}

// set_if_empty still applies once records are found by match_on.
func TestUpdateByMatchOnKeepsGuardedFields(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			seed(t, srv, "Account", map[string]any{"Name": "One", "External_Id__c": "A-1", "Phone": "kept"})
			seed(t, srv, "Account", map[string]any{"Name": "Two", "External_Id__c": "A-2"})
			s := matchSink(t, emuClient(t, srv), Update, "External_Id__c", fastOptions(api))
			l := sink.NewLayout([]string{"External_Id__c", "Phone"}, []bool{false, true})
			res := write(t, s, recs(l, []any{"A-1", "555"}, []any{"A-2", "555"}))
			requireOK(t, res)
			assert.Equal(t, []string{"Phone"}, res[0].KeptBack)
			got := byExt(srv, "Account")
			assert.Equal(t, "kept", got["A-1"]["Phone"])
			assert.Equal(t, "555", got["A-2"]["Phone"])
		})
	}
}

func TestMatchOnErrors(t *testing.T) {
	srv := emulator(t)
	seed(t, srv, "Account", map[string]any{"Name": "One", "External_Id__c": "A-1"})
	c := emuClient(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The records lack the match_on field.
	s := matchSink(t, c, Update, "External_Id__c", fastOptions(APIREST))
	_, err := s.Write(ctx, recs(sink.NewLayout([]string{"Name"}, nil), []any{"x"}))
	assert.EqualError(t, err, "salesforce: write update Account: match_on External_Id__c is not a field of the records")

	// Salesforce refuses the query: the Write fails, nothing is written.
	s = matchSink(t, c, Update, "Nope__c", fastOptions(APIREST))
	_, err = s.Write(ctx, recs(sink.NewLayout([]string{"Nope__c", "Name"}, nil), []any{"A-1", "x"}))
	assert.ErrorContains(t, err, "finding records by Nope__c")
	assert.Equal(t, "One", byExt(srv, "Account")["A-1"]["Name"])

	// A write stopped during the look-up sends nothing.
	stopped, stop := context.WithCancel(ctx)
	stop()
	s = matchSink(t, c, Update, "External_Id__c", fastOptions(APIREST))
	res, err := s.Write(stopped, recs(sink.NewLayout([]string{"External_Id__c", "Name"}, nil), []any{"A-1", "x"}))
	require.NoError(t, err)
	assert.Equal(t, sink.SkipNotSent, res[0].Skipped)
	assert.Equal(t, "One", byExt(srv, "Account")["A-1"]["Name"])

	// Plans see the same errors.
	s = matchSink(t, c, Update, "Nope__c", fastOptions(APIREST))
	_, err = s.Plan(ctx, recs(sink.NewLayout([]string{"Nope__c", "Name"}, nil), []any{"A-1", "x"}))
	assert.ErrorContains(t, err, "finding records by Nope__c")

	// A relationship path is no match_on field.
	_, err = buildSink(c, Destination{Object: "Account", Operation: Update, MatchOn: "Parent.External_Id__c", Options: fastOptions(APIREST)})
	assert.ErrorContains(t, err, `match_on "Parent.External_Id__c" is not a field name`)

	// match_on applies to update, delete and hard_delete only.
	_, err = buildSink(c, Destination{Object: "Account", Operation: Upsert, ExternalID: "External_Id__c", MatchOn: "Name", Options: fastOptions(APIREST)})
	assert.ErrorContains(t, err, "match_on applies to update, delete and hard_delete")
	o := fastOptions(APIREST)
	o.MaxDeletes = DeleteLimit{Count: 1, Set: true}
	_, err = buildSink(c, Destination{Object: "Account", Operation: Update, MatchOn: "Name", Options: o})
	assert.ErrorContains(t, err, "max_deletes applies to delete, hard_delete and upserts with on_removed, not update")
	o = fastOptions(APIREST)
	o.OnNotFound = "ignore"
	_, err = buildSink(c, Destination{Object: "Account", Operation: Update, MatchOn: "Name", Options: o})
	assert.ErrorContains(t, err, `on_not_found "ignore": want skip or fail`)
}

// A plan finds records by match_on as a write does.
func TestPlanByMatchOn(t *testing.T) {
	srv := emulator(t)
	seed(t, srv, "Account", map[string]any{"Name": "One", "External_Id__c": "A-1"})
	seed(t, srv, "Account", map[string]any{"Name": "Same", "External_Id__c": "A-2"})
	seed(t, srv, "Account", map[string]any{"Name": "Twin", "External_Id__c": "T-1", "AccountNumber": "TWIN"})
	seed(t, srv, "Account", map[string]any{"Name": "Twin", "External_Id__c": "T-2", "AccountNumber": "TWIN"})
	c := emuClient(t, srv)
	s := matchSink(t, c, Update, "External_Id__c", fastOptions(APIREST))
	l := sink.NewLayout([]string{"External_Id__c", "Name"}, nil)
	records := recs(l, []any{"A-1", "One!"}, []any{"A-2", "Same"}, []any{"A-3", "New"})
	plan := planCall(t, s, records)
	assert.Equal(t, []sink.FieldChange{{Field: "Name", From: "One", To: "One!"}}, plan[0].Changes)
	assert.Equal(t, sink.SkipUnchanged, plan[1].Skipped)
	assert.Equal(t, sink.SkipNotFound, plan[2].Skipped)
	wrote := writeCall(t, s, records)
	assert.Nil(t, wrote[0].Err)
	assert.Equal(t, sink.SkipNotFound, wrote[2].Skipped)

	s = matchSink(t, c, Delete, "AccountNumber", fastOptions(APIREST))
	plan = planCall(t, s, recs(sink.NewLayout([]string{"AccountNumber"}, nil), []any{"TWIN"}))
	require.NotNil(t, plan[0].Err)
	assert.Equal(t, CodeMultipleMatches, plan[0].Err.Code)
	assert.Len(t, live(srv, "Account"), 4, "a plan deletes nothing")
}

// match_on on a field without an index passes the preflight with a
// warning, which the sync's report carries through Stats; indexed fields
// pass without one.
func TestMatchOnIndexWarning(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv)
	ctx := context.Background()
	for _, tc := range []struct {
		object, field string
		warned        bool
	}{
		{"Account", "Phone", true},
		{"Account", "Website", true},
		{"Account", "External_Id__c", false},
		{"Account", "Name", false},
		{"Account", "Id", false},
		{"Contact", "AccountId", false},
		{"Contact", "Email", false},
	} {
		s, err := buildSink(c, Destination{Object: tc.object, Operation: Update, MatchOn: tc.field, Options: fastOptions(APIREST)})
		require.NoError(t, err)
		require.NoError(t, s.Preflight(ctx, sink.NewLayout([]string{tc.field}, nil)), tc.field)
		require.NoError(t, s.Preflight(ctx, sink.NewLayout([]string{tc.field}, nil)), "a second preflight does not warn again")
		w := s.Warnings()
		if !tc.warned {
			assert.Empty(t, w, tc.field)
			continue
		}
		require.Len(t, w, 1, tc.field)
		assert.Contains(t, w[0], "match_on "+tc.object+"."+tc.field+" is not indexed")
	}
}

// The warning reaches the sync's report, in a plan and in a run.
func TestMatchOnIndexWarningInTheReport(t *testing.T) {
	for _, plan := range []bool{true, false} {
		srv := emulator(t)
		_, err := srv.Insert("Account", map[string]any{"Name": "A", "Phone": "555-0100"})
		require.NoError(t, err)
		rows := table{cols: []string{"K", "PHONE", "N"}, rows: [][]any{{"a", "555-0100", "Renamed"}}}
		sync := syncFile("Account", "update", "", APIREST, "  match_on: Phone\n",
			"  - {from: PHONE, to: Phone}\n  - {from: N, to: Name}\n")
		rep, _ := semanticsRun(t, srv, rows, sync, plan)
		require.Len(t, rep.Warnings, 1, "plan %v", plan)
		assert.Contains(t, rep.Warnings[0], "match_on Account.Phone is not indexed")
	}
}
