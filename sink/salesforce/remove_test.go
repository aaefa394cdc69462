package salesforce

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// on_removed counts a record as gone only when it is: one in the Recycle
// Bin (ENTITY_IS_DELETED) or hard-deleted (INVALID_CROSS_REFERENCE_KEY,
// and queryAll does not find it) is skipped and forgotten; one still
// there whose update Salesforce refuses with INVALID_CROSS_REFERENCE_KEY
// (here a lookup to no record) fails with that code and is kept, so the
// next run tries it again.
func TestOnRemovedGoneOnlyWhenGone(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			r := &engineRun{srv: srv, opts: []reverseetl.Option{reverseetl.WithState(stateStore(t))}}
			badLookup := map[string]string{"accounts.yaml": mirrorSync(api, "{set: {Description: gone, ParentId: 001000000000000AAA}}", "")}
			r.tables = map[string]table{"accounts": accountRows("A-1", "A-2", "A-3", "A-4")}
			sr := r.run(t, badLookup, reverseetl.RunOptions{}).Sync("accounts")
			require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)

			c := emuClient(t, srv)
			ids := byExt(srv, "Account")
			soft := emuSink(t, c, "Account", Delete, "", fastOptions(APIREST))
			requireOK(t, write(t, soft, recs(sink.NewLayout([]string{"Id"}, nil), []any{ids["A-2"]["Id"].(string)})))
			hard := emuSink(t, c, "Account", HardDelete, "", fastOptions(APIBulk))
			requireOK(t, write(t, hard, recs(sink.NewLayout([]string{"Id"}, nil), []any{ids["A-3"]["Id"].(string)})))
			require.Len(t, queryAllIDs(t, c, "SELECT Id FROM Account WHERE External_Id__c = 'A-3'"), 0, "hard-deleted")

			r.tables = map[string]table{"accounts": accountRows("A-1")}
			// The plan finds the two gone records; it cannot know that the
			// lookup finds nothing, as it evaluates no lookup by Id.
			sr = r.run(t, badLookup, reverseetl.RunOptions{Plan: true}).Sync("accounts")
			require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
			assert.Equal(t, &reverseetl.RemovedReport{Action: "set", Found: 3, Done: 1, Skipped: 2}, sr.Removed)

			sr = r.run(t, badLookup, reverseetl.RunOptions{}).Sync("accounts")
			assert.Equal(t, reverseetl.Failed, sr.Status)
			assert.Equal(t, "on_removed: 1 rows failed (on_failure allows none)", sr.Error)
			require.NotNil(t, sr.Removed)
			assert.EqualValues(t, 3, sr.Removed.Found)
			assert.EqualValues(t, 2, sr.Removed.Skipped)
			assert.EqualValues(t, 1, sr.Removed.Failed)
			assert.Zero(t, sr.Removed.Done)
			require.Len(t, sr.Removed.FailedRows, 1)
			assert.Equal(t, "A-4", sr.Removed.FailedRows[0].Key)
			assert.Equal(t, "INVALID_CROSS_REFERENCE_KEY", sr.Removed.FailedRows[0].Err.Code)
			got := byExt(srv, "Account")
			assert.Nil(t, got["A-4"]["Description"], "the refused update changed nothing")
			assert.Len(t, live(srv, "Account"), 2)

			// A-4 stays in the state and is tried again; with a set that
			// Salesforce accepts it is done.
			fixed := map[string]string{"accounts.yaml": mirrorSync(api, "{set: {Description: gone}}", "")}
			sr = r.run(t, fixed, reverseetl.RunOptions{Plan: true}).Sync("accounts")
			require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
			assert.Equal(t, &reverseetl.RemovedReport{Action: "set", Found: 1, Done: 1}, sr.Removed)
			sr = r.run(t, fixed, reverseetl.RunOptions{}).Sync("accounts")
			require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
			assert.Equal(t, &reverseetl.RemovedReport{Action: "set", Found: 1, Done: 1}, sr.Removed)
			assert.Equal(t, "gone", byExt(srv, "Account")["A-4"]["Description"])

			sr = r.run(t, fixed, reverseetl.RunOptions{Plan: true}).Sync("accounts")
			require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
			assert.Equal(t, &reverseetl.RemovedReport{Action: "set"}, sr.Removed, "nothing is left to act on")
			assert.EqualValues(t, 1, sr.Unchanged)
			assert.Zero(t, sr.Written())
		})
	}
}

// When queryAll cannot say whether a record is gone, the record keeps
// Salesforce's error, with the reason; Ids queryAll returns over several
// pages are all read.
func TestRemoveGoneCheck(t *testing.T) {
	srv := emulator(t, sftest.WithQueryBatchSize(2))
	var keep []string
	for i := range 5 {
		keep = append(keep, seed(t, srv, "Account", map[string]any{"Name": fmt.Sprintf("n%d", i)}))
	}
	c := emuClient(t, srv, func(c *connConfig) { c.MaxRetries = Int(0) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	missing := "001000000000000AAA"

	live, err := c.liveIDs(ctx, "Account", append([]string{missing, "not an id"}, keep...))
	require.NoError(t, err)
	assert.Len(t, live, 5, "five live records, read two a page")
	assert.False(t, live[foldKey(keyID, missing)])
	_, err = c.liveIDs(ctx, "Bad Object", keep)
	assert.ErrorContains(t, err, `"Bad Object" is not an object name`)

	s := emuSink(t, c, "Account", Upsert, "External_Id__c", fastOptions(APIREST))
	for _, f := range []sftest.Fault{
		{Kind: sftest.FaultStatus, Path: "/queryAll", Status: 400, Times: 1},
		{Kind: sftest.FaultMalformed, Path: "/queryAll", Times: 1},
	} {
		srv.Fault(f)
		res, err := s.Remove(ctx, sink.Removal{IDs: []string{missing}})
		require.NoError(t, err)
		require.Len(t, res, 1)
		require.NotNil(t, res[0].Err, "not known to be gone: %+v", res[0])
		assert.Equal(t, "INVALID_CROSS_REFERENCE_KEY", res[0].Err.Code)
		assert.Contains(t, res[0].Err.Message, "whether the record is gone could not be checked: ")
	}
	res, err := s.Remove(ctx, sink.Removal{IDs: []string{missing}})
	require.NoError(t, err)
	assert.Equal(t, []sink.Result{{ID: missing, Skipped: sink.SkipAlreadyDeleted}}, res)
}
