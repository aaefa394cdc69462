package salesforce

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// recordTypeQueries counts the SOQL queries of RecordType the emulator saw.
func recordTypeQueries(srv *sftest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, "/query") && strings.Contains(r.Query, "RecordType+WHERE") {
			n++
		}
	}
	return n
}

// A mapping to RecordTypeId may name the record type by its DeveloperName:
// names become Ids before anything is sent, Ids pass through, and a name
// the object has not (or has inactive) fails the row, in plan and run.
func TestRecordTypeByName(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			ent, err := srv.AddRecordType("Lead", "Enterprise", "Enterprise")
			require.NoError(t, err)
			smb, err := srv.AddRecordType("Lead", "SMB", "Small business")
			require.NoError(t, err)
			_, err = srv.Insert("RecordType", map[string]any{"Name": "Retired", "DeveloperName": "Retired", "SobjectType": "Lead", "IsActive": false})
			require.NoError(t, err)
			_, err = srv.AddRecordType("Account", "Partner", "Partner")
			require.NoError(t, err)

			rows := table{cols: []string{"K", "LN", "CO", "RT"}, rows: [][]any{
				{"L-1", "Ada", "Acme", "Enterprise"},
				{"L-2", "Bo", "Beta", smb},
				{"L-3", "Cy", "Gamma", "smb"},
				{"L-4", "Di", "Delta", "Nope"},
				{"L-5", "Ed", "Eps", "Retired"},
				{"L-6", "Fa", "Zeta", "Partner"},
				{"L-7", "Gu", "Eta", nil},
			}}
			sync := syncFile("Lead", "upsert", "External_Id__c", api, "",
				"  - {from: K, to: External_Id__c}\n  - {from: LN, to: LastName}\n  - {from: CO, to: Company}\n  - {from: RT, to: RecordTypeId}\n")
			srv.ResetRequests()
			rep, ran := planRunPlan(t, srv, rows, sync)
			assert.Equal(t, map[string]string{
				"L-1": "created", "L-2": "created", "L-3": "created",
				"L-4": "failed " + CodeUnknownRecordType, "L-5": "failed " + CodeUnknownRecordType, "L-6": "failed " + CodeUnknownRecordType,
				"L-7": "created",
			}, ran.rows)
			assert.Equal(t, int64(3), rep.Failed)
			assert.Equal(t, 3, recordTypeQueries(srv), "one query of RecordType for each of the three runs (plan, run, plan)")
			got := byExt(srv, "Lead")
			require.Len(t, got, 4, "the failed rows were never sent")
			assert.Equal(t, ent, got["L-1"]["RecordTypeId"])
			assert.Equal(t, smb, got["L-2"]["RecordTypeId"])
			assert.Equal(t, smb, got["L-3"]["RecordTypeId"])
			assert.Nil(t, got["L-7"]["RecordTypeId"])
			var msgs []string
			for _, f := range rep.FailedRows {
				msgs = append(msgs, f.Err.Message)
			}
			assert.Contains(t, msgs, `RecordTypeId: "Nope" is neither a record type Id nor the DeveloperName of a record type of Lead (its active record types: Enterprise, SMB)`)
			assert.Contains(t, msgs, "RecordTypeId: record type Retired of Lead is inactive, and Salesforce saves no record with it")
			if api == APIBulk {
				processed := 0
				for _, j := range srv.Jobs() {
					processed += j.NumberRecordsProcessed
				}
				assert.Equal(t, 4, processed, "Bulk jobs carried the four good rows only")
			}
		})
	}
}

// An object without record types fails a named record type with the
// code too, and says it has none.
func TestRecordTypeNameWithoutRecordTypes(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv)
	require.NoError(t, srv.DefineObject(sftest.Object{Name: "Lead", Fields: []sftest.Field{{Name: "RecordTypeId", Type: sftest.TypeReference, ReferenceTo: "RecordType", RelationshipName: "RecordType"}}}))
	s := emuSink(t, c, "Lead", Insert, "", fastOptions(APIREST))
	layout := sink.NewLayout([]string{"LastName", "Company", "RecordTypeId"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.Preflight(ctx, layout))
	res, err := s.Screen(ctx, recs(layout, []any{"Ada", "Acme", "Enterprise"}))
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.NotNil(t, res[0].Err)
	assert.Equal(t, CodeUnknownRecordType, res[0].Err.Code)
	assert.Contains(t, res[0].Err.Message, "it has no active record type")
}

// A record type Id that is malformed is still refused as an Id, and a
// failing read of the record types stops the screen with the API's error.
func TestRecordTypeScreenErrors(t *testing.T) {
	srv := emulator(t)
	_, err := srv.AddRecordType("Lead", "Enterprise", "Enterprise")
	require.NoError(t, err)
	c := emuClient(t, srv, func(c *connConfig) { c.MaxRetries = Int(0) })
	s := emuSink(t, c, "Lead", Insert, "", fastOptions(APIREST))
	layout := sink.NewLayout([]string{"LastName", "Company", "RecordTypeId"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.Preflight(ctx, layout))
	res, err := s.Screen(ctx, recs(layout, []any{"Ada", "Acme", "012000000000001AAB"}))
	require.NoError(t, err)
	require.NotNil(t, res[0].Err)
	assert.Equal(t, CodeInvalidID, res[0].Err.Code, "an Id in form is checked as an Id")

	srv.Fault(sftest.Fault{Path: "/query", Status: http.StatusInternalServerError})
	_, err = s.Screen(ctx, recs(layout, []any{"Bo", "Beta", "Enterprise"}))
	require.Error(t, err)
	var ae *APIError
	assert.ErrorAs(t, err, &ae)
	assert.Contains(t, err.Error(), "reading the record types of Lead")
}
