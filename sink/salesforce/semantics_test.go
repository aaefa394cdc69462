package salesforce

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
	"github.com/retl-go/retl/source"
	"github.com/retl-go/retl/source/memory"
)

// outcomeLog keeps every row's outcome of a run by key, as "written",
// "created", "unchanged", "failed CODE" or "skipped REASON".
type outcomeLog struct {
	reverseetl.NopObserver
	mu   sync.Mutex
	rows map[string]string
	kept map[string][]string
}

func (o *outcomeLog) Outcomes(_ context.Context, _ *config.Sync, outs []reverseetl.Outcome) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, x := range outs {
		var v string
		switch {
		case x.Kind == reverseetl.RowFailed:
			v = "failed " + x.Err.Code
		case x.Kind == reverseetl.RowSkipped:
			v = "skipped " + string(x.Reason)
		case x.Created:
			v = "created"
		default:
			v = "updated"
		}
		o.rows[x.Key] = v
		if len(x.KeptBack) > 0 {
			o.kept[x.Key] = x.KeptBack
		}
	}
	return nil
}

// semanticsRun runs one sync against srv, as a plan or for real, and
// returns the report of that sync and its outcomes by key.
func semanticsRun(t *testing.T, srv *sftest.Server, rows table, sync string, plan bool) (*reverseetl.SyncReport, *outcomeLog) {
	t.Helper()
	return semanticsRunAt(t, srv, "", rows, sync, plan)
}

// semanticsRunAt is semanticsRun with API calls sent to instance, when set.
func semanticsRunAt(t *testing.T, srv *sftest.Server, instance string, rows table, sync string, plan bool) (*reverseetl.SyncReport, *outcomeLog) {
	t.Helper()
	log := &outcomeLog{rows: map[string]string{}, kept: map[string][]string{}}
	r := &engineRun{srv: srv, instance: instance, tables: map[string]table{"s": rows}, opts: []reverseetl.Option{reverseetl.WithObserver(log)}}
	rep := r.run(t, map[string]string{"configs/s.yaml": sync}, reverseetl.RunOptions{Plan: plan})
	require.Len(t, rep.Syncs, 1)
	return rep.Syncs[0], log
}

// planRunPlan plans, runs and plans again: the first plan must predict
// every row's outcome of the run, and the second plan must show nothing
// left to change.
func planRunPlan(t *testing.T, srv *sftest.Server, rows table, sync string) (*reverseetl.SyncReport, *outcomeLog) {
	t.Helper()
	_, planned := semanticsRun(t, srv, rows, sync, true)
	rep, ran := semanticsRun(t, srv, rows, sync, false)
	for k, v := range planned.rows {
		if v == "skipped unchanged" && ran.rows[k] == "updated" {
			// A record whose values Salesforce already holds is still
			// sent by the run, and Salesforce keeps its values.
			planned.rows[k] = "updated"
		}
	}
	assert.Equal(t, planned.rows, ran.rows, "the plan predicts each row's outcome")
	assert.Equal(t, planned.kept, ran.kept, "the plan predicts the fields kept back")
	again, replanned := semanticsRun(t, srv, rows, sync, true)
	assert.Zero(t, again.Created+again.Updated, "a plan after the run has nothing to write: %v", replanned.rows)
	assert.Empty(t, again.Changes)
	for k, v := range replanned.rows {
		if strings.HasPrefix(ran.rows[k], "failed") {
			assert.Equal(t, ran.rows[k], v, "row %s fails the same way again", k)
		}
	}
	return rep, ran
}

func syncFile(object, op, ext, api, extra, mapping string) string {
	s := "name: s\nsource: {type: rows}\ndestination:\n  connection: crm\n  object: " + object +
		"\n  operation: " + op + "\n  api: " + api + "\n  poll_max_wait: 20ms\n"
	if ext != "" {
		s += "  match_on: " + ext + "\n"
	}
	return s + extra + "key: K\non_failure: {max_failed_rows: 100}\nmapping:\n" + mapping
}

// 1. set_if_empty on a lookup keeps a populated lookup, even when the
// current parent has no external id.
func TestSemanticsGuardedLookupKeepsItsParent(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			a1, err := srv.Insert("Account", map[string]any{"Name": "One", "External_Id__c": "A-1"})
			require.NoError(t, err)
			noExt, err := srv.Insert("Account", map[string]any{"Name": "Made by hand"})
			require.NoError(t, err)
			_, err = srv.Insert("Account", map[string]any{"Name": "Three", "External_Id__c": "A-3"})
			require.NoError(t, err)
			_, err = srv.Insert("Contact", map[string]any{"LastName": "Held", "External_Id__c": "C-1", "AccountId": noExt})
			require.NoError(t, err)
			_, err = srv.Insert("Contact", map[string]any{"LastName": "Free", "External_Id__c": "C-2"})
			require.NoError(t, err)

			rows := table{cols: []string{"K", "ACC", "LN"}, rows: [][]any{{"C-1", "A-3", "Held"}, {"C-2", "A-1", "Free"}}}
			sync := syncFile("Contact", "upsert", "External_Id__c", api, "",
				"  - {from: K, to: External_Id__c}\n  - {from: LN, to: LastName}\n  - {from: ACC, to: Account.External_Id__c, set_if_empty: true}\n")
			rep, ran := planRunPlan(t, srv, rows, sync)
			assert.Equal(t, int64(1), rep.KeptBack)
			assert.Equal(t, map[string][]string{"C-1": {"Account.External_Id__c"}}, ran.kept)
			got := byExt(srv, "Contact")
			assert.Equal(t, noExt, got["C-1"]["AccountId"], "a populated lookup is never replaced")
			assert.Equal(t, a1, got["C-2"]["AccountId"], "an empty lookup is filled")
		})
	}
}

// 3. The text #N/A is stored as text through either API, never as null.
func TestSemanticsNullMarkerTextIsText(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			_, err := srv.Insert("Account", map[string]any{"Name": "Old", "External_Id__c": "A-1", "Description": "was here"})
			require.NoError(t, err)
			rows := table{cols: []string{"K", "N", "D"}, rows: [][]any{{"A-1", "Old", "#N/A"}, {"A-2", "New", "#n/a"}, {"A-3", "Plain", "text"}}}
			sync := syncFile("Account", "upsert", "External_Id__c", api, "",
				"  - {from: K, to: External_Id__c}\n  - {from: N, to: Name}\n  - {from: D, to: Description}\n")
			rep, ran := planRunPlan(t, srv, rows, sync)
			assert.Equal(t, map[string]string{"A-1": "updated", "A-2": "created", "A-3": "created"}, ran.rows)
			got := byExt(srv, "Account")
			assert.Equal(t, "#N/A", got["A-1"]["Description"])
			assert.Equal(t, "#n/a", got["A-2"]["Description"])
			assert.Equal(t, "text", got["A-3"]["Description"])
			if api == APIBulk {
				assert.EqualValues(t, 2, rep.Stats.Counts["null_marker_rest"], "the two rows holding the marker went through REST")
			}
		})
	}
}

// 4. A key twice in one sync: the first row is written, every later row
// with that key (compared as Salesforce matches it) fails, whatever the
// batches, the API or the run.
func TestSemanticsDuplicateKeysFirstRowWins(t *testing.T) {
	for _, api := range apis {
		for _, mode := range []string{"", DuplicateSkip} {
			t.Run(api+"/"+mode, func(t *testing.T) {
				srv := emulator(t)
				var rows table
				rows.cols = []string{"K", "EXT", "N"}
				for i := range 450 {
					rows.rows = append(rows.rows, []any{fmt.Sprintf("r%03d", i), fmt.Sprintf("A-%03d", i), fmt.Sprintf("first %d", i)})
				}
				// Repeats in other chunks and, for Bulk, other jobs.
				rows.rows = append(rows.rows, []any{"dup-case", "a-007", "second"}, []any{"dup-same", "A-300", "second"})
				extra := "  bulk_batch_size: 200\n"
				if mode != "" {
					extra += "  on_duplicate_key: " + mode + "\n"
				}
				sync := syncFile("Account", "upsert", "External_Id__c", api, extra,
					"  - {from: EXT, to: External_Id__c}\n  - {from: N, to: Name}\n")
				rep, ran := planRunPlan(t, srv, rows, sync)
				want := "failed " + CodeDuplicateKey
				if mode == DuplicateSkip {
					want = "skipped " + string(sink.SkipDuplicateKey)
				}
				assert.Equal(t, want, ran.rows["dup-case"])
				assert.Equal(t, want, ran.rows["dup-same"])
				assert.Equal(t, int64(450), rep.Created)
				got := byExt(srv, "Account")
				assert.Len(t, live(srv, "Account"), 450, "one record per key")
				assert.Equal(t, "first 7", got["A-007"]["Name"])
				assert.Equal(t, "first 300", got["A-300"]["Name"])
				if mode == "" {
					require.NotEmpty(t, rep.FailedRows)
					assert.Contains(t, rep.FailedRows[0].Err.Message, "row 8 already has External_Id__c")
				}
			})
		}
	}
}

// 5. An upsert row without its key fails; it would create a new record
// on every run.
func TestSemanticsMissingUpsertKeyFails(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			rows := table{cols: []string{"K", "EXT", "N"}, rows: [][]any{{"null", nil, "No key"}, {"ok", "A-1", "Keyed"}}}
			sync := syncFile("Account", "upsert", "External_Id__c", api, "",
				"  - {from: EXT, to: External_Id__c}\n  - {from: N, to: Name}\n")
			_, ran := planRunPlan(t, srv, rows, sync)
			assert.Equal(t, map[string]string{"null": "failed " + CodeMissingKey, "ok": "created"}, ran.rows)
			assert.Len(t, live(srv, "Account"), 1)
		})
	}
}

// 6. Ids: a 15-character Id finds its record; an 18-character Id whose
// letters lost their case, or with a wrong checksum, fails before a
// guarded field could be overwritten.
func TestSemanticsIDsAreChecked(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			a, err := srv.Insert("Account", map[string]any{"Name": "A", "Website": "https://kept.example"})
			require.NoError(t, err)
			b, err := srv.Insert("Account", map[string]any{"Name": "B", "Website": "https://kept.example"})
			require.NoError(t, err)
			require.Len(t, a, 18)
			bad := b[:15] + "ZZZ"
			if toID18(b[:15]) == bad {
				bad = b[:15] + "YYY"
			}
			rows := table{cols: []string{"K", "ID", "W", "N"}, rows: [][]any{
				{"short", a[:15], "https://new.example", "A2"},
				{"upper", strings.ToUpper(b), "https://new.example", "B2"},
				{"checksum", bad, "https://new.example", "B3"},
				{"garbage", "not-an-id", "https://new.example", "B4"},
			}}
			sync := syncFile("Account", "update", "", api, "",
				"  - {from: ID, to: Id}\n  - {from: N, to: Name}\n  - {from: W, to: Website, set_if_empty: true}\n")
			if strings.ToUpper(b) == b {
				t.Skip("the emulator made an Id without lower-case letters")
			}
			_, ran := planRunPlan(t, srv, rows, sync)
			assert.Equal(t, map[string]string{"short": "updated", "upper": "failed " + CodeInvalidID,
				"checksum": "failed " + CodeInvalidID, "garbage": "failed " + CodeInvalidID}, ran.rows)
			recs := map[string]map[string]any{}
			for _, r := range live(srv, "Account") {
				recs[r["Id"].(string)] = r
			}
			assert.Equal(t, "A2", recs[a]["Name"])
			assert.Equal(t, "https://kept.example", recs[a]["Website"])
			assert.Equal(t, "B", recs[b]["Name"])
			assert.Equal(t, "https://kept.example", recs[b]["Website"])
		})
	}
}

// 7. A numeric external id: current values are read with number literals.
func TestSemanticsNumericExternalID(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			require.NoError(t, srv.DefineObject(sftest.Object{Name: "Meter__c", Fields: []sftest.Field{
				{Name: "Num__c", Type: sftest.TypeDouble, Precision: 18, Scale: 0, ExternalID: true, Unique: true},
				{Name: "Label__c", Type: sftest.TypeString, Length: 80},
			}}))
			_, err := srv.Insert("Meter__c", map[string]any{"Name": "a", "Num__c": 1001, "Label__c": "by hand"})
			require.NoError(t, err)
			rows := table{cols: []string{"K", "NUM", "L"}, rows: [][]any{{"a", "1001", "warehouse"}, {"b", "1002", "new"}}}
			sync := syncFile("Meter__c", "upsert", "Num__c", api, "",
				"  - {from: NUM, to: Num__c, type: number}\n  - {from: K, to: Name}\n  - {from: L, to: Label__c, set_if_empty: true}\n")
			_, ran := planRunPlan(t, srv, rows, sync)
			assert.Equal(t, map[string]string{"a": "updated", "b": "created"}, ran.rows)
			assert.Equal(t, map[string][]string{"a": {"Label__c"}}, ran.kept)
			labels := map[string]any{}
			for _, r := range live(srv, "Meter__c") {
				labels[fmt.Sprint(r["Num__c"])] = r["Label__c"]
			}
			assert.Equal(t, "by hand", labels["1001"])
			assert.Equal(t, "new", labels["1002"])
		})
	}
}

// 11. Dates outside 1700-01-01 .. 4000-12-31 fail before they are sent.
func TestSemanticsDatesOutOfRange(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			rows := table{cols: []string{"K", "BD"}, rows: [][]any{
				{"C-1", "1699-12-31"}, {"C-2", "1700-01-01"}, {"C-3", "4000-12-31"}, {"C-4", "4001-01-01"},
			}}
			sync := syncFile("Contact", "upsert", "External_Id__c", api, "",
				"  - {from: K, to: External_Id__c}\n  - {from: K, to: LastName}\n  - {from: BD, to: Birthdate, type: date}\n")
			_, ran := planRunPlan(t, srv, rows, sync)
			assert.Equal(t, map[string]string{"C-1": "failed " + CodeOutOfRange, "C-2": "created",
				"C-3": "created", "C-4": "failed " + CodeOutOfRange}, ran.rows)
			got := byExt(srv, "Contact")
			assert.Len(t, got, 2)
			assert.Equal(t, "1700-01-01", got["C-2"]["Birthdate"])
		})
	}
}

// 12. An upsert keyed on Id goes through Bulk, which takes it ("Upsert
// Records ... based on an ID"); REST does not, and api: rest is refused
// when the sync is built, with the reason.
func TestSemanticsUpsertOnID(t *testing.T) {
	srv := emulator(t)
	r := &engineRun{srv: srv}
	p, err := config.Parse(context.Background(), "retl.yaml", []byte(r.project()), map[string][]byte{
		"configs/s.yaml": []byte(syncFile("Account", "upsert", "Id", "rest", "", "  - {from: ID, to: Id}\n  - {from: N, to: Name}\n")),
	})
	require.NoError(t, err)
	reg := reverseetl.NewRegistry()
	Register(reg)
	reg.RegisterSource("rows", func(context.Context, reverseetl.BuildContext) (source.Source, error) {
		return &memory.Source{}, nil
	})
	err = reverseetl.New(reg, reverseetl.WithLogger(quiet)).Validate(context.Background(), p)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "upsert on Id goes through the Bulk API only")

	for _, api := range []string{APIBulk, APIAuto} {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			a, err := srv.Insert("Account", map[string]any{"Name": "Before"})
			require.NoError(t, err)
			_, err = srv.Insert("Account", map[string]any{"Name": "Gone"})
			require.NoError(t, err)
			b, err := srv.Insert("Account", map[string]any{"Name": "Kept"})
			require.NoError(t, err)
			rows := table{cols: []string{"K", "ID", "N"}, rows: [][]any{{"known", a[:15], "After"}, {"new", nil, "Fresh"},
				{"unknown", "001000000000zzzAAA", "Nobody"}, {"marker", b, "#N/A"}}}
			sync := syncFile("Account", "upsert", "Id", api, "", "  - {from: ID, to: Id}\n  - {from: N, to: Name}\n")
			rep, ran := planRunPlan(t, srv, rows, sync)
			assert.Equal(t, "bulk", rep.Stats.API)
			assert.Equal(t, "updated", ran.rows["known"])
			assert.Equal(t, "failed "+CodeMissingKey, ran.rows["new"], "a row without an Id would create a record on every run")
			assert.True(t, strings.HasPrefix(ran.rows["unknown"], "failed "), ran.rows["unknown"])
			assert.Equal(t, "failed "+CodeNullMarker, ran.rows["marker"], "#N/A is never stored as null")
			names := map[string]bool{}
			for _, r := range live(srv, "Account") {
				names[r["Name"].(string)] = true
			}
			assert.Equal(t, map[string]bool{"After": true, "Gone": true, "Kept": true}, names)
		})
	}
}

// 2. An empty string has one meaning in both APIs, the field's null
// policy: clear (the default) clears the field, ignore leaves it.
func TestSemanticsEmptyStringFollowsTheNullPolicy(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			_, err := srv.Insert("Account", map[string]any{"Name": "A", "External_Id__c": "A-1", "Description": "old", "Website": "https://kept.example"})
			require.NoError(t, err)
			rows := table{cols: []string{"K", "N", "D", "W"}, rows: [][]any{{"A-1", "A", "", ""}}}
			sync := syncFile("Account", "upsert", "External_Id__c", api, "",
				"  - {from: K, to: External_Id__c}\n  - {from: N, to: Name}\n  - {from: D, to: Description}\n  - {from: W, to: Website, null: ignore}\n")
			_, ran := planRunPlan(t, srv, rows, sync)
			assert.Equal(t, map[string]string{"A-1": "updated"}, ran.rows)
			got := byExt(srv, "Account")["A-1"]
			assert.Nil(t, got["Description"], "clear: the empty string clears the field")
			assert.Equal(t, "https://kept.example", got["Website"], "ignore: the empty string leaves the field")
		})
	}
}

// 13. NULL in an expression does not fail the row: a comparison with
// NULL is false, as in SQL.
func TestSemanticsNullInExpressions(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			rows := table{cols: []string{"K", "EMP"}, rows: [][]any{{"A-1", nil}, {"A-2", int64(500)}}}
			sync := syncFile("Account", "upsert", "External_Id__c", api, "",
				"  - {from: K, to: External_Id__c}\n  - {from: K, to: Name}\n"+
					"  - {to: Type, value: Customer - Direct, when: \"EMP > 100\"}\n"+
					"  - {to: NumberOfEmployees, expr: \"EMP * 2\", type: integer}\n")
			rep, ran := planRunPlan(t, srv, rows, sync)
			assert.Equal(t, map[string]string{"A-1": "created", "A-2": "created"}, ran.rows)
			assert.Zero(t, rep.Failed)
			got := byExt(srv, "Account")
			assert.Nil(t, got["A-1"]["Type"], "NULL > 100 is false: the field is not set")
			assert.Nil(t, got["A-1"]["NumberOfEmployees"], "NULL * 2 is NULL")
			assert.Equal(t, "Customer - Direct", got["A-2"]["Type"])
			assert.EqualValues(t, 1000, got["A-2"]["NumberOfEmployees"])
		})
	}
}
