package salesforce

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// uiAPICalls counts the reads of picklist values per record type.
func uiAPICalls(srv *sftest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == http.MethodGet && strings.Contains(r.Path, "/ui-api/object-info/") {
			n++
		}
	}
	return n
}

// A record type narrows a restricted picklist: a value its record type
// lacks fails before it is sent, with Salesforce's code, in the plan and
// the run, whether the record type is named by Id or DeveloperName; the
// values of a record type are read once per run; a record without a
// record type, or of a record type that narrows nothing, is judged by the
// describe alone, and the emulator agrees with every prediction.
func TestRecordTypePicklistPredicted(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			require.NoError(t, srv.DefineObject(sftest.Object{Name: "Account", Fields: []sftest.Field{{Name: "Tier__c", Label: "Tier",
				Type: sftest.TypePicklist, Values: []string{"Enterprise", "SMB", "Partner"}, Restricted: true,
				RecordTypeValues: map[string][]string{"Partner_Account": {"Partner"}}}}}))
			partner, err := srv.AddRecordType("Account", "Partner_Account", "Partner")
			require.NoError(t, err)
			_, err = srv.AddRecordType("Account", "Direct", "Direct")
			require.NoError(t, err)
			instance, w := tap(t, srv)
			rows := table{cols: []string{"K", "N", "RT", "T"}, rows: [][]any{
				{"A-1", "One", "Partner_Account", "partner"},
				{"A-2", "Two", "Partner_Account", "SMB"},
				{"A-3", "Three", partner, "Enterprise"},
				{"A-4", "Four", "Direct", "SMB"},
				{"A-5", "Five", nil, "Enterprise"},
				{"A-6", "Six", partner[:15], "Partner"},
			}}
			sync := syncFile("Account", "upsert", "External_Id__c", api, "",
				"  - {from: K, to: External_Id__c}\n  - {from: N, to: Name}\n  - {from: RT, to: RecordTypeId}\n  - {from: T, to: Tier__c}\n")
			srv.ResetRequests()
			_, planned := semanticsRunAt(t, srv, instance, rows, sync, true)
			assert.Equal(t, 2, uiAPICalls(srv), "one read per record type, Partner_Account and Direct")
			rep, ran := semanticsRunAt(t, srv, instance, rows, sync, false)
			want := map[string]string{"A-1": "created", "A-2": "failed INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
				"A-3": "failed INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "A-4": "created", "A-5": "created", "A-6": "created"}
			assert.Equal(t, want, ran.rows)
			assert.Equal(t, planned.rows, ran.rows, "the plan predicts the run")
			for _, f := range rep.FailedRows {
				assert.True(t, f.Err.Predicted, f.Key)
				assert.Equal(t, []string{"Tier__c"}, f.Err.Fields)
			}
			assert.Contains(t, []string{rep.FailedRows[0].Err.Message, rep.FailedRows[1].Err.Message}, "Tier: bad value for restricted picklist field: SMB")
			for _, b := range w.writes() {
				assert.NotContains(t, b, "A-2", "a predicted reject is never sent")
				assert.NotContains(t, b, "A-3")
			}
			assert.Len(t, byExt(srv, "Account"), 4)

			// Sent anyway, the emulator refuses them with the same code.
			off := syncFile("Account", "upsert", "External_Id__c", api, "  predict_rejects: false\n",
				"  - {from: K, to: External_Id__c}\n  - {from: N, to: Name}\n  - {from: RT, to: RecordTypeId}\n  - {from: T, to: Tier__c}\n")
			_, sent := semanticsRunAt(t, srv, instance, table{cols: rows.cols, rows: rows.rows[1:3]}, off, false)
			assert.Equal(t, map[string]string{"A-2": want["A-2"], "A-3": want["A-3"]}, sent.rows)
		})
	}
}

// Where the User Interface API has no answer (an object it does not
// serve, an unknown record type), records are judged by the describe, and
// the answer is remembered; a failed call fails the screen.
func TestRecordTypePicklistsUnavailable(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv)
	got, err := c.recordTypePicklists(t.Context(), "Account", "012000000000009AAA")
	require.NoError(t, err)
	assert.Nil(t, got)
	srv.ResetRequests()
	_, err = c.recordTypePicklists(t.Context(), "Account", "012000000000009AAA")
	require.NoError(t, err)
	assert.Zero(t, uiAPICalls(srv), "remembered")

	srv.Fault(sftest.Fault{Path: "/ui-api/", Status: http.StatusInternalServerError, Times: 100})
	s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", fastOptions(APIREST))
	l := sink.NewLayout([]string{"External_Id__c", "RecordTypeId", "Tier__c"}, nil)
	require.NoError(t, srv.DefineObject(sftest.Object{Name: "Account", Fields: []sftest.Field{{Name: "Tier__c", Type: sftest.TypePicklist,
		Values: []string{"A"}, Restricted: true}, {Name: "RecordTypeId", Type: sftest.TypeReference, ReferenceTo: "RecordType", RelationshipName: "RecordType"}}}))
	_, err = s.Screen(t.Context(), recs(l, []any{"A-1", "012000000000009AAA", "A"}))
	assert.ErrorContains(t, err, "reading the picklist values of record type 012000000000009AAA of Account")
}
