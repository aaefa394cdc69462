package salesforce

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/state"
	"github.com/retl-go/retl/sink"
)

// stateStore is the warehouse state in a SQLite file of the test.
func stateStore(t *testing.T) *state.Store {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "wh.db")+"?_pragma=busy_timeout(30000)")
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	st, err := state.New(db, state.SQLite, state.Options{})
	require.NoError(t, err)
	return st
}

func mirrorSync(api, onRemoved, extra string) string {
	return `name: accounts
source: {type: rows}
destination:
  connection: crm
  object: Account
  operation: upsert
  match_on: External_Id__c
  api: ` + api + `
  poll_max_wait: 20ms
` + extra + `mapping:
  - {from: ID, to: External_Id__c}
  - {from: NAME, to: Name}
key: ID
change_detection: true
on_removed: ` + onRemoved + "\n"
}

func accountRows(keys ...string) table {
	t := table{cols: []string{"ID", "NAME"}}
	for _, k := range keys {
		t.rows = append(t.rows, []any{k, "Account " + k})
	}
	return t
}

// Mirror: records the sync wrote whose keys the query no longer returns
// are deleted, and only those; records made by hand stay, whatever their
// keys. max_deletes stops the removal before the first, and a plan says
// what would be removed.
func TestMirrorDeletesOnlyWhatTheSyncWrote(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			hand := seed(t, srv, "Account", map[string]any{"Name": "By hand", "External_Id__c": "H-1"})
			handNoKey := seed(t, srv, "Account", map[string]any{"Name": "By hand, no key"})
			r := &engineRun{srv: srv, opts: []reverseetl.Option{reverseetl.WithState(stateStore(t))}}
			sync := func(limit string) map[string]string {
				return map[string]string{"accounts.yaml": mirrorSync(api, "delete", "  max_deletes: "+limit+"\n")}
			}

			r.tables = map[string]table{"accounts": accountRows("A-1", "A-2", "A-3", "A-4", "A-5")}
			sr := r.run(t, sync("2"), reverseetl.RunOptions{}).Sync("accounts")
			require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
			assert.EqualValues(t, 5, sr.Created)
			assert.Equal(t, &reverseetl.RemovedReport{Action: "delete"}, sr.Removed)

			r.tables = map[string]table{"accounts": accountRows("A-1", "A-2", "A-3")}
			sr = r.run(t, sync("2"), reverseetl.RunOptions{Plan: true}).Sync("accounts")
			require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
			assert.Equal(t, &reverseetl.RemovedReport{Action: "delete", Found: 2, Done: 2}, sr.Removed)
			assert.Equal(t, "on_removed would act on 2 Account records, within max_deletes (2)", sr.Stats.Notes["max_deletes"])
			assert.Len(t, live(srv, "Account"), 7, "a plan removes nothing")

			sr = r.run(t, sync("2"), reverseetl.RunOptions{}).Sync("accounts")
			require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
			assert.EqualValues(t, 3, sr.Read)
			assert.EqualValues(t, 3, sr.Unchanged)
			assert.Equal(t, &reverseetl.RemovedReport{Action: "delete", Found: 2, Done: 2}, sr.Removed)
			got := byExt(srv, "Account")
			assert.NotContains(t, got, "A-4")
			assert.NotContains(t, got, "A-5")
			assert.Contains(t, got, "A-1")
			for _, id := range []string{hand, handNoKey} {
				found := false
				for _, rec := range live(srv, "Account") {
					found = found || rec["Id"] == id
				}
				assert.True(t, found, "a record made by hand is never removed")
			}
			assert.Len(t, live(srv, "Account"), 5)

			// Nothing is left to remove.
			sr = r.run(t, sync("2"), reverseetl.RunOptions{}).Sync("accounts")
			assert.Equal(t, &reverseetl.RemovedReport{Action: "delete"}, sr.Removed)

			// A query that returns far fewer keys breaks the guardrail:
			// the sync fails, nothing is removed.
			r.tables = map[string]table{"accounts": accountRows()}
			for _, plan := range []bool{true, false} {
				sr = r.run(t, sync("2"), reverseetl.RunOptions{Plan: plan}).Sync("accounts")
				assert.Equal(t, reverseetl.Failed, sr.Status)
				assert.Equal(t, "on_removed: salesforce: max_deletes: on_removed would act on 3 Account records, more than max_deletes allows (2); nothing was removed", sr.Error)
				assert.Len(t, live(srv, "Account"), 5)
			}
			sr = r.run(t, sync("60%"), reverseetl.RunOptions{}).Sync("accounts")
			require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
			assert.Equal(t, &reverseetl.RemovedReport{Action: "delete", Found: 3, Done: 3}, sr.Removed)
			assert.Len(t, live(srv, "Account"), 2)
			assert.NotEmpty(t, sr.Stats.Calls)
			assert.Equal(t, api, sr.Stats.Notes["on_removed_api"])
		})
	}
}

// on_removed: {set: ...} updates the records instead; one already deleted
// by hand is skipped and forgotten.
func TestMirrorSetsFields(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			r := &engineRun{srv: srv, opts: []reverseetl.Option{reverseetl.WithState(stateStore(t))}}
			sync := map[string]string{"accounts.yaml": mirrorSync(api, "{set: {Description: gone, NumberOfEmployees: 0}}", "")}
			r.tables = map[string]table{"accounts": accountRows("A-1", "A-2", "A-3")}
			r.run(t, sync, reverseetl.RunOptions{})
			c := emuClient(t, srv)
			s := emuSink(t, c, "Account", Delete, "", fastOptions(APIREST))
			requireOK(t, write(t, s, recs(sink.NewLayout([]string{"Id"}, nil), []any{byExt(srv, "Account")["A-3"]["Id"].(string)})))

			r.tables = map[string]table{"accounts": accountRows("A-1")}
			sr := r.run(t, sync, reverseetl.RunOptions{}).Sync("accounts")
			require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
			assert.Equal(t, &reverseetl.RemovedReport{Action: "set", Found: 2, Done: 1, Skipped: 1}, sr.Removed)
			got := byExt(srv, "Account")
			assert.Equal(t, "gone", got["A-2"]["Description"])
			assert.EqualValues(t, 0, got["A-2"]["NumberOfEmployees"])
			assert.Nil(t, got["A-1"]["Description"])
			assert.Len(t, live(srv, "Account"), 2, "set deletes nothing")

			sr = r.run(t, sync, reverseetl.RunOptions{}).Sync("accounts")
			assert.Equal(t, &reverseetl.RemovedReport{Action: "set"}, sr.Removed, "each record is acted on once")
		})
	}
}

// Remove on its own: nothing to do, a write that fails as a whole, and
// auto picking REST for a few records.
func TestRemoveEdges(t *testing.T) {
	srv := emulator(t)
	id := seed(t, srv, "Account", map[string]any{"Name": "x"})
	c := emuClient(t, srv)
	opt := fastOptions(APIAuto)
	s := emuSink(t, c, "Account", Upsert, "External_Id__c", opt)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := s.Remove(ctx, sink.Removal{})
	require.NoError(t, err)
	assert.Empty(t, res)

	res, err = s.Remove(ctx, sink.Removal{IDs: []string{id, "001000000000000AAA"}})
	require.NoError(t, err)
	assert.Nil(t, res[0].Err)
	assert.Equal(t, sink.Result{ID: "001000000000000AAA", Skipped: sink.SkipAlreadyDeleted}, res[1])
	assert.Equal(t, APIREST, s.Stats().Notes["on_removed_api"])
	assert.Empty(t, live(srv, "Account"))

	done, cancelNow := context.WithCancel(ctx)
	cancelNow()
	_, err = s.Remove(done, sink.Removal{IDs: []string{id}})
	assert.ErrorContains(t, err, "context canceled")
}

// max_deletes of on_removed counts the records still there: one deleted
// by hand does not count, and is skipped.
func TestMirrorLimitCountsPresentRecords(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			r := &engineRun{srv: srv, opts: []reverseetl.Option{reverseetl.WithState(stateStore(t))}}
			sync := map[string]string{"accounts.yaml": mirrorSync(api, "delete", "  max_deletes: 1\n")}
			r.tables = map[string]table{"accounts": accountRows("A-1", "A-2", "A-3")}
			sr := r.run(t, sync, reverseetl.RunOptions{}).Sync("accounts")
			require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
			c := emuClient(t, srv)
			s := emuSink(t, c, "Account", Delete, "", fastOptions(APIREST))
			requireOK(t, write(t, s, recs(sink.NewLayout([]string{"Id"}, nil), []any{byExt(srv, "Account")["A-3"]["Id"].(string)})))

			r.tables = map[string]table{"accounts": accountRows("A-1")}
			for _, plan := range []bool{true, false} {
				sr = r.run(t, sync, reverseetl.RunOptions{Plan: plan}).Sync("accounts")
				require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
				assert.Equal(t, &reverseetl.RemovedReport{Action: "delete", Found: 2, Done: 1, Skipped: 1}, sr.Removed)
				assert.Equal(t, "on_removed would act on 1 Account records, within max_deletes (1)", sr.Stats.Notes["max_deletes"])
			}
			assert.Len(t, live(srv, "Account"), 1)
			sr = r.run(t, sync, reverseetl.RunOptions{Plan: true}).Sync("accounts")
			assert.Equal(t, &reverseetl.RemovedReport{Action: "delete"}, sr.Removed)
			assert.Zero(t, sr.Written())
		})
	}
}

// A key that changes only in case finds the same record, as Salesforce
// matches an external id without case: on_removed leaves that record
// alone, whether the upsert under the new key fails (the keys compare as
// Salesforce compares them) or succeeds (the record's Id was written this
// run, and the old key's state is forgotten).
func TestMirrorKeyChangedInCaseKeepsTheRecord(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			st := stateStore(t)
			r := &engineRun{srv: srv, opts: []reverseetl.Option{reverseetl.WithState(st)}}
			sync := map[string]string{"accounts.yaml": mirrorSync(api, "delete", "  max_deletes: 5\n")}
			r.tables = map[string]table{"accounts": accountRows("A-010", "A-2")}
			sr := r.run(t, sync, reverseetl.RunOptions{}).Sync("accounts")
			require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
			id := byExt(srv, "Account")["A-010"]["Id"]

			// The new key's write fails: the record stays, so does the
			// old key's state.
			tooLong := accountRows("a-010", "A-2")
			tooLong.rows[0][1] = strings.Repeat("x", 300)
			r.tables = map[string]table{"accounts": tooLong}
			for _, plan := range []bool{true, false} {
				sr = r.run(t, sync, reverseetl.RunOptions{Plan: plan}).Sync("accounts")
				assert.EqualValues(t, 1, sr.Failed)
				assert.Equal(t, &reverseetl.RemovedReport{Action: "delete"}, sr.Removed, "plan %v", plan)
			}
			require.Len(t, live(srv, "Account"), 2)

			r.tables = map[string]table{"accounts": accountRows("a-010", "A-2")}
			for _, plan := range []bool{true, false} {
				sr = r.run(t, sync, reverseetl.RunOptions{Plan: plan}).Sync("accounts")
				require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
				assert.EqualValues(t, 1, sr.Updated, "plan %v", plan)
				assert.Equal(t, &reverseetl.RemovedReport{Action: "delete"}, sr.Removed, "plan %v", plan)
			}
			got := live(srv, "Account")
			require.Len(t, got, 2)
			ids := []any{got[0]["Id"], got[1]["Id"]}
			assert.Contains(t, ids, id, "the upsert updated the same record")
			var keys []string
			require.NoError(t, st.StateRows(context.Background(), "accounts", func(row reverseetl.StateRow) error {
				keys = append(keys, row.Key)
				return nil
			}))
			assert.ElementsMatch(t, []string{"a-010", "A-2"}, keys, "the old key's state is forgotten")

			sr = r.run(t, sync, reverseetl.RunOptions{Plan: true}).Sync("accounts")
			assert.Zero(t, sr.Written())
			assert.EqualValues(t, 2, sr.Unchanged)
			assert.Equal(t, &reverseetl.RemovedReport{Action: "delete"}, sr.Removed)

			// When the key leaves the query, the record goes.
			r.tables = map[string]table{"accounts": accountRows("A-2")}
			for _, plan := range []bool{true, false} {
				sr = r.run(t, sync, reverseetl.RunOptions{Plan: plan}).Sync("accounts")
				require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
				assert.Equal(t, &reverseetl.RemovedReport{Action: "delete", Found: 1, Done: 1}, sr.Removed)
			}
			assert.Len(t, live(srv, "Account"), 1)
		})
	}
}
