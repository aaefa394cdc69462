package sftest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSmoke(t *testing.T) {
	srv, c := start(t)
	st, body := c.call("POST", v+"/sobjects/Account", map[string]any{"Name": "Acme", "External_Id__c": "A-1"})
	require.Equal(t, 201, st, "%v", body)
	st, body = c.call("GET", v+"/query?q=SELECT+Id,Name+FROM+Account", nil)
	require.Equal(t, 200, st, "%v", body)
	t.Logf("%v", body)
	st, body = c.call("POST", v+"/jobs/ingest", map[string]any{"object": "Contact", "operation": "insert"})
	require.Equal(t, 200, st, "%v", body)
	id := obj(body)["id"].(string)
	res, data := c.do("PUT", v+"/jobs/ingest/"+id+"/batches", "LastName,Account.External_Id__c\nSmith,A-1\n,A-1\nJones,A-2\n", "Content-Type", "text/csv")
	require.Equal(t, 201, res.StatusCode, "%s", data)
	st, body = c.call("PATCH", v+"/jobs/ingest/"+id, map[string]any{"state": "UploadComplete"})
	require.Equal(t, 200, st, "%v", body)
	require.Eventually(t, func() bool {
		_, b := c.call("GET", v+"/jobs/ingest/"+id, nil)
		return obj(b)["state"] == "JobComplete"
	}, 5e9, 1e7)
	_, data = c.do("GET", v+"/jobs/ingest/"+id+"/successfulResults", nil)
	t.Logf("%s", data)
	_, data = c.do("GET", v+"/jobs/ingest/"+id+"/failedResults", nil)
	t.Logf("%s", data)
	t.Logf("%v", srv.Records("Contact"))
}
