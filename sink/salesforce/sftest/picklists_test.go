package sftest

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func tierObject() Object {
	return Object{Name: "Account", Fields: []Field{{Name: "Tier__c", Type: TypePicklist, Values: []string{"Enterprise", "SMB", "Partner"},
		Restricted: true, RecordTypeValues: map[string][]string{"Partner_Account": {"Partner"}, "Direct": {"Enterprise", "SMB"}}}}}
}

// A record type narrows a restricted picklist on save: a value its type
// does not have is refused as any value outside a restricted picklist;
// records of another type, or of none, take every value.
func TestRecordTypePicklistValuesOnSave(t *testing.T) {
	srv, c := start(t, WithObject(tierObject()))
	partner, err := srv.AddRecordType("Account", "Partner_Account", "Partner")
	require.NoError(t, err)
	other, err := srv.AddRecordType("Account", "Other", "Other")
	require.NoError(t, err)

	status, body := c.call("POST", v+"/sobjects/Account", map[string]any{"Name": "A", "RecordTypeId": partner, "Tier__c": "SMB"})
	assert.Equal(t, http.StatusBadRequest, status)
	code, msg := restErr(t, body)
	assert.Equal(t, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", code)
	assert.Equal(t, "Tier: bad value for restricted picklist field: SMB", msg)

	status, body = c.call("POST", v+"/sobjects/Account", map[string]any{"Name": "B", "RecordTypeId": partner, "Tier__c": "partner"})
	require.Equal(t, http.StatusCreated, status, "%v", body)
	id := body.(map[string]any)["id"].(string)
	status, _ = c.call("POST", v+"/sobjects/Account", map[string]any{"Name": "C", "RecordTypeId": other, "Tier__c": "SMB"})
	assert.Equal(t, http.StatusCreated, status, "a record type that narrows nothing")
	status, _ = c.call("POST", v+"/sobjects/Account", map[string]any{"Name": "D", "Tier__c": "Enterprise"})
	assert.Equal(t, http.StatusCreated, status, "no record type")

	status, body = c.call("PATCH", v+"/sobjects/Account/"+id, map[string]any{"Tier__c": "Enterprise"})
	assert.Equal(t, http.StatusBadRequest, status)
	code, _ = restErr(t, body)
	assert.Equal(t, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", code)
	status, _ = c.call("PATCH", v+"/sobjects/Account/"+id, map[string]any{"Name": "B2"})
	assert.Equal(t, http.StatusNoContent, status, "a save that leaves the picklist alone")

	// Moving a record to a type whose values do not hold its value.
	smb := mustInsert(t, srv, "Account", map[string]any{"Name": "E", "Tier__c": "SMB"})
	status, body = c.call("PATCH", v+"/sobjects/Account/"+smb, map[string]any{"RecordTypeId": partner})
	assert.Equal(t, http.StatusBadRequest, status)
	code, _ = restErr(t, body)
	assert.Equal(t, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", code)
}

// The User Interface API gives each picklist's values per record type.
func TestUIAPIPicklistValues(t *testing.T) {
	srv, c := start(t, WithObject(tierObject()))
	partner, err := srv.AddRecordType("Account", "Partner_Account", "Partner")
	require.NoError(t, err)
	lead, err := srv.AddRecordType("Lead", "Partner_Lead", "Partner")
	require.NoError(t, err)
	values := func(rt string) []any {
		status, body := c.call("GET", v+"/ui-api/object-info/Account/picklist-values/"+rt, nil)
		require.Equal(t, http.StatusOK, status, "%v", body)
		f := body.(map[string]any)["picklistFieldValues"].(map[string]any)["Tier__c"].(map[string]any)
		var out []any
		for _, x := range f["values"].([]any) {
			out = append(out, x.(map[string]any)["value"])
		}
		return out
	}
	assert.Equal(t, []any{"Partner"}, values(partner))
	assert.Equal(t, []any{"Partner"}, values(partner[:15]), "a 15-character Id")
	assert.Equal(t, []any{"Enterprise", "SMB", "Partner"}, values("012000000000000AAA"), "the master record type")

	for _, path := range []string{"/ui-api/object-info/Account/picklist-values/" + lead, "/ui-api/object-info/Account/picklist-values/012000000000001AAA",
		"/ui-api/object-info/Nope__c/picklist-values/012000000000000AAA", "/ui-api/object-info/Account"} {
		status, _ := c.call("GET", v+path, nil)
		assert.Equal(t, http.StatusNotFound, status, path)
	}
	status, _ := c.call("POST", v+"/ui-api/object-info/Account/picklist-values/"+partner, map[string]any{})
	assert.Equal(t, http.StatusMethodNotAllowed, status)
}

// recordTypeValues in a schema file, and what it refuses.
func TestRecordTypeValuesSchema(t *testing.T) {
	srv, err := Start(WithSchemaYAML([]byte("objects:\n  - name: Account\n    fields:\n      - {name: Tier__c, type: picklist, values: [A, B], restricted: true, recordTypeValues: {Small: [B]}}\n")))
	require.NoError(t, err)
	defer srv.Close()
	rt, err := srv.AddRecordType("Account", "Small", "Small")
	require.NoError(t, err)
	_, err = srv.Insert("Account", map[string]any{"Name": "x", "RecordTypeId": rt, "Tier__c": "A"})
	assert.ErrorContains(t, err, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")

	for _, f := range []Field{
		{Name: "Open__c", Type: TypePicklist, Values: []string{"A"}, RecordTypeValues: map[string][]string{"X": {"A"}}},
		{Name: "Text__c", Type: TypeString, RecordTypeValues: map[string][]string{"X": {"A"}}},
		{Name: "Odd__c", Type: TypePicklist, Values: []string{"A"}, Restricted: true, RecordTypeValues: map[string][]string{"X": {"Z"}}},
	} {
		s := NewServer()
		err := s.DefineObject(Object{Name: "Account", Fields: []Field{f}})
		s.Close()
		assert.Error(t, err, f.Name)
	}
}
