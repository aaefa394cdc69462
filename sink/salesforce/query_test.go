package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink/salesforce/sftest"
)

func TestQueryPages(t *testing.T) {
	srv := emulator(t, sftest.WithQueryBatchSize(3))
	p := seed(t, srv, "Account", map[string]any{"Name": "Parent", "External_Id__c": "P"})
	for i := 0; i < 7; i++ {
		seed(t, srv, "Account", map[string]any{"Name": fmt.Sprint("A", i), "NumberOfEmployees": 10 + i, "ParentId": p})
	}
	c := emuClient(t, srv)
	var rows []currentRow
	for r, err := range c.Query(context.Background(), "SELECT Id, Name, NumberOfEmployees, Parent.External_Id__c FROM Account WHERE ParentId != null ORDER BY Name") {
		require.NoError(t, err)
		rows = append(rows, r)
	}
	require.Len(t, rows, 7)
	assert.Equal(t, "A0", rows[0].String("name"))
	assert.Equal(t, json.Number("10"), rows[0]["NumberOfEmployees"])
	assert.Equal(t, "10", rows[0].String("NumberOfEmployees"))
	assert.Equal(t, "P", rows[6].String("Parent.External_Id__c"))
	_, hasAttrs := rows[0]["attributes"]
	assert.False(t, hasAttrs)
	assert.GreaterOrEqual(t, countRequests(srv, "GET", "/query"), 3, "followed nextRecordsUrl")

	// Stopping early stops fetching.
	srv.ResetRequests()
	for range c.Query(context.Background(), "SELECT Id FROM Account") {
		break
	}
	assert.Equal(t, 1, countRequests(srv, "GET", "/query"))
}

func TestQueryErrors(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv)
	for _, err := range c.Query(context.Background(), "SELECT Nope FROM Account") {
		var ae *APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, "INVALID_FIELD", ae.Code)
	}
	srv.Fault(sftest.Fault{Kind: sftest.FaultMalformed, Path: "/query", Times: 1})
	n := 0
	for _, err := range c.Query(context.Background(), "SELECT Id FROM Account") {
		assert.ErrorContains(t, err, "decoding the answer")
		n++
	}
	assert.Equal(t, 1, n)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, err := range c.Query(ctx, "SELECT Id FROM Account") {
		assert.ErrorIs(t, err, context.Canceled)
	}
}

func TestRowGet(t *testing.T) {
	r := toRow(map[string]any{"attributes": map[string]any{"type": "Contact"}, "Name": "x", "Flag": true, "Off": false,
		"Account": map[string]any{"attributes": map[string]any{}, "Parent": map[string]any{"Key__c": "K"}}, "Owner": nil, "N": 1.5})
	cases := []struct {
		path string
		want string
		ok   bool
	}{
		{"name", "x", true}, {"Flag", "true", true}, {"Off", "false", true}, {"account.parent.key__c", "K", true},
		{"Owner.Name", "", true}, {"Name.Sub", "", false}, {"Missing.Sub", "", false}, {"Missing", "", false}, {"N", "1.5", true},
	}
	for _, c := range cases {
		_, ok := r.Get(c.path)
		assert.Equal(t, c.ok, ok, c.path)
		assert.Equal(t, c.want, r.String(c.path), c.path)
	}
}

func TestCurrentValues(t *testing.T) {
	srv := emulator(t)
	const n = 1500
	ids := map[string]string{}
	keys := make([]string, 0, n+2)
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("%s'%04d", strings.Repeat("k", 12), i)
		fields := map[string]any{"Name": "N", "External_Id__c": k}
		if i%2 == 0 {
			fields["Phone"] = "555"
		}
		ids[k] = seed(t, srv, "Account", fields)
		keys = append(keys, k)
	}
	keys = append(keys, "missing", keys[0], "")
	c := emuClient(t, srv)
	got, err := c.CurrentValues(context.Background(), "Account", "External_Id__c", keys, []string{"Phone", "phone", "Parent.External_Id__c"})
	require.NoError(t, err)
	assert.Len(t, got, n)
	assert.Equal(t, "555", got[keys[0]].String("Phone"))
	assert.Equal(t, "", got[keys[1]].String("Phone"))
	assert.Equal(t, ids[keys[1]], got[keys[1]].String("Id"))
	assert.Greater(t, countRequests(srv, "GET", "/query"), 1, "the keys took several queries")

	byID, err := c.CurrentValues(context.Background(), "Account", "Id", []string{toID18(ids[keys[0]])}, []string{"Phone"})
	require.NoError(t, err)
	assert.Contains(t, byID, ids[keys[0]])

	for _, bad := range [][2]string{{"Bad Object", "Id"}, {"Account", "Id; x"}} {
		_, err := c.CurrentValues(context.Background(), bad[0], bad[1], keys[:1], nil)
		assert.Error(t, err, bad)
	}
	_, err = c.CurrentValues(context.Background(), "Account", "Id", keys[:1], []string{"Phone) OR (Name"})
	assert.ErrorContains(t, err, "not a field name")
}

// A mapping of a hundred long-named fields and keys enough for several IN
// lists: no request reaches Salesforce's 16,384-byte limit (the emulator
// answers 414 or 431 above it), the fields are split over several SELECT
// lists and each record's row carries all of them, merged by Id.
func TestCurrentValuesWideSelect(t *testing.T) {
	const nFields, nRecs = 100, 600
	obj := sftest.Object{Name: "Wide__c", Fields: []sftest.Field{{Name: "Key__c", Type: sftest.TypeString, ExternalID: true, Unique: true}}}
	var names []string
	for i := range nFields {
		name := fmt.Sprintf("A_Rather_Long_Field_Name_For_Width_%03d__c", i)
		names = append(names, name)
		obj.Fields = append(obj.Fields, sftest.Field{Name: name, Type: sftest.TypeString})
	}
	srv := emulator(t, sftest.WithObject(obj))
	var keys []string
	for r := range nRecs {
		f := map[string]any{"Name": "W", "Key__c": fmt.Sprintf("KEY-%s-%04d", strings.Repeat("k", 20), r)}
		for i, name := range names {
			f[name] = fmt.Sprintf("v%d-%d", r, i)
		}
		seed(t, srv, "Wide__c", f)
		keys = append(keys, f["Key__c"].(string))
	}
	c := emuClient(t, srv)
	got, err := c.CurrentValues(context.Background(), "Wide__c", "Key__c", keys, names)
	require.NoError(t, err)
	require.Len(t, got, nRecs)
	for _, r := range []int{0, nRecs / 2, nRecs - 1} {
		row := got[keys[r]]
		for i, name := range names {
			assert.Equal(t, fmt.Sprintf("v%d-%d", r, i), row.String(name), "record %d field %s", r, name)
		}
	}
	parts := selectParts([]string{"Id", "Key__c"}, names, maxSelectBytes)
	assert.Greater(t, len(parts), 1, "the fields took several SELECT lists")
	queries := 0
	for _, req := range srv.Requests() {
		assert.Less(t, req.Status, 400, "%s %s", req.Method, req.Path)
		if strings.Contains(req.Path, "/query") {
			queries++
			assert.LessOrEqual(t, len(req.Path)+len("?q=")+len(req.Query), maxQueryBytes+100)
		}
	}
	assert.Greater(t, queries, len(parts), "the keys took several IN lists per SELECT list")
}

func TestSelectParts(t *testing.T) {
	parts := selectParts([]string{"Id"}, []string{"A", "B", "C", strings.Repeat("L", 50), "D"}, 20)
	assert.Equal(t, [][]string{{"Id", "A", "B", "C"}, {"Id", strings.Repeat("L", 50)}, {"Id", "D"}}, parts)
	assert.Equal(t, [][]string{{"Id", "Key"}}, selectParts([]string{"Id", "Key"}, nil, 20))
}
