package sftest

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Record types are queryable by object, and a record takes only an active
// record type of its own object.
func TestRecordTypes(t *testing.T) {
	srv, c := start(t)
	ent, err := srv.AddRecordType("Lead", "Enterprise", "Enterprise")
	require.NoError(t, err)
	partner, err := srv.AddRecordType("Account", "Partner", "Partner")
	require.NoError(t, err)
	old := mustInsert(t, srv, "RecordType", map[string]any{"Name": "Old", "DeveloperName": "Old", "SobjectType": "Lead", "IsActive": false})
	_, err = srv.AddRecordType("Nothing", "X", "X")
	assert.Error(t, err)

	status, body := c.call(http.MethodGet, v+"/query?q="+q("SELECT Id, DeveloperName, IsActive FROM RecordType WHERE SobjectType = 'Lead'"), nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	recs := obj(body)["records"].([]any)
	require.Len(t, recs, 2)

	_, body = c.call(http.MethodGet, v+"/sobjects/Lead/describe", nil)
	var found bool
	for _, f := range obj(body)["fields"].([]any) {
		if obj(f)["name"] == "RecordTypeId" {
			found = true
			assert.Equal(t, []any{"RecordType"}, obj(f)["referenceTo"])
		}
	}
	assert.True(t, found, "the object has RecordTypeId once it has a record type")

	lead := func(rt string) (int, any) {
		return c.call(http.MethodPost, v+"/sobjects/Lead", map[string]any{"LastName": "Ada", "Company": "Acme", "RecordTypeId": rt})
	}
	status, body = lead(ent)
	assert.Equal(t, http.StatusCreated, status, "%v", body)
	for _, bad := range []string{partner, old} {
		status, body = lead(bad)
		assert.Equal(t, http.StatusBadRequest, status)
		code, msg := restErr(t, body)
		assert.Equal(t, "INVALID_CROSS_REFERENCE_KEY", code)
		assert.Equal(t, "Record Type ID: this ID value isn't valid for the user: "+bad, msg)
	}
}
