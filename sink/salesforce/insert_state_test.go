package salesforce

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
)

func insertSync(api, extra string) string {
	return `name: renewals
source: {type: rows}
destination:
  connection: crm
  object: Account
  operation: insert
  api: ` + api + `
  poll_max_wait: 20ms
key: ID
change_detection: true
mapping:
  - {from: ID, to: AccountNumber}
  - {from: NAME, to: Name}
` + extra
}

// An insert sync with change detection never inserts a key Salesforce
// already accepted from it: not when the row changes, not after a mapping
// change, not with --full. The plan predicts each run, and a plan after a
// run shows nothing to do.
func TestInsertSyncInsertsEachKeyOnce(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			r := &engineRun{srv: srv, opts: []reverseetl.Option{reverseetl.WithState(stateStore(t))}}
			files := map[string]string{"renewals.yaml": insertSync(api, "")}
			r.tables = map[string]table{"renewals": {cols: []string{"ID", "NAME"}, rows: [][]any{{"R-1", "one"}, {"R-2", "two"}, {"R-3", "three"}}}}
			for _, plan := range []bool{true, false} {
				sr := r.run(t, files, reverseetl.RunOptions{Plan: plan}).Sync("renewals")
				require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
				assert.EqualValues(t, 3, sr.Created)
			}
			require.Len(t, live(srv, "Account"), 3)
			first := map[string]string{}
			for _, rec := range live(srv, "Account") {
				first[rec["AccountNumber"].(string)] = rec["Id"].(string)
			}

			r.tables["renewals"].rows[1][1] = "two, renamed"
			changed := map[string]string{"renewals.yaml": insertSync(api, "  - {to: Description, value: from the warehouse}\n")}
			for _, tc := range []struct {
				files map[string]string
				opts  reverseetl.RunOptions
				want  map[sink.SkipCode]int64
			}{
				{files, reverseetl.RunOptions{Plan: true}, map[sink.SkipCode]int64{sink.SkipUnchanged: 2, sink.SkipAlreadyInserted: 1}},
				{files, reverseetl.RunOptions{}, map[sink.SkipCode]int64{sink.SkipUnchanged: 2, sink.SkipAlreadyInserted: 1}},
				{changed, reverseetl.RunOptions{Plan: true}, map[sink.SkipCode]int64{sink.SkipAlreadyInserted: 3}},
				{changed, reverseetl.RunOptions{}, map[sink.SkipCode]int64{sink.SkipAlreadyInserted: 3}},
				{changed, reverseetl.RunOptions{Full: true, Plan: true}, map[sink.SkipCode]int64{sink.SkipAlreadyInserted: 3}},
				{changed, reverseetl.RunOptions{Full: true}, map[sink.SkipCode]int64{sink.SkipAlreadyInserted: 3}},
			} {
				sr := r.run(t, tc.files, tc.opts).Sync("renewals")
				require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
				assert.Zero(t, sr.Written(), "%+v", tc.opts)
				assert.Equal(t, tc.want, sr.SkipReasons, "%+v", tc.opts)
			}
			got := map[string]string{}
			for _, rec := range live(srv, "Account") {
				got[rec["AccountNumber"].(string)] = rec["Id"].(string)
				assert.Nil(t, rec["Description"], "insert updated nothing")
			}
			assert.Equal(t, first, got, "no second record")

			// A new key is inserted, once.
			r.tables["renewals"] = table{cols: []string{"ID", "NAME"}, rows: append(r.tables["renewals"].rows, []any{"R-4", "four"})}
			for _, plan := range []bool{true, false} {
				sr := r.run(t, changed, reverseetl.RunOptions{Plan: plan}).Sync("renewals")
				require.Equal(t, reverseetl.Succeeded, sr.Status, sr.Error)
				assert.EqualValues(t, 1, sr.Created)
				assert.EqualValues(t, 3, sr.SkipReasons[sink.SkipAlreadyInserted])
			}
			sr := r.run(t, changed, reverseetl.RunOptions{Plan: true}).Sync("renewals")
			assert.Zero(t, sr.Written())
			assert.EqualValues(t, 1, sr.Unchanged)
			assert.Len(t, live(srv, "Account"), 4)
			assert.Equal(t, "from the warehouse", byAccountNumber(srv)["R-4"]["Description"])
		})
	}
}

func byAccountNumber(srv interface {
	Records(string) []map[string]any
}) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range srv.Records("Account") {
		if k, ok := r["AccountNumber"].(string); ok && r["IsDeleted"] != true {
			out[k] = r
		}
	}
	return out
}
