package sftest

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVersionsAndResources(t *testing.T) {
	_, c := start(t)
	st, body := c.call("GET", "/services/data/", nil)
	require.Equal(t, 200, st)
	vers := body.([]any)
	assert.Equal(t, "20.0", obj(vers[0])["version"])
	assert.Equal(t, "Winter '11", obj(vers[0])["label"])
	assert.Equal(t, "/services/data/v58.0", obj(vers[38])["url"])

	for _, p := range []string{"/services/data/v19.0/limits", "/services/data/vX/limits", "/services/data/v58.1/limits", "/nowhere", v + "/nowhere", v + "/limits/x", v + "/composite/batch", "/services/data/v46.0/jobs/query", "/services/data/v41.0/composite/sobjects", "/services/data/v40.0/jobs/ingest"} {
		st, body := c.call("GET", p, nil)
		assert.Equal(t, 404, st, p)
		code, _ := restErr(t, body)
		assert.Equal(t, "NOT_FOUND", code, p)
	}
	st, body = c.call("GET", v, nil)
	require.Equal(t, 200, st)
	assert.Equal(t, v+"/sobjects", obj(body)["sobjects"])
	st, _ = c.call("GET", "/services/data/v20.0/sobjects/Account/describe", nil)
	assert.Equal(t, 200, st)
}

func TestLimitsAndUsageHeader(t *testing.T) {
	srv, c := start(t, WithAPILimit(5))
	res, _ := c.do("GET", v+"/limits", nil)
	assert.Equal(t, "api-usage=1/5", res.Header.Get("Sforce-Limit-Info"))
	st, body := c.call("GET", v+"/limits", nil)
	require.Equal(t, 200, st)
	daily := obj(obj(body)["DailyApiRequests"])
	assert.Equal(t, json.Number("5"), daily["Max"])
	assert.Equal(t, json.Number("3"), daily["Remaining"])
	st, _ = c.call("POST", v+"/limits", nil)
	assert.Equal(t, 405, st)
	c.call("GET", v+"/limits", nil)
	c.call("GET", v+"/limits", nil)
	st, body = c.call("GET", v+"/limits", nil)
	assert.Equal(t, 403, st)
	code, msg := restErr(t, body)
	assert.Equal(t, "REQUEST_LIMIT_EXCEEDED", code)
	assert.Equal(t, "TotalRequests Limit exceeded.", msg)
	assert.Equal(t, 6, srv.APICalls())
	srv.ResetRequests()
	assert.Equal(t, 0, srv.APICalls())
	st, _ = c.call("GET", v+"/limits", nil)
	assert.Equal(t, 200, st)
}

// The concurrent long-running request limit: while the limit's worth of
// requests have run long enough, a new one is refused with the
// ConcurrentRequests message; a request that has not run long does not
// count, and the refusal carries the usage header like every answer.
func TestConcurrentRequestLimit(t *testing.T) {
	assert.Equal(t, 100_000, defaultConfig().apiLimit, "an Enterprise org's floor")
	for _, tc := range []struct {
		name    string
		long    time.Duration
		refused bool
	}{{"long-running", 0, true}, {"short", time.Hour, false}} {
		t.Run(tc.name, func(t *testing.T) {
			srv, c := start(t, WithConcurrentLimit(1, tc.long))
			held := httptest.NewRequest("GET", v+"/limits", nil)
			require.True(t, srv.startRunning(held))
			res, raw := c.do("GET", v+"/limits", nil)
			assert.NotEmpty(t, res.Header.Get("Sforce-Limit-Info"))
			var body any
			require.NoError(t, json.Unmarshal(raw, &body))
			if !tc.refused {
				assert.Equal(t, 200, res.StatusCode)
				return
			}
			require.Equal(t, 403, res.StatusCode)
			code, msg := restErr(t, body)
			assert.Equal(t, "REQUEST_LIMIT_EXCEEDED", code)
			assert.Equal(t, "ConcurrentRequests (Concurrent API Requests) Limit exceeded.", msg)
			srv.stopRunning(held)
			res, _ = c.do("GET", v+"/limits", nil)
			assert.Equal(t, 200, res.StatusCode, "admitted once the long request ends")
		})
	}
	_, err := Start(WithConcurrentLimit(0, time.Second))
	assert.Error(t, err)
}

func TestSObjectCRUD(t *testing.T) {
	srv, c := start(t)
	st, body := c.call("POST", v+"/sobjects/Account", map[string]any{"Name": "Acme", "Industry": "banking", "NumberOfEmployees": 12, "AnnualRevenue": "1000.4"})
	require.Equal(t, 201, st, "%v", body)
	id := obj(body)["id"].(string)
	assert.Equal(t, true, obj(body)["success"])
	assert.Equal(t, []any{}, obj(body)["errors"])
	assert.True(t, strings.HasPrefix(id, "001"))

	st, body = c.call("GET", v+"/sobjects/Account/"+id, nil)
	require.Equal(t, 200, st)
	rec := obj(body)
	assert.Equal(t, "Banking", rec["Industry"], "picklist values take their declared case")
	assert.Equal(t, json.Number("12"), rec["NumberOfEmployees"])
	assert.Equal(t, json.Number("1000"), rec["AnnualRevenue"], "rounded to the field's scale")
	assert.Equal(t, false, rec["IsDeleted"])
	assert.Equal(t, "Account", obj(rec["attributes"])["type"])
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$`, rec["CreatedDate"])

	st, body = c.call("GET", v+"/sobjects/Account/"+id[:15]+"?fields=Name,Industry", nil)
	require.Equal(t, 200, st)
	assert.Len(t, obj(body), 3)
	st, body = c.call("GET", v+"/sobjects/Account/"+id+"?fields=Nope", nil)
	assert.Equal(t, 400, st)
	code, _ := restErr(t, body)
	assert.Equal(t, "INVALID_FIELD", code)

	st, _ = c.call("PATCH", v+"/sobjects/Account/"+id, map[string]any{"Phone": "555", "Industry": nil})
	require.Equal(t, 204, st)
	recs := srv.Records("Account")
	assert.Equal(t, "555", recs[0]["Phone"])
	assert.Nil(t, recs[0]["Industry"])
	assert.Equal(t, int64(12), recs[0]["NumberOfEmployees"])

	st, _ = c.call("DELETE", v+"/sobjects/Account/"+id, nil)
	require.Equal(t, 204, st)
	st, body = c.call("DELETE", v+"/sobjects/Account/"+id, nil)
	assert.Equal(t, 404, st)
	code, _ = restErr(t, body)
	assert.Equal(t, "ENTITY_IS_DELETED", code)
	st, _ = c.call("GET", v+"/sobjects/Account/"+id, nil)
	assert.Equal(t, 404, st)
	st, body = c.call("PATCH", v+"/sobjects/Account/"+id, map[string]any{"Phone": "1"})
	assert.Equal(t, 404, st)
	code, _ = restErr(t, body)
	assert.Equal(t, "NOT_FOUND", code)
	assert.Equal(t, true, srv.Records("Account")[0]["IsDeleted"])

	unknown := "001000000000000AAA"
	for _, m := range []string{"GET", "PATCH", "DELETE"} {
		st, body = c.call(m, v+"/sobjects/Account/"+unknown, map[string]any{})
		assert.Equal(t, 404, st, m)
		code, _ = restErr(t, body)
		assert.Equal(t, "NOT_FOUND", code, m)
	}
	st, body = c.call("PATCH", v+"/sobjects/Account/nonsense", map[string]any{})
	assert.Equal(t, 400, st)
	code, _ = restErr(t, body)
	assert.Equal(t, "MALFORMED_ID", code)
	st, body = c.call("DELETE", v+"/sobjects/Account/nonsense", nil)
	assert.Equal(t, 400, st)
	code, _ = restErr(t, body)
	assert.Equal(t, "MALFORMED_ID", code)

	st, _ = c.call("GET", v+"/sobjects/Nope__c", nil)
	assert.Equal(t, 404, st)
	st, _ = c.call("PUT", v+"/sobjects/Account", nil)
	assert.Equal(t, 405, st)
	st, _ = c.call("PUT", v+"/sobjects/Account/"+unknown, nil)
	assert.Equal(t, 405, st)
	st, _ = c.call("POST", v+"/sobjects", nil)
	assert.Equal(t, 405, st)
	st, _ = c.call("GET", v+"/sobjects/Account/a/b/c", nil)
	assert.Equal(t, 404, st)
	st, body = c.call("GET", v+"/sobjects/Account", nil)
	require.Equal(t, 200, st)
	assert.Equal(t, "001", obj(obj(body)["objectDescribe"])["keyPrefix"])
}

func TestCreateErrors(t *testing.T) {
	srv, c := start(t, WithObject(Object{Name: "Ticket__c", Fields: []Field{
		{Name: "Code__c", Type: TypeString, Length: 5, Unique: true},
		{Name: "Level__c", Type: TypePicklist, Values: []string{"Low", "High"}, Restricted: true},
		{Name: "Score__c", Type: TypeDouble, Precision: 4, Scale: 1},
		{Name: "Frozen__c", Type: TypeString, NotUpdateable: true},
		{Name: "Computed__c", Type: TypeString, NotCreateable: true, NotUpdateable: true},
		{Name: "Due__c", Type: TypeDate},
		{Name: "At__c", Type: TypeDateTime},
		{Name: "Done__c", Type: TypeBoolean},
	}}))
	acct := mustInsert(t, srv, "Account", map[string]any{"Name": "Acme", "External_Id__c": "A-1"})
	opp := mustInsert(t, srv, "Opportunity", map[string]any{"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2024-01-31"})
	mustInsert(t, srv, "Ticket__c", map[string]any{"Name": "T", "Code__c": "abc"})
	gone := mustInsert(t, srv, "Account", map[string]any{"Name": "Gone"})
	c.call("DELETE", v+"/sobjects/Account/"+gone, nil)

	for _, tc := range []struct {
		name, object string
		body         any
		code, msg    string
		fields       []any
	}{
		{"unknown field", "Account", map[string]any{"Name": "x", "Nope__c": 1}, "INVALID_FIELD", "No such column 'Nope__c' on sobject of type Account", nil},
		{"required", "Lead", map[string]any{"FirstName": "x"}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName, Company]", []any{"LastName", "Company"}},
		{"required opportunity", "Opportunity", map[string]any{"Name": "x"}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [StageName, CloseDate]", []any{"StageName", "CloseDate"}},
		{"too long", "Ticket__c", map[string]any{"Name": "x", "Code__c": "abcdef"}, "STRING_TOO_LONG", "Code: data value too large: abcdef (max length=5)", []any{"Code__c"}},
		{"not createable", "Account", map[string]any{"Name": "x", "CreatedDate": "2024-01-01T00:00:00Z"}, "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: CreatedDate. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", []any{"CreatedDate"}},
		{"computed name", "Contact", map[string]any{"LastName": "x", "Name": "y"}, "INVALID_FIELD_FOR_INSERT_UPDATE", "", []any{"Name"}},
		{"custom not createable", "Ticket__c", map[string]any{"Name": "x", "Computed__c": "y"}, "INVALID_FIELD_FOR_INSERT_UPDATE", "", []any{"Computed__c"}},
		{"id on insert", "Account", map[string]any{"Name": "x", "Id": acct}, "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", []any{"Id"}},
		{"bad number", "Account", map[string]any{"Name": "x", "NumberOfEmployees": "many"}, "JSON_PARSER_ERROR", "Cannot deserialize instance of int from VALUE_STRING value many or request may be missing a required field", nil},
		{"fraction for int", "Account", map[string]any{"Name": "x", "NumberOfEmployees": 1.5}, "JSON_PARSER_ERROR", "Cannot deserialize instance of int from VALUE_NUMBER_FLOAT value 1.5 or request may be missing a required field", nil},
		{"bad double", "Ticket__c", map[string]any{"Name": "x", "Score__c": true}, "JSON_PARSER_ERROR", "Cannot deserialize instance of double from VALUE_TRUE value true or request may be missing a required field", nil},
		{"bad boolean", "Ticket__c", map[string]any{"Name": "x", "Done__c": "yes"}, "JSON_PARSER_ERROR", "Cannot deserialize instance of boolean from VALUE_STRING value yes or request may be missing a required field", nil},
		{"bad date", "Ticket__c", map[string]any{"Name": "x", "Due__c": "31/01/2024"}, "JSON_PARSER_ERROR", "Cannot deserialize instance of date from VALUE_STRING value 31/01/2024 or request may be missing a required field", nil},
		{"bad datetime", "Ticket__c", map[string]any{"Name": "x", "At__c": 5}, "JSON_PARSER_ERROR", "Cannot deserialize instance of datetime from VALUE_NUMBER_INT value 5 or request may be missing a required field", nil},
		{"object for string", "Account", map[string]any{"Name": map[string]any{"a": 1}}, "JSON_PARSER_ERROR", "Cannot deserialize instance of String from START_OBJECT or request may be missing a required field", nil},
		{"number out of range", "Ticket__c", map[string]any{"Name": "x", "Score__c": 1000}, "NUMBER_OUTSIDE_VALID_RANGE", "Score: value outside of valid range on numeric field: 1000", []any{"Score__c"}},
		{"restricted picklist", "Ticket__c", map[string]any{"Name": "x", "Level__c": "Mid"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Level: bad value for restricted picklist field: Mid", []any{"Level__c"}},
		{"email", "Contact", map[string]any{"LastName": "x", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS", "Email: invalid email address: not-an-email", []any{"Email"}},
		{"unique", "Ticket__c", map[string]any{"Name": "x", "Code__c": "ABC"}, "DUPLICATE_VALUE", "duplicate value found: Code__c duplicates value on record with id: ", nil},
		{"malformed lookup", "Contact", map[string]any{"LastName": "x", "AccountId": "NotReal"}, "MALFORMED_ID", "Account ID: id value of incorrect type: NotReal", []any{"AccountId"}},
		{"lookup of wrong type", "Contact", map[string]any{"LastName": "x", "AccountId": opp}, "FIELD_INTEGRITY_EXCEPTION", "field integrity exception: unknown (Account ID: id value of incorrect type: " + opp + ")", []any{"AccountId"}},
		{"lookup unknown", "Contact", map[string]any{"LastName": "x", "AccountId": "001000000000000AAA"}, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", nil},
		{"lookup deleted", "Contact", map[string]any{"LastName": "x", "AccountId": gone}, "ENTITY_IS_DELETED", "entity is deleted", nil},
		{"relationship unknown ext", "Contact", map[string]any{"LastName": "x", "Account": map[string]any{"External_Id__c": "A-404"}}, "INVALID_FIELD", "Foreign key external ID: A-404 not found for field External_Id__c in entity Account", nil},
		{"relationship non-ext field", "Contact", map[string]any{"LastName": "x", "Account": map[string]any{"Name": "Acme"}}, "INVALID_FIELD", "The Name field is not an external ID or indexed field for Account", nil},
		{"relationship unknown field", "Contact", map[string]any{"LastName": "x", "Account": map[string]any{"Nope": "Acme"}}, "INVALID_FIELD", "No such column 'Nope' on sobject of type Account", nil},
		{"relationship two fields", "Contact", map[string]any{"LastName": "x", "Account": map[string]any{"External_Id__c": "A-1", "Id": acct}}, "INVALID_FIELD", "The Account relationship must name exactly one external ID field", nil},
		{"relationship not an object", "Contact", map[string]any{"LastName": "x", "Account": "A-1"}, "JSON_PARSER_ERROR", "Cannot deserialize instance of Account from VALUE_STRING value A-1 or request may be missing a required field", nil},
		{"both id and relationship", "Contact", map[string]any{"LastName": "x", "AccountId": acct, "Account": map[string]any{"External_Id__c": "A-1"}}, "INVALID_FIELD", "Cannot specify both an external ID reference Account and a salesforce id, AccountId", nil},
		{"not json", "Account", "{nope", "JSON_PARSER_ERROR", "", nil},
		{"json array", "Account", "[]", "JSON_PARSER_ERROR", "", nil},
		{"trailing data", "Account", `{"Name":"x"} {}`, "JSON_PARSER_ERROR", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body := c.call("POST", v+"/sobjects/"+tc.object, tc.body)
			require.Equal(t, 400, st, "%v", body)
			arr := body.([]any)
			e := obj(arr[0])
			assert.Equal(t, tc.code, e["errorCode"])
			if tc.msg != "" {
				assert.True(t, strings.HasPrefix(e["message"].(string), tc.msg), "message %q", e["message"])
			}
			if tc.fields != nil {
				assert.Equal(t, tc.fields, e["fields"])
			}
		})
	}
	// Nothing was saved by the failures.
	assert.Len(t, srv.Records("Contact"), 0)
	assert.Len(t, srv.Records("Lead"), 0)

	// Updates check updateable fields.
	tid := mustInsert(t, srv, "Ticket__c", map[string]any{"Name": "U", "Frozen__c": "ice"})
	st, body := c.call("PATCH", v+"/sobjects/Ticket__c/"+tid, map[string]any{"Frozen__c": "water"})
	assert.Equal(t, 400, st)
	code, _ := restErr(t, body)
	assert.Equal(t, "INVALID_FIELD_FOR_INSERT_UPDATE", code)
	st, body = c.call("PATCH", v+"/sobjects/Ticket__c/"+tid, map[string]any{"Name": nil})
	assert.Equal(t, 400, st)
	code, _ = restErr(t, body)
	assert.Equal(t, "REQUIRED_FIELD_MISSING", code)
	st, _ = c.call("PATCH", v+"/sobjects/Ticket__c/"+tid, map[string]any{"Code__c": "abc"})
	assert.Equal(t, 400, st, "unique value of another record")
	st, _ = c.call("PATCH", v+"/sobjects/Ticket__c/"+tid, map[string]any{"Code__c": "xyz", "Done__c": "TRUE", "At__c": "2024-05-01T10:00:00+02:00", "Due__c": ""})
	assert.Equal(t, 204, st)
	st, _ = c.call("PATCH", v+"/sobjects/Ticket__c/"+tid, map[string]any{"Code__c": "XYZ"})
	assert.Equal(t, 204, st, "its own unique value")
	st, body = c.call("GET", v+"/sobjects/Ticket__c/"+tid, nil)
	require.Equal(t, 200, st)
	assert.Equal(t, true, obj(body)["Done__c"])
	assert.Equal(t, "2024-05-01T08:00:00.000+0000", obj(body)["At__c"])
	assert.Nil(t, obj(body)["Due__c"])
}

func TestRelationshipLookup(t *testing.T) {
	srv, c := start(t)
	acct := mustInsert(t, srv, "Account", map[string]any{"Name": "Acme", "External_Id__c": "A-1"})
	st, body := c.call("POST", v+"/sobjects/Contact", map[string]any{"LastName": "Smith", "Account": map[string]any{"attributes": map[string]any{"type": "Account"}, "External_Id__c": "a-1"}})
	require.Equal(t, 201, st, "%v", body)
	cid := obj(body)["id"].(string)
	assert.Equal(t, acct, srv.Records("Contact")[0]["AccountId"], "external ids match case-insensitively")
	st, _ = c.call("PATCH", v+"/sobjects/Contact/"+cid, map[string]any{"Account": nil})
	require.Equal(t, 204, st)
	assert.Nil(t, srv.Records("Contact")[0]["AccountId"])
	st, _ = c.call("PATCH", v+"/sobjects/Contact/"+cid, map[string]any{"Account": map[string]any{"Id": acct}})
	require.Equal(t, 204, st)
	assert.Equal(t, acct, srv.Records("Contact")[0]["AccountId"])

	// Several accounts with one external id make the lookup ambiguous.
	require.NoError(t, srv.DefineObject(Object{Name: "Account", Fields: []Field{{Name: "Legacy__c", Type: TypeString, ExternalID: true}}}))
	mustInsert(t, srv, "Account", map[string]any{"Name": "B", "Legacy__c": "L"})
	mustInsert(t, srv, "Account", map[string]any{"Name": "C", "Legacy__c": "L"})
	st, body = c.call("POST", v+"/sobjects/Contact", map[string]any{"LastName": "X", "Account": map[string]any{"Legacy__c": "L"}})
	assert.Equal(t, 400, st)
	code, msg := restErr(t, body)
	assert.Equal(t, "DUPLICATE_EXTERNAL_ID", code)
	assert.Contains(t, msg, "Legacy: more than one record found for external id field: [001")
}

func TestUpsertByExternalID(t *testing.T) {
	srv, c := start(t, WithObject(Object{Name: "Account", Fields: []Field{{Name: "Legacy__c", Type: TypeString, ExternalID: true}}}))
	path := v + "/sobjects/Account/External_Id__c/A-1"
	st, body := c.call("PATCH", path, map[string]any{"Name": "Acme"})
	require.Equal(t, 201, st, "%v", body)
	res := obj(body)
	assert.Equal(t, true, res["created"])
	assert.Equal(t, true, res["success"])
	id := res["id"].(string)

	st, body = c.call("PATCH", path, map[string]any{"Name": "Acme 2"})
	require.Equal(t, 200, st)
	assert.Equal(t, false, obj(body)["created"])
	assert.Equal(t, id, obj(body)["id"])
	assert.Equal(t, "Acme 2", srv.Records("Account")[0]["Name"])

	st, _ = c.call("PATCH", "/services/data/v45.0/sobjects/Account/External_Id__c/A-1", map[string]any{"Name": "Acme 3"})
	assert.Equal(t, 204, st, "before API 46.0 an update answers 204")

	st, body = c.call("GET", path, nil)
	require.Equal(t, 200, st)
	assert.Equal(t, id, obj(body)["Id"])
	st, _ = c.call("GET", v+"/sobjects/Account/External_Id__c/none", nil)
	assert.Equal(t, 404, st)

	// REST upsert uses external ids, not record ids; a POST to
	// /sobjects/{Obj}/Id creates (API 37.0 and later).
	st, body = c.call("PATCH", v+"/sobjects/Account/Id/"+id, map[string]any{"Phone": "1"})
	require.Equal(t, 400, st, "%v", body)
	code0, _ := restErr(t, body)
	assert.Equal(t, "INVALID_FIELD", code0)
	st, body = c.call("POST", v+"/sobjects/Account/Id", map[string]any{"Name": "Created through Id"})
	require.Equal(t, 201, st, "%v", body)
	assert.Equal(t, true, obj(body)["success"])
	st, _ = c.call("POST", "/services/data/v36.0/sobjects/Account/Id", map[string]any{"Name": "Too old"})
	assert.Equal(t, 405, st, "before API 37.0 there is no create through Id")
	st, _ = c.call("GET", v+"/sobjects/Account/Id/"+id, nil)
	assert.Equal(t, 200, st)

	// Errors.
	st, body = c.call("PATCH", v+"/sobjects/Account/Nope__c/1", map[string]any{"Name": "x"})
	assert.Equal(t, 404, st)
	code, msg := restErr(t, body)
	assert.Equal(t, "NOT_FOUND", code)
	assert.Equal(t, "Provided external ID field does not exist or is not accessible: Nope__c", msg)
	st, body = c.call("PATCH", v+"/sobjects/Account/Name/Acme", map[string]any{"Phone": "x"})
	assert.Equal(t, 400, st)
	code, msg = restErr(t, body)
	assert.Equal(t, "INVALID_FIELD", code)
	assert.Equal(t, "Field name provided, Name does not match an External ID, Salesforce Id, or indexed field for Account", msg)
	st, _ = c.call("GET", v+"/sobjects/Account/Name/Acme", nil)
	assert.Equal(t, 400, st)
	st, body = c.call("PATCH", path, map[string]any{"External_Id__c": "A-2"})
	assert.Equal(t, 400, st)
	code, msg = restErr(t, body)
	assert.Equal(t, "INVALID_FIELD", code)
	assert.Equal(t, "The field External_Id__c was specified in the URL and the body; specify it only in the URL", msg)
	st, body = c.call("PATCH", v+"/sobjects/Account/External_Id__c/A-9", map[string]any{"Phone": "1"})
	assert.Equal(t, 400, st)
	code, _ = restErr(t, body)
	assert.Equal(t, "REQUIRED_FIELD_MISSING", code)
	st, _ = c.call("PUT", path, nil)
	assert.Equal(t, 405, st)
	st, _ = c.call("PATCH", path, "{bad")
	assert.Equal(t, 400, st)

	// Several records with one external id: 300 with their URLs.
	a := mustInsert(t, srv, "Account", map[string]any{"Name": "B", "Legacy__c": "L"})
	b := mustInsert(t, srv, "Account", map[string]any{"Name": "C", "Legacy__c": "L"})
	for _, m := range []string{"PATCH", "GET", "DELETE"} {
		st, body = c.call(m, v+"/sobjects/Account/Legacy__c/L", map[string]any{"Name": "x"})
		assert.Equal(t, 300, st, m)
		assert.Equal(t, []any{v + "/sobjects/Account/" + a, v + "/sobjects/Account/" + b}, body, m)
	}
	// Delete by external id.
	st, _ = c.call("DELETE", path, nil)
	assert.Equal(t, 204, st)
	st, _ = c.call("DELETE", path, nil)
	assert.Equal(t, 404, st)
	st, _ = c.call("DELETE", v+"/sobjects/Account/Id/"+a, nil)
	assert.Equal(t, 204, st)
}

func TestDescribe(t *testing.T) {
	_, c := start(t, WithSchemaFile("testdata/schema.yaml"))
	st, body := c.call("GET", v+"/sobjects/Contact/describe", nil)
	require.Equal(t, 200, st)
	d := obj(body)
	assert.Equal(t, "003", d["keyPrefix"])
	fields := map[string]map[string]any{}
	for _, f := range d["fields"].([]any) {
		fields[obj(f)["name"].(string)] = obj(f)
	}
	assert.Equal(t, "id", fields["Id"]["type"])
	assert.Equal(t, false, fields["Id"]["createable"])
	assert.Equal(t, false, fields["LastName"]["nillable"])
	assert.Equal(t, json.Number("80"), fields["LastName"]["length"])
	assert.Equal(t, "reference", fields["AccountId"]["type"])
	assert.Equal(t, []any{"Account"}, fields["AccountId"]["referenceTo"])
	assert.Equal(t, "Account", fields["AccountId"]["relationshipName"])
	assert.Nil(t, fields["Email"]["relationshipName"])
	assert.Equal(t, true, fields["External_Id__c"]["externalId"])
	assert.Equal(t, true, fields["External_Id__c"]["unique"])
	assert.Equal(t, true, fields["External_Id__c"]["idLookup"])
	assert.Equal(t, true, fields["HasOptedOutOfEmail"]["defaultedOnCreate"])
	assert.Equal(t, false, fields["Name"]["createable"])
	assert.Equal(t, "Last Name", fields["LastName"]["label"])

	st, body = c.call("GET", v+"/sobjects/Opportunity/describe", nil)
	require.Equal(t, 200, st)
	for _, f := range obj(body)["fields"].([]any) {
		if obj(f)["name"] == "Amount" {
			assert.Equal(t, json.Number("18"), obj(f)["precision"])
			assert.Equal(t, json.Number("2"), obj(f)["scale"])
			assert.Equal(t, "currency", obj(f)["type"])
		}
		if obj(f)["name"] == "StageName" {
			assert.NotEmpty(t, obj(f)["picklistValues"])
		}
	}
	st, body = c.call("GET", v+"/sobjects/Account/describe", nil)
	require.Equal(t, 200, st)
	var kids []string
	for _, k := range obj(body)["childRelationships"].([]any) {
		kids = append(kids, obj(k)["childSObject"].(string)+"."+obj(k)["field"].(string))
	}
	assert.Contains(t, kids, "Contact.AccountId")
	assert.Contains(t, kids, "Invoice__c.Account__c")

	st, body = c.call("GET", v+"/sobjects", nil)
	require.Equal(t, 200, st)
	names := map[string]any{}
	for _, o := range obj(body)["sobjects"].([]any) {
		names[obj(o)["name"].(string)] = obj(o)["keyPrefix"]
	}
	assert.Equal(t, "00Q", names["Lead"])
	assert.Equal(t, "006", names["Opportunity"])
	assert.Equal(t, "a0I", names["Invoice__c"])
	st, _ = c.call("POST", v+"/sobjects/Account/describe", nil)
	assert.Equal(t, 405, st)
}
