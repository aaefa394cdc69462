package sftest

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Bulk job keeps the assignment rule it was created with and reports it;
// a value that is not an Id fails the job's creation.
func TestIngestJobAssignmentRule(t *testing.T) {
	srv, c := start(t)
	rule := mustInsert(t, srv, "AssignmentRule", map[string]any{"Name": "Round robin", "SobjectType": "Lead", "Active": true})
	status, body := c.call(http.MethodPost, v+"/jobs/ingest", map[string]any{"object": "Lead", "operation": "insert", "assignmentRuleId": rule})
	require.Equal(t, http.StatusOK, status, "%v", body)
	assert.Equal(t, rule, obj(body)["assignmentRuleId"])
	id := obj(body)["id"].(string)
	_, body = c.call(http.MethodGet, v+"/jobs/ingest/"+id, nil)
	assert.Equal(t, rule, obj(body)["assignmentRuleId"])
	require.Len(t, srv.Jobs(), 1)
	assert.Equal(t, rule, srv.Jobs()[0].AssignmentRuleID)

	status, body = c.call(http.MethodPost, v+"/jobs/ingest", map[string]any{"object": "Lead", "operation": "insert"})
	require.Equal(t, http.StatusOK, status)
	_, has := obj(body)["assignmentRuleId"]
	assert.False(t, has, "a job without a rule names none")

	status, body = c.call(http.MethodPost, v+"/jobs/ingest", map[string]any{"object": "Lead", "operation": "insert", "assignmentRuleId": "round robin"})
	assert.Equal(t, http.StatusBadRequest, status)
	code, msg := restErr(t, body)
	assert.Equal(t, "INVALIDJOB", code)
	assert.Contains(t, msg, "Invalid assignment rule id")
}

// Each REST request's Sforce-Auto-Assign header is in the request log.
func TestRESTAutoAssignLogged(t *testing.T) {
	srv, c := start(t)
	recs := map[string]any{"allOrNone": false, "records": []any{map[string]any{"attributes": map[string]any{"type": "Lead"}, "LastName": "Ada", "Company": "Acme"}}}
	status, _ := c.call(http.MethodPost, v+"/composite/sobjects", recs, "Sforce-Auto-Assign", "FALSE")
	require.Equal(t, http.StatusOK, status)
	status, _ = c.call(http.MethodPost, v+"/composite/sobjects", recs)
	require.Equal(t, http.StatusOK, status)
	var got []string
	for _, r := range srv.Requests() {
		if r.Path == v+"/composite/sobjects" {
			got = append(got, r.AutoAssign)
		}
	}
	assert.Equal(t, []string{"FALSE", ""}, got)
}

// AssignmentRule records can be queried by object and state, as clients
// do to find the active rule.
func TestAssignmentRulesQueryable(t *testing.T) {
	srv, c := start(t)
	active := mustInsert(t, srv, "AssignmentRule", map[string]any{"Name": "Round robin", "SobjectType": "Lead", "Active": true})
	mustInsert(t, srv, "AssignmentRule", map[string]any{"Name": "Old", "SobjectType": "Lead", "Active": false})
	mustInsert(t, srv, "AssignmentRule", map[string]any{"Name": "Support", "SobjectType": "Case", "Active": true})
	status, body := c.call(http.MethodGet, v+"/query?q="+q("SELECT Id FROM AssignmentRule WHERE SobjectType = 'Lead' AND Active = true"), nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	recs := obj(body)["records"].([]any)
	require.Len(t, recs, 1)
	assert.Equal(t, active, obj(recs[0])["Id"])
	_, err := srv.Insert("AssignmentRule", map[string]any{"Name": "x", "SobjectType": "Account"})
	assert.Error(t, err, "rules are for Case and Lead only")
}
