package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

func TestParseDeleteLimit(t *testing.T) {
	for in, want := range map[string]DeleteLimit{
		"500":    {Count: 500, Set: true},
		"0":      {Set: true},
		"10%":    {Share: 10, Percent: true, Set: true},
		" 2.5 %": {Share: 2.5, Percent: true, Set: true},
		"100%":   {Share: 100, Percent: true, Set: true},
	} {
		got, err := ParseDeleteLimit(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	assert.Equal(t, "2.5%", DeleteLimit{Share: 2.5, Percent: true}.String())
	assert.Equal(t, "500", DeleteLimit{Count: 500}.String())
	for _, in := range []string{"-1", "lots", "", "1.5"} {
		_, err := ParseDeleteLimit(in)
		assert.ErrorContains(t, err, "want a count of records such as 500", in)
	}
	for _, in := range []string{"101%", "-1%", "x%", "NaN%"} {
		_, err := ParseDeleteLimit(in)
		assert.ErrorContains(t, err, "want a percentage between 0% and 100%", in)
	}
}

// queryAllIDs returns the Ids queryAll finds for a SOQL condition.
func queryAllIDs(t *testing.T, c *apiClient, soql string) []string {
	t.Helper()
	b, err := c.get(context.Background(), c.dataPath("queryAll")+"?"+url.Values{"q": {soql}}.Encode())
	require.NoError(t, err)
	var page struct {
		Records []struct {
			ID string `json:"Id"`
		} `json:"records"`
	}
	require.NoError(t, json.Unmarshal(b, &page))
	var out []string
	for _, r := range page.Records {
		out = append(out, r.ID)
	}
	return out
}

// Delete and hard delete by match_on remove exactly the records found, and
// nothing else; a hard-deleted record is not in queryAll either.
func TestDeleteByMatchOn(t *testing.T) {
	for _, tc := range []struct {
		api string
		op  Operation
	}{{APIBulk, Delete}, {APIREST, Delete}, {APIBulk, HardDelete}} {
		t.Run(tc.api+"/"+string(tc.op), func(t *testing.T) {
			srv := emulator(t)
			ids := map[string]string{}
			for _, k := range []string{"A-1", "A-2", "A-3"} {
				ids[k] = seed(t, srv, "Account", map[string]any{"Name": k, "External_Id__c": k})
			}
			hand := seed(t, srv, "Account", map[string]any{"Name": "by hand"})
			c := emuClient(t, srv)
			s := matchSink(t, c, tc.op, "External_Id__c", fastOptions(tc.api))
			res := write(t, s, recs(sink.NewLayout([]string{"External_Id__c"}, nil), []any{"A-1"}, []any{"a-2"}, []any{"A-404"}))
			assert.Equal(t, ids["A-1"], toID18(res[0].ID))
			assert.Nil(t, res[0].Err)
			assert.Nil(t, res[1].Err)
			assert.Equal(t, sink.SkipNotFound, res[2].Skipped)

			got := map[string]bool{}
			for _, r := range live(srv, "Account") {
				got[r["Id"].(string)] = true
			}
			assert.Equal(t, map[string]bool{ids["A-3"]: true, hand: true}, got, "exactly the matched records are gone")
			all := queryAllIDs(t, c, "SELECT Id FROM Account WHERE Name IN ('A-1', 'A-2')")
			if tc.op == HardDelete {
				assert.Empty(t, all, "hard-deleted records are not in queryAll")
				assert.Len(t, srv.Records("Account"), 2)
			} else {
				assert.ElementsMatch(t, []string{ids["A-1"], ids["A-2"]}, all, "soft-deleted records are in queryAll")
			}
		})
	}
}

// deleteSync deletes the accounts whose external ids the rows list.
func deleteSync(api, limit string) string {
	return `name: cleanup
source: {type: rows}
destination:
  connection: crm
  object: Account
  operation: delete
  match_on: External_Id__c
  api: ` + api + `
  poll_max_wait: 20ms
  max_deletes: "` + limit + `"
mapping:
  - {from: EXT, to: External_Id__c}
`
}

func extRows(keys ...string) table {
	t := table{cols: []string{"EXT"}}
	for _, k := range keys {
		t.rows = append(t.rows, []any{k})
	}
	return t
}

// max_deletes stops a delete sync before the first deletion when the run
// would delete more: the sync fails naming the numbers, and every record
// is still there. Within the limit, the records go.
func TestMaxDeletesGuardrail(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			for i := range 30 {
				seed(t, srv, "Account", map[string]any{"Name": "n", "External_Id__c": fmt.Sprintf("A-%02d", i)})
			}
			r := &engineRun{srv: srv, tables: map[string]table{"cleanup": extRows("A-00", "A-01", "A-02", "A-03")}}

			for _, tc := range []struct{ limit, msg string }{
				{"3", "max_deletes: the sync would delete 4 Account records, more than max_deletes allows (3); nothing was deleted"},
				{"10%", "max_deletes: the sync would delete 4 Account records, more than max_deletes allows (3: 10% of 30 Account records); nothing was deleted"},
			} {
				for _, plan := range []bool{true, false} {
					rep := r.run(t, map[string]string{"cleanup.yaml": deleteSync(api, tc.limit)}, reverseetl.RunOptions{Plan: plan})
					sr := rep.Sync("cleanup")
					assert.Equal(t, reverseetl.Failed, sr.Status)
					assert.Contains(t, sr.Error, tc.msg)
					assert.EqualValues(t, 4, sr.Skipped)
					assert.Zero(t, sr.Written())
					assert.Len(t, live(srv, "Account"), 30, "nothing was deleted")
					assert.Contains(t, sr.Stats.Notes["max_deletes"], "more than max_deletes allows")
				}
			}

			rep := r.run(t, map[string]string{"cleanup.yaml": deleteSync(api, "20%")}, reverseetl.RunOptions{Plan: true})
			sr := rep.Sync("cleanup")
			assert.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
			assert.Equal(t, "the sync would delete 4 Account records, within max_deletes (6: 20% of 30 Account records)", sr.Stats.Notes["max_deletes"])
			assert.EqualValues(t, 4, sr.Deleted)
			assert.Len(t, live(srv, "Account"), 30, "a plan deletes nothing")

			rep = r.run(t, map[string]string{"cleanup.yaml": deleteSync(api, "20%")}, reverseetl.RunOptions{})
			sr = rep.Sync("cleanup")
			assert.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
			assert.EqualValues(t, 4, sr.Updated)
			assert.EqualValues(t, 4, sr.Deleted)
			assert.Len(t, live(srv, "Account"), 26)
		})
	}
}

// A percentage needs the object's count; when it cannot be read nothing is
// deleted.
func TestMaxDeletesCountErrors(t *testing.T) {
	srv := emulator(t)
	seed(t, srv, "Account", map[string]any{"Name": "n", "External_Id__c": "A-1"})
	c := emuClient(t, srv, func(c *connConfig) { c.MaxRetries = Int(0) })
	opt := fastOptions(APIREST)
	opt.MaxDeletes = DeleteLimit{Share: 50, Percent: true, Set: true}
	s := matchSink(t, c, Delete, "External_Id__c", opt)
	require.True(t, s.CountFirst())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Path: "/query", Status: 400, Times: 1})
	err := s.Hint(ctx, sink.Hint{Records: 1, Final: true})
	assert.ErrorContains(t, err, "max_deletes: counting the Account records")

	srv.Fault(sftest.Fault{Kind: sftest.FaultMalformed, Path: "/query", Times: 1})
	err = s.Hint(ctx, sink.Hint{Records: 1, Final: true})
	assert.ErrorContains(t, err, "SELECT COUNT() FROM Account: the answer holds no totalSize")

	_, err = c.count(ctx, "Bad Object")
	assert.ErrorContains(t, err, `"Bad Object" is not an object name`)

	// A count that is read: 50% of 1 record is none.
	err = s.Hint(ctx, sink.Hint{Records: 1, Final: true})
	assert.ErrorContains(t, err, "more than max_deletes allows (0: 50% of 1 Account records)")
	require.NoError(t, s.Hint(ctx, sink.Hint{Records: 0, Final: true}))
	assert.Len(t, live(srv, "Account"), 1)

	// Without max_deletes the sink needs no count.
	assert.False(t, matchSink(t, c, Delete, "External_Id__c", fastOptions(APIREST)).CountFirst())
	assert.True(t, strings.HasPrefix(s.Stats().Notes["max_deletes"], "the sync would delete 0 Account records, within"))
}

// max_deletes counts the records a delete sync's rows find, not its rows:
// rows whose records are gone do not count, so re-running a delete sync
// whose records were deleted succeeds, by match_on and by Id, and its
// plan says the same.
func TestMaxDeletesCountsMatchedRecords(t *testing.T) {
	byID := func(api, limit string) string {
		return `name: cleanup
source: {type: rows}
destination:
  connection: crm
  object: Account
  operation: delete
  api: ` + api + `
  poll_max_wait: 20ms
  max_deletes: "` + limit + `"
on_failure: {max_failed_rows: 10}
mapping:
  - {from: ID, to: Id}
`
	}
	for _, api := range apis {
		t.Run(api+"/match_on", func(t *testing.T) {
			srv := emulator(t)
			for i := range 5 {
				seed(t, srv, "Account", map[string]any{"Name": "n", "External_Id__c": fmt.Sprintf("A-%02d", i)})
			}
			r := &engineRun{srv: srv, tables: map[string]table{"cleanup": extRows("A-00", "a-01", "A-97", "A-98", "A-99")}}
			files := func(limit string) map[string]string {
				return map[string]string{"cleanup.yaml": deleteSync(api, limit)}
			}
			for _, plan := range []bool{true, false} {
				sr := r.run(t, files("1"), reverseetl.RunOptions{Plan: plan}).Sync("cleanup")
				assert.Equal(t, reverseetl.Failed, sr.Status)
				assert.Contains(t, sr.Error, "max_deletes: the sync would delete 2 Account records, more than max_deletes allows (1); nothing was deleted")
				assert.Len(t, live(srv, "Account"), 5)
			}
			for _, plan := range []bool{true, false} {
				sr := r.run(t, files("2"), reverseetl.RunOptions{Plan: plan}).Sync("cleanup")
				require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
				assert.Equal(t, "the sync would delete 2 Account records, within max_deletes (2)", sr.Stats.Notes["max_deletes"])
				assert.EqualValues(t, 2, sr.Deleted)
				assert.Equal(t, map[sink.SkipCode]int64{sink.SkipNotFound: 3}, sr.SkipReasons)
			}
			got := byExt(srv, "Account")
			assert.Len(t, got, 3)
			assert.NotContains(t, got, "A-00")
			assert.NotContains(t, got, "A-01")

			// Run again: the records are gone, nothing counts, nothing is
			// deleted, and the plan says so first.
			for _, plan := range []bool{true, false} {
				sr := r.run(t, files("2"), reverseetl.RunOptions{Plan: plan}).Sync("cleanup")
				require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
				assert.Equal(t, "the sync would delete 0 Account records, within max_deletes (2)", sr.Stats.Notes["max_deletes"])
				assert.Zero(t, sr.Deleted)
				assert.Equal(t, map[sink.SkipCode]int64{sink.SkipNotFound: 5}, sr.SkipReasons)
			}
			assert.Len(t, live(srv, "Account"), 3)
		})
		t.Run(api+"/id", func(t *testing.T) {
			srv := emulator(t)
			var ids []string
			for i := range 4 {
				ids = append(ids, seed(t, srv, "Account", map[string]any{"Name": fmt.Sprintf("n%d", i)}))
			}
			c := emuClient(t, srv)
			requireOK(t, write(t, emuSink(t, c, "Account", Delete, "", fastOptions(APIREST)),
				recs(sink.NewLayout([]string{"Id"}, nil), []any{ids[2]}, []any{ids[3]})))
			rows := table{cols: []string{"ID"}}
			// Two live records (one named twice, once in its 15-character
			// form), two deleted ones and an Id that was never there.
			for _, id := range []string{ids[0], ids[1], ids[1][:15], ids[2], ids[3], "001000000000000AAA"} {
				rows.rows = append(rows.rows, []any{id})
			}
			r := &engineRun{srv: srv, tables: map[string]table{"cleanup": rows}}
			for _, plan := range []bool{true, false} {
				sr := r.run(t, map[string]string{"cleanup.yaml": byID(api, "1")}, reverseetl.RunOptions{Plan: plan}).Sync("cleanup")
				assert.Equal(t, reverseetl.Failed, sr.Status)
				assert.Contains(t, sr.Error, "max_deletes: the sync would delete 2 Account records, more than max_deletes allows (1)")
			}
			assert.Len(t, live(srv, "Account"), 2)
			for _, plan := range []bool{true, false} {
				sr := r.run(t, map[string]string{"cleanup.yaml": byID(api, "2")}, reverseetl.RunOptions{Plan: plan}).Sync("cleanup")
				assert.Equal(t, "the sync would delete 2 Account records, within max_deletes (2)", sr.Stats.Notes["max_deletes"])
				assert.NotContains(t, sr.Error, "max_deletes")
			}
			assert.Empty(t, live(srv, "Account"))
			for _, plan := range []bool{true, false} {
				sr := r.run(t, map[string]string{"cleanup.yaml": byID(api, "0")}, reverseetl.RunOptions{Plan: plan}).Sync("cleanup")
				assert.Equal(t, "the sync would delete 0 Account records, within max_deletes (0)", sr.Stats.Notes["max_deletes"])
				assert.Zero(t, sr.Deleted)
				assert.NotContains(t, sr.Error, "max_deletes")
			}
		})
	}
}

// A count that cannot be read deletes nothing: by match_on, by Id, and
// for on_removed.
func TestMaxDeletesMatchedCountErrors(t *testing.T) {
	srv := emulator(t)
	id := seed(t, srv, "Account", map[string]any{"Name": "n", "External_Id__c": "A-1"})
	c := emuClient(t, srv, func(c *connConfig) { c.MaxRetries = Int(0) })
	opt := fastOptions(APIREST)
	opt.MaxDeletes = DeleteLimit{Count: 5, Set: true}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	byMatch := matchSink(t, c, Delete, "External_Id__c", opt)
	srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Path: "/query", Status: 400, Times: 1})
	err := byMatch.CheckCount(ctx, recs(sink.NewLayout([]string{"External_Id__c"}, nil), []any{"A-1"}))
	assert.ErrorContains(t, err, "max_deletes: counting the Account records the rows find")
	assert.True(t, byMatch.CountFirst(), "a failed count leaves the limit to apply")

	byID := emuSink(t, c, "Account", Delete, "", opt)
	srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Path: "/query", Status: 400, Times: 1})
	err = byID.CheckCount(ctx, recs(sink.NewLayout([]string{"Id"}, nil), []any{id}))
	assert.ErrorContains(t, err, "max_deletes: counting the Account records the rows find")

	// Records without the key field, or with a malformed Id, find none.
	require.NoError(t, byID.CheckCount(ctx, recs(sink.NewLayout([]string{"Name"}, nil), []any{"x"})))
	assert.Equal(t, "the sync would delete 0 Account records, within max_deletes (5)", byID.Stats().Notes["max_deletes"])
	require.NoError(t, byID.CheckCount(ctx, recs(sink.NewLayout([]string{"Id"}, nil), []any{"not an id"})))
	assert.False(t, byID.CountFirst(), "counted: Hint does not count rows again")
	require.NoError(t, byID.Hint(ctx, sink.Hint{Records: 100, Final: true}))

	// Other operations have nothing to count.
	up := emuSink(t, c, "Account", Upsert, "External_Id__c", opt)
	require.NoError(t, up.CheckCount(ctx, recs(sink.NewLayout([]string{"External_Id__c"}, nil), []any{"A-1"})))
	assert.NotContains(t, up.Stats().Notes, "max_deletes")

	srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Path: "/query", Status: 400, Times: 1})
	_, err = up.Remove(ctx, sink.Removal{IDs: []string{id}})
	assert.ErrorContains(t, err, "salesforce: max_deletes: ")
	assert.Len(t, live(srv, "Account"), 1, "nothing was removed")
}
