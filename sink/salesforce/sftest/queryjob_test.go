package sftest

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Bulk API 2.0 query job: created UploadComplete, then InProgress, then
// JobComplete; results in pages of maxRecords rows with the header on
// each, Sforce-NumberOfRecords, and Sforce-Locator naming the next page
// ("null" on the last); a locator can be read again.
func TestQueryJob(t *testing.T) {
	srv, c := start(t)
	parent := mustInsert(t, srv, "Account", map[string]any{"Name": "Parent", "External_Id__c": "P"})
	for i := range 5 {
		f := map[string]any{"Name": fmt.Sprintf("Acct %d, \"quoted\"", i), "External_Id__c": fmt.Sprintf("A-%d", i), "NumberOfEmployees": i}
		if i%2 == 0 {
			f["ParentId"] = parent
		}
		mustInsert(t, srv, "Account", f)
	}
	st, body := c.call("POST", v+"/jobs/query", map[string]any{"operation": "query", "query": "SELECT Id, Name, NumberOfEmployees, Parent.Name FROM Account WHERE External_Id__c LIKE 'A-%' ORDER BY External_Id__c"})
	require.Equal(t, 200, st, "%v", body)
	info := obj(body)
	id := info["id"].(string)
	assert.Equal(t, "UploadComplete", info["state"])
	assert.Equal(t, "Account", info["object"])
	assert.Equal(t, "V2Query", info["jobType"])

	var states []any
	for range 3 {
		_, body = c.call("GET", v+"/jobs/query/"+id, nil)
		states = append(states, obj(body)["state"])
	}
	assert.Equal(t, []any{"InProgress", "JobComplete", "JobComplete"}, states)
	assert.Equal(t, json.Number("5"), obj(body)["numberRecordsProcessed"])

	var all [][]string
	locator, pages := "", 0
	for {
		path := v + "/jobs/query/" + id + "/results/?maxRecords=2"
		if locator != "" {
			path += "&locator=" + locator
		}
		res, raw := c.do("GET", path, nil)
		require.Equal(t, 200, res.StatusCode, "%s", raw)
		assert.True(t, strings.HasPrefix(string(raw), `"Id","Name","NumberOfEmployees","Parent.Name"`+"\n"), "every cell quoted, a header on each page")
		rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint(len(rows)-1), res.Header.Get("Sforce-NumberOfRecords"))
		all = append(all, rows[1:]...)
		pages++
		locator = res.Header.Get("Sforce-Locator")
		if locator == "null" {
			break
		}
	}
	assert.Equal(t, 3, pages)
	require.Len(t, all, 5)
	assert.Equal(t, []string{"Acct 0, \"quoted\"", "0", "Parent"}, all[0][1:])
	assert.Equal(t, []string{"Acct 1, \"quoted\"", "1", ""}, all[1][1:], "an empty relationship is an empty cell")

	res, _ := c.do("GET", v+"/jobs/query/"+id+"/results?locator=zz&maxRecords=2", nil)
	assert.Equal(t, 400, res.StatusCode, "a locator past the end")
	res, _ = c.do("GET", v+"/jobs/query/"+id+"/results?maxRecords=0", nil)
	assert.Equal(t, 400, res.StatusCode)

	_, body = c.call("GET", v+"/jobs/query", nil)
	assert.Len(t, obj(body)["records"], 1)
	st, _ = c.call("PATCH", v+"/jobs/query/"+id, map[string]any{"state": "Aborted"})
	assert.Equal(t, 409, st, "a complete job cannot be aborted")
	res, _ = c.do("DELETE", v+"/jobs/query/"+id, nil)
	assert.Equal(t, 204, res.StatusCode)
	st, _ = c.call("GET", v+"/jobs/query/"+id, nil)
	assert.Equal(t, 404, st)
}

func TestQueryJobErrors(t *testing.T) {
	_, c := start(t)
	for _, tc := range []struct {
		name string
		body any
		code string
	}{
		{"operation", map[string]any{"operation": "insert", "query": "SELECT Id FROM Account"}, "INVALIDJOB"},
		{"no query", map[string]any{"operation": "query"}, "INVALIDJOB"},
		{"bad soql", map[string]any{"operation": "query", "query": "SELECT Nope FROM Account"}, "INVALID_FIELD"},
		{"count", map[string]any{"operation": "query", "query": "SELECT COUNT() FROM Account"}, "INVALIDJOB"},
		{"delimiter", map[string]any{"operation": "query", "query": "SELECT Id FROM Account", "columnDelimiter": "SPACE"}, "INVALIDJOB"},
		{"not json", "{", "JSON_PARSER_ERROR"},
	} {
		st, body := c.call("POST", v+"/jobs/query", tc.body)
		assert.Equal(t, 400, st, tc.name)
		code, _ := restErr(t, body)
		assert.Equal(t, tc.code, code, tc.name)
	}
	st, body := c.call("POST", v+"/jobs/query", map[string]any{"operation": "queryAll", "query": "SELECT Id FROM Account", "lineEnding": "CRLF", "columnDelimiter": "PIPE"})
	require.Equal(t, 200, st)
	id := obj(body)["id"].(string)
	res, _ := c.do("GET", v+"/jobs/query/"+id+"/results", nil)
	assert.Equal(t, 400, res.StatusCode, "results before JobComplete")
	st, body = c.call("PATCH", v+"/jobs/query/"+id, map[string]any{"state": "Aborted"})
	require.Equal(t, 200, st)
	assert.Equal(t, "Aborted", obj(body)["state"])
	st, _ = c.call("GET", v+"/jobs/query/nope", nil)
	assert.Equal(t, 404, st)
}
