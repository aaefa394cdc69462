package salesforce

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
)

func TestParseAPIError(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   APIError
	}{
		{"rest list", 400, `[{"errorCode":"INVALID_FIELD","message":"No such column 'Foo__c'","fields":["Foo__c"]}]`,
			APIError{StatusCode: 400, Code: "INVALID_FIELD", Message: "No such column 'Foo__c'", Fields: []string{"Foo__c"}}},
		{"several errors", 400, `[{"errorCode":"A","message":"one"},{"errorCode":"B","message":"two"}]`,
			APIError{StatusCode: 400, Code: "A", Message: "one; B: two"}},
		{"oauth", 400, `{"error":"invalid_grant","error_description":"authentication failure"}`,
			APIError{StatusCode: 400, Code: "invalid_grant", Message: "authentication failure"}},
		{"soap fault", 500, `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`,
			APIError{StatusCode: 500, Code: "INVALID_LOGIN", Message: "INVALID_LOGIN: Invalid username"}},
		{"html page", 502, "<html>\n<body>Bad   gateway</body></html>",
			APIError{StatusCode: 502, Code: "HTTP_502", Message: "<html> <body>Bad gateway</body></html>"}},
		{"empty list", 500, `[]`, APIError{StatusCode: 500, Code: "HTTP_500", Message: "[]"}},
		{"binary", 500, "\xff\xfe", APIError{StatusCode: 500, Code: "HTTP_500"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := parseAPIError(c.status, []byte(c.body), "GET", "/services/data/v62.0/x")
			c.want.Method, c.want.Path = "GET", "/services/data/v62.0/x"
			assert.Equal(t, &c.want, got)
		})
	}
}

func TestAPIErrorText(t *testing.T) {
	e := &APIError{StatusCode: 400, Code: "INVALID_FIELD", Message: "bad", Fields: []string{"A", "B"}, Method: "PATCH", Path: "/p"}
	assert.Equal(t, "salesforce: PATCH /p: 400 INVALID_FIELD: bad (fields: A, B)", e.Error())
	assert.Equal(t, "salesforce: 401 INVALID_SESSION_ID", (&APIError{StatusCode: 401, Code: "INVALID_SESSION_ID"}).Error())
	var target *APIError
	require.True(t, errors.As(errors.Join(errors.New("x"), e), &target))
	assert.Equal(t, &sink.RecordError{Code: "INVALID_FIELD", Message: "bad", Fields: []string{"A", "B"}}, e.RecordError())
}

func TestSnippetCutsLongBodies(t *testing.T) {
	for _, in := range []string{strings.Repeat("é", 300), "a" + strings.Repeat("é", 300)} {
		s := snippet([]byte(in))
		assert.LessOrEqual(t, len(s), 204)
		assert.True(t, strings.HasSuffix(s, "…"))
		assert.True(t, utf8.ValidString(s), "cut on a character boundary")
	}
}

func TestParseBulkError(t *testing.T) {
	cases := []struct {
		in   string
		want sink.RecordError
	}{
		{"REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --",
			sink.RecordError{Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [Name]", Fields: []string{"Name"}}},
		{"DUPLICATE_VALUE:duplicate value found: External_Id__c duplicates value on record with id: 001000000000001AAA:External_Id__c,Name --",
			sink.RecordError{Code: "DUPLICATE_VALUE", Message: "duplicate value found: External_Id__c duplicates value on record with id: 001000000000001AAA", Fields: []string{"External_Id__c", "Name"}}},
		{"UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record: --",
			sink.RecordError{Code: "UNABLE_TO_LOCK_ROW", Message: "unable to obtain exclusive access to this record"}},
		{"INVALID_FIELD:Foo: bar (see docs: here) --",
			sink.RecordError{Code: "INVALID_FIELD", Message: "Foo: bar (see docs: here)"}},
		{"something odd", sink.RecordError{Code: "UNKNOWN_ERROR", Message: "something odd"}},
		{":no code --", sink.RecordError{Code: "UNKNOWN_ERROR", Message: ":no code"}},
		{"lower:case code --", sink.RecordError{Code: "UNKNOWN_ERROR", Message: "lower:case code"}},
		{"", sink.RecordError{Code: "UNKNOWN_ERROR"}},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			assert.Equal(t, &c.want, parseBulkError(c.in))
		})
	}
}

func TestScrubError(t *testing.T) {
	base := &APIError{StatusCode: 400, Code: "x", Message: "hunter2 leaked"}
	err := scrubError(base, []string{"hunter2"})
	assert.NotContains(t, err.Error(), "hunter2")
	var ae *APIError
	assert.True(t, errors.As(err, &ae))
	assert.Same(t, base, ae)
	clean := errors.New("fine")
	assert.Same(t, clean, scrubError(clean, []string{"hunter2"}))
	assert.NoError(t, scrubError(nil, nil))
}
