package sftest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const rulesSchema = `
objects:
  - name: Account
    fields:
      - name: Code__c
        type: string
        length: 10
        externalId: true
        unique: true
      - name: Score__c
        type: double
        precision: 8
        scale: 2
      - name: Region__c
        type: string
        length: 5
    onSave:
      - field: Code__c
        upper: true
      - field: Score__c
        round: 0
      - field: Region__c
        from: BillingCountry
`

// byCode returns the live Account records by their Code__c.
func byCode(srv *Server) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range srv.Records("Account") {
		if c, ok := r["Code__c"].(string); ok {
			out[c] = r
		}
	}
	return out
}

func TestSaveRulesOnEveryWritePath(t *testing.T) {
	srv, c := start(t, WithSchemaYAML([]byte(rulesSchema)), WithOrderedResults())

	// REST single create, then update.
	st, res := c.call("POST", v+"/sobjects/Account", map[string]any{"Name": "One", "Code__c": "a-1", "Score__c": 2.5, "BillingCountry": "FR"})
	require.Equal(t, 201, st, "%v", res)
	id := obj(res)["id"].(string)
	st, res = c.call("PATCH", v+"/sobjects/Account/"+id, map[string]any{"Score__c": 3.25, "BillingCountry": "DE"})
	require.Equal(t, 204, st, "%v", res)

	// Collections upsert by the external id.
	st, res = c.call("PATCH", v+"/composite/sobjects/Account/Code__c", map[string]any{"allOrNone": false, "records": []any{
		map[string]any{"attributes": map[string]any{"type": "Account"}, "Name": "Two", "Code__c": "b-2", "Score__c": 7.4},
	}})
	require.Equal(t, 200, st, "%v", res)
	require.Equal(t, true, obj(res.([]any)[0])["success"], "%v", res)

	// Bulk API 2.0 insert.
	_, info := c.runJob(map[string]any{"object": "Account", "operation": "insert", "lineEnding": "LF"},
		"Name,Code__c,Score__c,BillingCountry\nThree,c-3,-1.5,IT\n")
	require.Equal(t, StateJobComplete, info["state"])

	got := byCode(srv)
	require.Len(t, got, 3, "every code stored upper-cased: %v", got)
	one, two, three := got["A-1"], got["B-2"], got["C-3"]
	require.NotNil(t, one)
	require.NotNil(t, two)
	require.NotNil(t, three)
	assert.Equal(t, 3.0, one["Score__c"], "rounded half away from zero")
	assert.Equal(t, "DE", one["Region__c"], "set from the field's value of this save")
	assert.Equal(t, 7.0, two["Score__c"])
	assert.Nil(t, two["Region__c"], "from an empty field: null")
	assert.Equal(t, -2.0, three["Score__c"])
	assert.Equal(t, "IT", three["Region__c"])
}

func TestSaveRuleResultIsChecked(t *testing.T) {
	srv, c := start(t, WithSchemaYAML([]byte(rulesSchema)))
	// Region__c holds 5 characters: a longer country copied into it fails
	// the save as a trigger's value does.
	st, res := c.call("POST", v+"/sobjects/Account", map[string]any{"Name": "x", "BillingCountry": "Germany"})
	require.Equal(t, 400, st)
	code, msg := restErr(t, res)
	assert.Equal(t, "STRING_TOO_LONG", code)
	assert.Contains(t, msg, "Region: data value too large: Germany")
	assert.Empty(t, srv.Records("Account"))
}

func TestSaveRuleDeclarationErrors(t *testing.T) {
	zero, neg := 0, -1
	for _, tc := range []struct {
		name string
		rule SaveRule
		want string
	}{
		{"none", SaveRule{Field: "Name"}, "exactly one"},
		{"two", SaveRule{Field: "Name", Upper: true, From: "Phone"}, "exactly one"},
		{"unknown field", SaveRule{Field: "Nope__c", Upper: true}, "not a data field"},
		{"system field", SaveRule{Field: "CreatedDate", From: "Name"}, "not a data field"},
		{"upper on a number", SaveRule{Field: "AnnualRevenue", Upper: true}, "upper needs a text field"},
		{"round on text", SaveRule{Field: "Name", Round: &zero}, "round needs a number field"},
		{"negative round", SaveRule{Field: "AnnualRevenue", Round: &neg}, "must not be negative"},
		{"unknown source", SaveRule{Field: "Name", From: "Nope"}, "from Nope is not a data field"},
		{"itself", SaveRule{Field: "Name", From: "name"}, "names the field itself"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := NewServer()
			defer srv.Close()
			err := srv.DefineObject(Object{Name: "Account", OnSave: []SaveRule{tc.rule}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestSaveRulesInSchemaStrict(t *testing.T) {
	_, err := parseSchema([]byte("objects:\n  - name: Account\n    onSave:\n      - field: Name\n        lower: true\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "lower")
}

func TestRoundDecimal(t *testing.T) {
	for _, tc := range []struct {
		x     float64
		scale int
		want  float64
	}{
		{1.005, 2, 1.01}, {-1.005, 2, -1.01}, {2.5, 0, 3}, {-2.5, 0, -3}, {1.2345, 3, 1.235},
		{0.125, 2, 0.13}, {7, 2, 7}, {1e300, 2, 1e300}, {2.675, 2, 2.68},
	} {
		assert.Equal(t, tc.want, roundDecimal(tc.x, tc.scale), "%v at %d", tc.x, tc.scale)
	}
}

func TestSaveRulesOverControlEndpoint(t *testing.T) {
	srv, c := start(t)
	c.token = ""
	res, body := c.do("POST", "/__sftest/objects", "objects:\n  - name: Account\n    onSave:\n      - field: Name\n        upper: true\n")
	require.Equal(t, 204, res.StatusCode, "%s", body)
	res, body = c.do("POST", "/__sftest/objects", "objects:\n  - name: Account\n    onSave:\n      - field: Name\n        round: 1\n")
	require.Equal(t, 400, res.StatusCode)
	assert.Contains(t, string(body), "round needs a number field")
	c.token = c.login()
	st, out := c.call("POST", v+"/sobjects/Account", map[string]any{"Name": "acme"})
	require.Equal(t, 201, st, "%v", out)
	assert.Equal(t, "ACME", srv.Records("Account")[0]["Name"])
}
