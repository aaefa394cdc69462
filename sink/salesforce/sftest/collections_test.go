package sftest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func typed(typ string, f map[string]any) map[string]any {
	f["attributes"] = map[string]any{"type": typ}
	return f
}

func results(t *testing.T, body any) []map[string]any {
	t.Helper()
	arr, ok := body.([]any)
	require.True(t, ok, "%v", body)
	out := make([]map[string]any, len(arr))
	for i, r := range arr {
		out[i] = obj(r)
	}
	return out
}

func firstError(r map[string]any) (string, string) {
	e := obj(r["errors"].([]any)[0])
	return e["statusCode"].(string), e["message"].(string)
}

func TestCollectionCreate(t *testing.T) {
	srv, c := start(t)
	mustInsert(t, srv, "Account", map[string]any{"Name": "Acme", "External_Id__c": "A-1"})
	st, body := c.call("POST", v+"/composite/sobjects", map[string]any{"allOrNone": false, "records": []any{
		typed("Account", map[string]any{"Name": "One"}),
		typed("Contact", map[string]any{"LastName": "Two", "Account": map[string]any{"External_Id__c": "A-1"}}),
		typed("Contact", map[string]any{"FirstName": "NoLast"}),
		typed("Contact", map[string]any{"LastName": "Bad", "Account": map[string]any{"External_Id__c": "A-404"}}),
	}})
	require.Equal(t, 200, st, "%v", body)
	res := results(t, body)
	require.Len(t, res, 4)
	assert.Equal(t, true, res[0]["success"])
	assert.True(t, strings.HasPrefix(res[0]["id"].(string), "001"))
	assert.NotContains(t, res[0], "created")
	assert.Equal(t, []any{}, res[0]["errors"])
	assert.True(t, strings.HasPrefix(res[1]["id"].(string), "003"))
	assert.Equal(t, false, res[2]["success"])
	assert.Nil(t, res[2]["id"])
	code, msg := firstError(res[2])
	assert.Equal(t, "REQUIRED_FIELD_MISSING", code)
	assert.Equal(t, "Required fields are missing: [LastName]", msg)
	assert.Equal(t, []any{"LastName"}, obj(res[2]["errors"].([]any)[0])["fields"])
	code, msg = firstError(res[3])
	assert.Equal(t, "INVALID_FIELD", code)
	assert.Equal(t, "Foreign key external ID: A-404 not found for field External_Id__c in entity Account", msg)
	assert.Len(t, srv.Records("Contact"), 1)

	// allOrNone rolls everything back and says so for the valid records.
	st, body = c.call("POST", v+"/composite/sobjects", map[string]any{"allOrNone": true, "records": []any{
		typed("Account", map[string]any{"Name": "Three", "External_Id__c": "A-3"}),
		typed("Contact", map[string]any{"FirstName": "NoLast"}),
		typed("Account", map[string]any{"Name": "Four"}),
	}})
	require.Equal(t, 200, st)
	res = results(t, body)
	code, msg = firstError(res[0])
	assert.Equal(t, "ALL_OR_NONE_OPERATION_ROLLED_BACK", code)
	assert.Equal(t, "Record rolled back because not all records were valid and the request was using AllOrNone header", msg)
	assert.Nil(t, res[0]["id"])
	code, _ = firstError(res[1])
	assert.Equal(t, "REQUIRED_FIELD_MISSING", code)
	code, _ = firstError(res[2])
	assert.Equal(t, "ALL_OR_NONE_OPERATION_ROLLED_BACK", code)
	assert.Len(t, srv.Records("Account"), 2)
	// The rolled back external id is free again.
	st, body = c.call("POST", v+"/composite/sobjects", map[string]any{"allOrNone": true, "records": []any{
		typed("Account", map[string]any{"Name": "Three", "External_Id__c": "A-3"}),
	}})
	require.Equal(t, 200, st)
	assert.Equal(t, true, results(t, body)[0]["success"])

	// Request-level errors.
	var many []any
	for i := 0; i < 201; i++ {
		many = append(many, typed("Account", map[string]any{"Name": fmt.Sprint(i)}))
	}
	for _, tc := range []struct {
		name string
		body any
		code string
	}{
		{"too many", map[string]any{"records": many}, "EXCEEDED_ID_LIMIT"},
		{"no type", map[string]any{"records": []any{map[string]any{"Name": "x"}}}, "INVALID_TYPE"},
		{"unknown type", map[string]any{"records": []any{typed("Widget", map[string]any{})}}, "INVALID_TYPE"},
		{"unknown field", map[string]any{"records": []any{typed("Account", map[string]any{"Name": "x", "Nope": 1})}}, "INVALID_FIELD"},
		{"bad value", map[string]any{"records": []any{typed("Account", map[string]any{"Name": "x", "NumberOfEmployees": "x"})}}, "JSON_PARSER_ERROR"},
		{"bad json", "{", "JSON_PARSER_ERROR"},
		{"record not an object", map[string]any{"records": []any{1}}, "JSON_PARSER_ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body := c.call("POST", v+"/composite/sobjects", tc.body)
			assert.Equal(t, 400, st)
			code, _ := restErr(t, body)
			assert.Equal(t, tc.code, code)
		})
	}
	st, _ = c.call("PUT", v+"/composite/sobjects", nil)
	assert.Equal(t, 405, st)
	st, _ = c.call("POST", v+"/composite/sobjects/Account/External_Id__c", nil)
	assert.Equal(t, 405, st)
	st, _ = c.call("POST", v+"/composite/sobjects/a/b/c", nil)
	assert.Equal(t, 404, st)
}

func TestCollectionUpdate(t *testing.T) {
	srv, c := start(t)
	a := mustInsert(t, srv, "Account", map[string]any{"Name": "A"})
	b := mustInsert(t, srv, "Account", map[string]any{"Name": "B"})
	gone := mustInsert(t, srv, "Account", map[string]any{"Name": "Gone"})
	c.call("DELETE", v+"/sobjects/Account/"+gone, nil)
	st, body := c.call("PATCH", v+"/composite/sobjects", map[string]any{"records": []any{
		typed("Account", map[string]any{"Id": a, "Phone": "1"}),
		typed("Account", map[string]any{"Id": b[:15], "Name": nil}),
		typed("Account", map[string]any{"Phone": "2"}),
		typed("Account", map[string]any{"Id": "001000000000000AAA", "Phone": "3"}),
		typed("Account", map[string]any{"Id": gone, "Phone": "4"}),
		typed("Account", map[string]any{"Id": "bogus", "Phone": "5"}),
	}})
	require.Equal(t, 200, st, "%v", body)
	res := results(t, body)
	assert.Equal(t, true, res[0]["success"])
	assert.Equal(t, a, res[0]["id"])
	code, _ := firstError(res[1])
	assert.Equal(t, "REQUIRED_FIELD_MISSING", code)
	assert.Equal(t, b, res[1]["id"])
	code, msg := firstError(res[2])
	assert.Equal(t, "MISSING_ARGUMENT", code)
	assert.Equal(t, "Id not specified in an update call", msg)
	code, _ = firstError(res[3])
	assert.Equal(t, "INVALID_CROSS_REFERENCE_KEY", code)
	code, _ = firstError(res[4])
	assert.Equal(t, "ENTITY_IS_DELETED", code)
	code, _ = firstError(res[5])
	assert.Equal(t, "MALFORMED_ID", code)
	assert.Equal(t, "1", srv.Records("Account")[0]["Phone"])

	// allOrNone restores the previous values.
	st, body = c.call("PATCH", v+"/composite/sobjects", map[string]any{"allOrNone": true, "records": []any{
		typed("Account", map[string]any{"Id": a, "Phone": "changed"}),
		typed("Account", map[string]any{"Id": b, "Name": nil}),
	}})
	require.Equal(t, 200, st)
	code, _ = firstError(results(t, body)[0])
	assert.Equal(t, "ALL_OR_NONE_OPERATION_ROLLED_BACK", code)
	assert.Equal(t, "1", srv.Records("Account")[0]["Phone"])
}

func TestCollectionUpsert(t *testing.T) {
	srv, c := start(t, WithObject(Object{Name: "Account", Fields: []Field{{Name: "Legacy__c", Type: TypeString, ExternalID: true}}}))
	existing := mustInsert(t, srv, "Account", map[string]any{"Name": "Acme", "External_Id__c": "A-1"})
	mustInsert(t, srv, "Account", map[string]any{"Name": "L1", "Legacy__c": "L"})
	mustInsert(t, srv, "Account", map[string]any{"Name": "L2", "Legacy__c": "L"})
	path := v + "/composite/sobjects/Account/External_Id__c"
	st, body := c.call("PATCH", path, map[string]any{"allOrNone": false, "records": []any{
		typed("Account", map[string]any{"External_Id__c": "A-1", "Phone": "1"}),
		typed("Account", map[string]any{"External_Id__c": "A-2", "Name": "New"}),
		typed("Account", map[string]any{"External_Id__c": "A-3", "Name": "Dup"}),
		typed("Account", map[string]any{"External_Id__c": "a-3", "Name": "Dup again"}),
		typed("Account", map[string]any{"External_Id__c": "A-4"}),
		typed("Account", map[string]any{"Name": "No key"}),
	}})
	require.Equal(t, 200, st, "%v", body)
	res := results(t, body)
	assert.Equal(t, true, res[0]["success"])
	assert.Equal(t, false, res[0]["created"])
	assert.Equal(t, existing, res[0]["id"])
	assert.Equal(t, true, res[1]["created"])
	code, msg := firstError(res[2])
	assert.Equal(t, "DUPLICATE_VALUE", code)
	assert.Equal(t, "Duplicate external id specified: A-3", msg)
	assert.Equal(t, []any{"External_Id__c"}, obj(res[2]["errors"].([]any)[0])["fields"])
	code, _ = firstError(res[3])
	assert.Equal(t, "DUPLICATE_VALUE", code)
	assert.Equal(t, false, res[3]["created"])
	code, _ = firstError(res[4])
	assert.Equal(t, "REQUIRED_FIELD_MISSING", code)
	assert.Equal(t, true, res[5]["success"], "a record without a key is inserted")
	assert.Equal(t, true, res[5]["created"])

	st, body = c.call("PATCH", v+"/composite/sobjects/Account/Legacy__c", map[string]any{"records": []any{
		typed("Account", map[string]any{"Legacy__c": "L", "Phone": "1"}),
	}})
	require.Equal(t, 200, st)
	code, msg = firstError(results(t, body)[0])
	assert.Equal(t, "DUPLICATE_EXTERNAL_ID", code)
	assert.Contains(t, msg, "Legacy: more than one record found for external id field: [001")

	// Upsert keyed on Id is refused: "Only external ids are supported.
	// Don't use record ids."
	st, body = c.call("PATCH", v+"/composite/sobjects/Account/Id", map[string]any{"records": []any{
		typed("Account", map[string]any{"Id": existing, "Phone": "9"}),
	}})
	require.Equal(t, 400, st)
	code, _ = restErr(t, body)
	assert.Equal(t, "INVALID_FIELD", code)
	assert.NotEqual(t, "9", srv.Records("Account")[0]["Phone"])

	// allOrNone.
	before := len(srv.Records("Account"))
	st, body = c.call("PATCH", path, map[string]any{"allOrNone": true, "records": []any{
		typed("Account", map[string]any{"External_Id__c": "A-9", "Name": "Nine"}),
		typed("Account", map[string]any{"External_Id__c": "A-10"}),
	}})
	require.Equal(t, 200, st)
	res = results(t, body)
	code, _ = firstError(res[0])
	assert.Equal(t, "ALL_OR_NONE_OPERATION_ROLLED_BACK", code)
	assert.Equal(t, false, res[0]["created"])
	assert.Len(t, srv.Records("Account"), before)

	for _, tc := range []struct {
		path, code string
		status     int
		body       any
	}{
		{v + "/composite/sobjects/Widget/X", "NOT_FOUND", 404, map[string]any{"records": []any{}}},
		{v + "/composite/sobjects/Account/Nope__c", "NOT_FOUND", 404, map[string]any{"records": []any{}}},
		{v + "/composite/sobjects/Account/Name", "INVALID_FIELD", 400, map[string]any{"records": []any{}}},
		{"/services/data/v45.0/composite/sobjects/Account/External_Id__c", "NOT_FOUND", 404, map[string]any{"records": []any{}}},
		{path, "INVALID_TYPE", 400, map[string]any{"records": []any{typed("Contact", map[string]any{"LastName": "x"})}}},
	} {
		st, body := c.call("PATCH", tc.path, tc.body)
		assert.Equal(t, tc.status, st, tc.path)
		code, _ := restErr(t, body)
		assert.Equal(t, tc.code, code, tc.path)
	}
	// Records may leave out attributes when the URL names the object.
	st, body = c.call("PATCH", path, map[string]any{"records": []any{map[string]any{"External_Id__c": "A-1", "Phone": "7"}}})
	require.Equal(t, 200, st)
	assert.Equal(t, true, results(t, body)[0]["success"])
}

func TestCollectionDelete(t *testing.T) {
	srv, c := start(t)
	a := mustInsert(t, srv, "Account", map[string]any{"Name": "A"})
	b := mustInsert(t, srv, "Contact", map[string]any{"LastName": "B"})
	st, body := c.call("DELETE", v+"/composite/sobjects?ids="+a+","+b[:15]+",bogus,a00000000000000AAA,"+a, nil)
	require.Equal(t, 200, st, "%v", body)
	res := results(t, body)
	assert.Equal(t, true, res[0]["success"])
	assert.Equal(t, a, res[0]["id"])
	assert.Equal(t, true, res[1]["success"])
	assert.Equal(t, b, res[1]["id"])
	code, _ := firstError(res[2])
	assert.Equal(t, "MALFORMED_ID", code)
	assert.Equal(t, "bogus", res[2]["id"])
	code, _ = firstError(res[3])
	assert.Equal(t, "INVALID_CROSS_REFERENCE_KEY", code)
	code, _ = firstError(res[4])
	assert.Equal(t, "ENTITY_IS_DELETED", code)

	x := mustInsert(t, srv, "Account", map[string]any{"Name": "X"})
	st, body = c.call("DELETE", v+"/composite/sobjects?allOrNone=true&ids="+x+","+a, nil)
	require.Equal(t, 200, st)
	res = results(t, body)
	code, _ = firstError(res[0])
	assert.Equal(t, "ALL_OR_NONE_OPERATION_ROLLED_BACK", code)
	assert.Equal(t, false, srv.Records("Account")[1]["IsDeleted"])
	st, body = c.call("GET", v+"/query?q="+q("SELECT Id FROM Account"), nil)
	require.Equal(t, 200, st)
	assert.Len(t, obj(body)["records"], 1)

	st, body = c.call("DELETE", v+"/composite/sobjects", nil)
	assert.Equal(t, 400, st)
	code, _ = restErr(t, body)
	assert.Equal(t, "MISSING_ARGUMENT", code)
	ids := strings.TrimSuffix(strings.Repeat(a+",", 201), ",")
	st, body = c.call("DELETE", v+"/composite/sobjects?ids="+ids, nil)
	assert.Equal(t, 400, st)
	code, _ = restErr(t, body)
	assert.Equal(t, "EXCEEDED_ID_LIMIT", code)
}
