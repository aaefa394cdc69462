package gosfcheck

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/k-capehart/go-salesforce/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink/salesforce/sftest"
)

const (
	password = "secret"
	token    = "TOKEN" // go-salesforce appends the security token to the password
)

func emulator(t *testing.T, opts ...sftest.Option) *sftest.Server {
	t.Helper()
	srv := sftest.NewServer(append([]sftest.Option{sftest.WithCredentials(sftest.DefaultUsername, password+token)}, opts...)...)
	t.Cleanup(srv.Close)
	return srv
}

func login(t *testing.T, srv *sftest.Server) *salesforce.Salesforce {
	t.Helper()
	sf, err := salesforce.Init(salesforce.Creds{
		Domain: srv.URL(), Username: sftest.DefaultUsername, Password: password, SecurityToken: token,
		ConsumerKey: sftest.DefaultClientID, ConsumerSecret: sftest.DefaultClientSecret,
	})
	require.NoError(t, err)
	return sf
}

// live returns an object's records that are not deleted, by Name.
func live(srv *sftest.Server, obj string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range srv.Records(obj) {
		if r["IsDeleted"] != true {
			out[fmt.Sprint(r["Name"])] = r
		}
	}
	return out
}

func TestLogin(t *testing.T) {
	srv := emulator(t)
	sf := login(t, srv)
	assert.Equal(t, salesforce.AuthFlowUsernamePassword, sf.GetAuthFlow())
	assert.NotEmpty(t, sf.GetAccessToken())

	cc, err := salesforce.Init(salesforce.Creds{Domain: srv.URL(), ConsumerKey: sftest.DefaultClientID, ConsumerSecret: sftest.DefaultClientSecret})
	require.NoError(t, err)
	assert.Equal(t, salesforce.AuthFlowClientCredentials, cc.GetAuthFlow())
	var rows []struct{ Id string }
	require.NoError(t, cc.Query("SELECT Id FROM Account", &rows))

	_, err = salesforce.Init(salesforce.Creds{
		Domain: srv.URL(), Username: sftest.DefaultUsername, Password: "wrong", SecurityToken: token,
		ConsumerKey: sftest.DefaultClientID, ConsumerSecret: sftest.DefaultClientSecret,
	})
	assert.Error(t, err, "a wrong password is refused")
}

func TestREST(t *testing.T) {
	srv := emulator(t)
	sf := login(t, srv)
	res, err := sf.InsertOne("Account", map[string]any{"Name": "One", "Industry": "Banking"})
	require.NoError(t, err)
	require.True(t, res.Success)
	id := res.Id
	require.NoError(t, sf.UpdateOne("Account", map[string]any{"Id": id, "Industry": "Retail"}))
	assert.Equal(t, "Retail", live(srv, "Account")["One"]["Industry"])

	res, err = sf.UpsertOne("Account", "External_Id__c", map[string]any{"External_Id__c": "U-1", "Name": "Up"})
	require.NoError(t, err)
	assert.True(t, res.Success)
	_, err = sf.UpsertOne("Account", "External_Id__c", map[string]any{"External_Id__c": "u-1", "Name": "Up again"})
	require.NoError(t, err, "an unique case-insensitive external id matches without case")
	assert.Contains(t, live(srv, "Account"), "Up again")
	assert.NotContains(t, live(srv, "Account"), "Up")

	require.NoError(t, sf.DeleteOne("Account", map[string]any{"Id": id}))
	assert.NotContains(t, live(srv, "Account"), "One")

	_, err = sf.InsertOne("Account", map[string]any{"Industry": "Banking"})
	assert.ErrorContains(t, err, "REQUIRED_FIELD_MISSING", "a record without its required Name")
	assert.Error(t, sf.UpdateOne("Account", map[string]any{"Id": id, "Name": "Gone"}), "a deleted record")
}

func TestCollections(t *testing.T) {
	srv := emulator(t)
	sf := login(t, srv)
	var recs []map[string]any
	for i := range 250 {
		recs = append(recs, map[string]any{"Name": fmt.Sprintf("C-%03d", i), "External_Id__c": fmt.Sprintf("C-%03d", i)})
	}
	delete(recs[210], "Name")
	res, err := sf.InsertCollection("Account", recs, 200)
	require.NoError(t, err)
	require.Len(t, res.Results, 250)
	assert.True(t, res.HasSalesforceErrors)
	assert.False(t, res.Results[210].Success)
	assert.Equal(t, "REQUIRED_FIELD_MISSING", res.Results[210].Errors[0].StatusCode, "sObject Collections name the code statusCode")
	assert.True(t, res.Results[0].Success)
	assert.Len(t, live(srv, "Account"), 249)

	upd := []map[string]any{{"Id": res.Results[0].Id, "Phone": "555"}, {"Id": "001000000000000AAA", "Phone": "1"}}
	ur, err := sf.UpdateCollection("Account", upd, 200)
	require.NoError(t, err)
	assert.True(t, ur.Results[0].Success)
	assert.False(t, ur.Results[1].Success, "a record that does not exist")
	assert.Equal(t, "555", live(srv, "Account")["C-000"]["Phone"])

	ups := []map[string]any{{"External_Id__c": "C-001", "Name": "C-001 changed"}, {"External_Id__c": "C-new", "Name": "C-new"}, {"External_Id__c": "C-bad"}}
	pr, err := sf.UpsertCollection("Account", "External_Id__c", ups, 200)
	require.NoError(t, err)
	assert.True(t, pr.Results[0].Success)
	assert.True(t, pr.Results[1].Success)
	assert.False(t, pr.Results[2].Success, "an insert without Name")
	assert.Contains(t, live(srv, "Account"), "C-001 changed")

	dr, err := sf.DeleteCollection("Account", []map[string]any{{"Id": res.Results[2].Id}, {"Id": res.Results[2].Id}}, 200)
	require.NoError(t, err)
	assert.True(t, dr.Results[0].Success)
	assert.NotContains(t, live(srv, "Account"), "C-002")
}

// go-salesforce follows nextRecordsUrl to the end of a result set.
func TestQueryPaging(t *testing.T) {
	srv := emulator(t, sftest.WithQueryBatchSize(200))
	for i := range 450 {
		_, err := srv.Insert("Account", map[string]any{"Name": fmt.Sprintf("Q-%03d", i)})
		require.NoError(t, err)
	}
	sf := login(t, srv)
	var rows []struct {
		Id   string
		Name string
	}
	require.NoError(t, sf.Query("SELECT Id, Name FROM Account ORDER BY Name", &rows))
	require.Len(t, rows, 450)
	assert.Equal(t, "Q-000", rows[0].Name)
	assert.Equal(t, "Q-449", rows[449].Name)
}

// Each Bulk API 2.0 ingest operation go-salesforce offers, each job with a
// row that fails; the job's results name it.
func TestBulk(t *testing.T) {
	srv := emulator(t)
	sf := login(t, srv)
	results := func(ids []string, err error) salesforce.BulkJobResults {
		t.Helper()
		require.Len(t, ids, 1, "%v", err)
		r, gerr := sf.GetJobResults(ids[0])
		require.NoError(t, gerr)
		require.Equal(t, "JobComplete", r.State)
		return r
	}
	var recs []map[string]any
	for i := range 5 {
		recs = append(recs, map[string]any{"Name": fmt.Sprintf("B-%d", i), "External_Id__c": fmt.Sprintf("B-%d", i)})
	}
	recs = append(recs, map[string]any{"Name": "", "External_Id__c": "B-bad"})
	r := results(sf.InsertBulk("Account", recs, 10000, true))
	assert.Len(t, r.SuccessfulRecords, 5)
	require.Len(t, r.FailedRecords, 1)
	assert.Contains(t, r.FailedRecords[0]["sf__Error"], "REQUIRED_FIELD_MISSING")
	assert.Equal(t, "B-bad", r.FailedRecords[0]["External_Id__c"])
	ids := map[string]string{}
	for _, s := range r.SuccessfulRecords {
		ids[fmt.Sprint(s["Name"])] = fmt.Sprint(s["sf__Id"])
	}

	r = results(sf.UpdateBulk("Account", []map[string]any{{"Id": ids["B-0"], "Phone": "0"}, {"Id": "001000000000000AAA", "Phone": "1"}}, 10000, true))
	assert.Len(t, r.SuccessfulRecords, 1)
	assert.Len(t, r.FailedRecords, 1, "a record that does not exist")
	assert.Equal(t, "0", live(srv, "Account")["B-0"]["Phone"])

	r = results(sf.UpsertBulk("Account", "External_Id__c", []map[string]any{
		{"External_Id__c": "B-1", "Name": "B-1 changed"}, {"External_Id__c": "B-9", "Name": "B-9"}, {"External_Id__c": "B-10", "Name": ""},
	}, 10000, true))
	require.Len(t, r.SuccessfulRecords, 2)
	assert.Len(t, r.FailedRecords, 1, "an insert without Name")
	created := map[string]string{}
	for _, s := range r.SuccessfulRecords {
		created[fmt.Sprint(s["External_Id__c"])] = fmt.Sprint(s["sf__Created"])
	}
	assert.Equal(t, map[string]string{"B-1": "false", "B-9": "true"}, created)

	r = results(sf.DeleteBulk("Account", []map[string]any{{"Id": ids["B-2"]}, {"Id": "001000000000000AAA"}}, 10000, true))
	assert.Len(t, r.SuccessfulRecords, 1)
	assert.Len(t, r.FailedRecords, 1, "a record that does not exist")
	assert.NotContains(t, live(srv, "Account"), "B-2")
}

// QueryBulkExport runs a Bulk API 2.0 query job and writes its pages to
// one CSV file.
func TestQueryBulkExport(t *testing.T) {
	srv := emulator(t)
	for i := range 30 {
		_, err := srv.Insert("Account", map[string]any{"Name": fmt.Sprintf("E-%02d, \"q\"", i), "NumberOfEmployees": i})
		require.NoError(t, err)
	}
	sf := login(t, srv)
	path := filepath.Join(t.TempDir(), "accounts.csv")
	require.NoError(t, sf.QueryBulkExport("SELECT Id, Name, NumberOfEmployees FROM Account ORDER BY Name", path))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 31)
	assert.Equal(t, []string{"Id", "Name", "NumberOfEmployees"}, rows[0])
	assert.Equal(t, []string{"E-00, \"q\"", "0"}, rows[1][1:])
	assert.True(t, strings.HasPrefix(rows[30][0], "001"))
}

// InsertBulkAssign names an assignment rule on the job, and the emulator
// keeps it.
func TestBulkAssign(t *testing.T) {
	srv := emulator(t)
	sf := login(t, srv)
	rule, err := srv.Insert("AssignmentRule", map[string]any{"Name": "Round robin", "SobjectType": "Lead", "Active": true})
	require.NoError(t, err)
	ids, err := sf.InsertBulkAssign("Lead", []map[string]any{{"LastName": "Ada", "Company": "Acme"}}, 10000, true, rule)
	require.NoError(t, err)
	require.Len(t, ids, 1)
	r, err := sf.GetJobResults(ids[0])
	require.NoError(t, err)
	assert.Len(t, r.SuccessfulRecords, 1)
	require.Len(t, srv.Jobs(), 1)
	assert.Equal(t, rule, srv.Jobs()[0].AssignmentRuleID)
}
