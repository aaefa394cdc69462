package sftest

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const ingest = v + "/jobs/ingest"

func (c *client) createJob(body map[string]any) string {
	c.t.Helper()
	st, res := c.call("POST", ingest, body)
	require.Equal(c.t, 200, st, "%v", res)
	return obj(res)["id"].(string)
}

func (c *client) upload(id, data string) {
	c.t.Helper()
	res, body := c.do("PUT", ingest+"/"+id+"/batches", data, "Content-Type", "text/csv")
	require.Equal(c.t, 201, res.StatusCode, "%s", body)
	require.Empty(c.t, body)
}

func (c *client) closeJob(id string) {
	c.t.Helper()
	st, res := c.call("PATCH", ingest+"/"+id, map[string]any{"state": "UploadComplete"})
	require.Equal(c.t, 200, st, "%v", res)
	assert.Equal(c.t, StateUploadComplete, obj(res)["state"])
}

func (c *client) jobInfo(id string) map[string]any {
	c.t.Helper()
	st, res := c.call("GET", ingest+"/"+id, nil)
	require.Equal(c.t, 200, st, "%v", res)
	return obj(res)
}

func (c *client) wait(id string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		info := c.jobInfo(id)
		switch info["state"] {
		case StateJobComplete, StateFailed, StateAborted:
			return info
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatalf("job %s did not finish", id)
	return nil
}

func (c *client) runJob(body map[string]any, data string) (string, map[string]any) {
	c.t.Helper()
	id := c.createJob(body)
	c.upload(id, data)
	c.closeJob(id)
	return id, c.wait(id)
}

// resultRows fetches a result file and returns its raw text and its rows
// (header first).
func (c *client) resultRows(id, kind string) (string, [][]string) {
	c.t.Helper()
	res, body := c.do("GET", ingest+"/"+id+"/"+kind+"/", nil)
	require.Equal(c.t, 200, res.StatusCode, "%s", body)
	assert.Equal(c.t, "text/csv", res.Header.Get("Content-Type"))
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	require.NoError(c.t, err, "%s", body)
	return string(body), rows
}

func num(v any) int {
	n, _ := v.(json.Number).Int64()
	return int(n)
}

func TestBulkInsert(t *testing.T) {
	srv, c := start(t, WithOrderedResults())
	acct := mustInsert(t, srv, "Account", map[string]any{"Name": "Acme", "External_Id__c": "A-1"})
	st, res := c.call("POST", ingest, map[string]any{"object": "contact", "operation": "insert", "contentType": "CSV", "lineEnding": "LF", "columnDelimiter": "COMMA"})
	require.Equal(t, 200, st)
	job := obj(res)
	id := job["id"].(string)
	assert.True(t, strings.HasPrefix(id, "750"))
	assert.Equal(t, "Contact", job["object"])
	assert.Equal(t, StateOpen, job["state"])
	assert.Equal(t, "services/data/v58.0/jobs/ingest/"+id+"/batches", job["contentUrl"])
	assert.Equal(t, json.Number("58.0"), job["apiVersion"])
	assert.Equal(t, "V2Ingest", job["jobType"])

	data := "FirstName,LastName,Email,Birthdate,HasOptedOutOfEmail,Account.External_Id__c,AccountId\n" +
		"Ann,Smith,ann@example.com,1990-05-01,true,A-1,\n" +
		"\"Bob, Jr.\",\"Jo\"\"nes\",,,0,,\n" +
		"#N/A,Doe,,,,,\n" +
		"Cy,,,,,,\n" +
		"Dee,Bad,not-an-email,,,,\n" +
		"Eve,Late,,31/01/1990,,,\n" +
		"Fay,Flag,,,maybe,,\n" +
		"Gus,Lost,,,,A-404,\n" +
		"Hal,Direct,,,,," + acct[:15] + "\n"
	c.upload(id, data)
	c.closeJob(id)
	info := c.wait(id)
	assert.Equal(t, StateJobComplete, info["state"])
	assert.Equal(t, 9, num(info["numberRecordsProcessed"]))
	assert.Equal(t, 5, num(info["numberRecordsFailed"]))
	assert.NotContains(t, info, "errorMessage")

	raw, ok := c.resultRows(id, "successfulResults")
	lines := strings.Split(raw, "\n")
	assert.Equal(t, `"sf__Id","sf__Created","FirstName","LastName","Email","Birthdate","HasOptedOutOfEmail","Account.External_Id__c","AccountId"`, lines[0])
	assert.Equal(t, `"Bob, Jr.","Jo""nes","","","0","",""`, strings.SplitN(lines[2], ",", 3)[2], "every cell is quoted")
	require.Len(t, ok, 5)
	for _, r := range ok[1:] {
		assert.True(t, strings.HasPrefix(r[0], "003"))
		assert.Equal(t, "true", r[1])
	}
	_, failed := c.resultRows(id, "failedResults")
	require.Len(t, failed, 6)
	assert.Equal(t, []string{"sf__Id", "sf__Error", "FirstName", "LastName", "Email", "Birthdate", "HasOptedOutOfEmail", "Account.External_Id__c", "AccountId"}, failed[0])
	errs := map[string]string{}
	for _, r := range failed[1:] {
		assert.Equal(t, "", r[0])
		errs[r[2]] = r[1]
	}
	assert.Equal(t, "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --", errs["Cy"])
	assert.Equal(t, "INVALID_EMAIL_ADDRESS:Email: invalid email address: not-an-email:Email --", errs["Dee"])
	assert.Equal(t, "INVALID_TYPE_ON_FIELD_IN_RECORD:Birthdate: value not of required type: 31/01/1990:Birthdate --", errs["Eve"])
	assert.Equal(t, "INVALID_TYPE_ON_FIELD_IN_RECORD:Email Opt Out: value not of required type: maybe:HasOptedOutOfEmail --", errs["Fay"])
	assert.Equal(t, "INVALID_FIELD:Foreign key external ID: A-404 not found for field External_Id__c in entity Account: --", errs["Gus"])
	_, un := c.resultRows(id, "unprocessedrecords")
	assert.Len(t, un, 1, "only the header")
	// Clients spell the paths in other cases; each serves the same file.
	for _, kind := range []string{"unprocessedRecords", "successfulresults", "FAILEDRESULTS"} {
		_, rows := c.resultRows(id, kind)
		assert.NotEmpty(t, rows, kind)
	}
	resp, missing := c.do("GET", ingest+"/"+id+"/unknownResults/", nil)
	assert.Equal(t, 404, resp.StatusCode, "%s", missing)

	recs := srv.Records("Contact")
	require.Len(t, recs, 4)
	assert.Equal(t, acct, recs[0]["AccountId"])
	assert.Equal(t, true, recs[0]["HasOptedOutOfEmail"])
	assert.Equal(t, "1990-05-01", recs[0]["Birthdate"])
	assert.Equal(t, "Bob, Jr.", recs[1]["FirstName"])
	assert.Equal(t, `Jo"nes`, recs[1]["LastName"])
	assert.Equal(t, false, recs[1]["HasOptedOutOfEmail"])
	assert.Nil(t, recs[2]["FirstName"])
	assert.Equal(t, acct, recs[3]["AccountId"])

	st, res = c.call("GET", ingest, nil)
	require.Equal(t, 200, st)
	assert.Equal(t, true, obj(res)["done"])
	assert.Len(t, obj(res)["records"], 1)
	assert.Len(t, srv.Jobs(), 1)
	assert.Equal(t, StateJobComplete, srv.Jobs()[0].State)
}

func TestBulkTypes(t *testing.T) {
	srv, c := start(t, WithSchemaFile("testdata/schema.yaml"), WithOrderedResults())
	data := "Name,Number__c,Amount__c,Paid__c,Due__c,Sent_At__c,Lines__c,Status__c\n" +
		"a,N1,10.555,1,2024-02-29,2024-02-29T10:11:12Z,1,Draft\n" +
		"b,N2,1e2,FALSE,,2024-02-29T10:11:12.123+01:00,,\n" +
		"c,N3,3,,,2024-02-29,,\n" +
		"d,N4,abc,,,,,\n" +
		"e,N5,1,,2024-02-30,,,\n" +
		"f,N6,1,,,yesterday,,\n" +
		"g,N7,1,,,,1.5,\n" +
		"h,N8,1,,,,,Void\n" +
		"i,N9,100000000000000,,,,,\n"
	_, info := c.runJob(map[string]any{"object": "Invoice__c", "operation": "insert"}, data)
	assert.Equal(t, 6, num(info["numberRecordsFailed"]))
	recs := srv.Records("Invoice__c")
	require.Len(t, recs, 3)
	assert.Equal(t, 10.56, recs[0]["Amount__c"])
	assert.Equal(t, true, recs[0]["Paid__c"])
	assert.Equal(t, "2024-02-29", recs[0]["Due__c"])
	assert.Equal(t, "2024-02-29T10:11:12.000+0000", recs[0]["Sent_At__c"])
	assert.Equal(t, int64(1), recs[0]["Lines__c"])
	assert.Equal(t, 100.0, recs[1]["Amount__c"])
	assert.Equal(t, false, recs[1]["Paid__c"])
	assert.Equal(t, "2024-02-29T09:11:12.123+0000", recs[1]["Sent_At__c"])
	assert.Equal(t, "2024-02-29T00:00:00.000+0000", recs[2]["Sent_At__c"])
	assert.Nil(t, recs[1]["Status__c"])
}

func TestBulkUpdateUpsertDelete(t *testing.T) {
	srv, c := start(t, WithOrderedResults())
	a := mustInsert(t, srv, "Account", map[string]any{"Name": "A", "Phone": "1", "Industry": "Banking", "External_Id__c": "A-1"})
	b := mustInsert(t, srv, "Account", map[string]any{"Name": "B", "External_Id__c": "A-2"})

	id, info := c.runJob(map[string]any{"object": "Account", "operation": "update"},
		"Id,Name,Phone,Industry\n"+a[:15]+",A2,,#N/A\n"+b+",,\"\",Retail\n,NoId,,\n001000000000000AAA,X,,\nbad,X,,\n")
	assert.Equal(t, 5, num(info["numberRecordsProcessed"]))
	assert.Equal(t, 3, num(info["numberRecordsFailed"]))
	recs := srv.Records("Account")
	assert.Equal(t, "A2", recs[0]["Name"])
	assert.Equal(t, "1", recs[0]["Phone"], "an empty cell leaves the field alone")
	assert.Nil(t, recs[0]["Industry"], "#N/A clears it")
	assert.Equal(t, "B", recs[1]["Name"])
	assert.Equal(t, "Retail", recs[1]["Industry"])
	_, ok := c.resultRows(id, "successfulResults")
	assert.Equal(t, []string{a, "false"}, ok[1][:2])
	_, failed := c.resultRows(id, "failedResults")
	assert.Equal(t, []string{"", "MISSING_ARGUMENT:Id not specified in an update call: --"}, failed[1][:2])
	assert.Equal(t, []string{"001000000000000AAA", "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id: --"}, failed[2][:2])
	assert.Equal(t, []string{"", "MALFORMED_ID:Account ID: id value of incorrect type: bad:Id --"}, failed[3][:2])

	id, info = c.runJob(map[string]any{"object": "Account", "operation": "upsert", "externalIdFieldName": "External_Id__c"},
		"External_Id__c,Name\nA-1,A3\nA-3,C\nA-4,\nA-5,D\na-5,D again\n,No key\n")
	assert.Equal(t, 3, num(info["numberRecordsFailed"]))
	_, ok = c.resultRows(id, "successfulResults")
	require.Len(t, ok, 4)
	assert.Equal(t, []string{a, "false", "A-1", "A3"}, ok[1])
	assert.Equal(t, "true", ok[2][1])
	assert.Equal(t, "No key", ok[3][3])
	_, failed = c.resultRows(id, "failedResults")
	require.Len(t, failed, 4)
	assert.Equal(t, "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --", failed[1][1])
	assert.Equal(t, "DUPLICATE_VALUE:Duplicate external id specified: A-5:External_Id__c --", failed[2][1])
	assert.Equal(t, "DUPLICATE_VALUE:Duplicate external id specified: a-5:External_Id__c --", failed[3][1])

	// Upsert on Id.
	_, info = c.runJob(map[string]any{"object": "Account", "operation": "upsert", "externalIdFieldName": "Id"},
		"Id,Name\n"+b+",B2\n,Fresh\n")
	assert.Equal(t, 0, num(info["numberRecordsFailed"]))
	assert.Equal(t, "B2", srv.Records("Account")[1]["Name"])

	// Contacts hang off an account through an Id relationship column.
	_, info = c.runJob(map[string]any{"object": "Contact", "operation": "insert"}, "LastName,Account.Id\nX,"+a+"\n")
	assert.Equal(t, 0, num(info["numberRecordsFailed"]))
	assert.Equal(t, a, srv.Records("Contact")[0]["AccountId"])

	id, info = c.runJob(map[string]any{"object": "Account", "operation": "delete"}, "Id\n"+a+"\n"+a+"\n")
	assert.Equal(t, 1, num(info["numberRecordsFailed"]))
	_, failed = c.resultRows(id, "failedResults")
	assert.Equal(t, []string{a, "ENTITY_IS_DELETED:entity is deleted: --", a}, failed[1])
	assert.Equal(t, true, srv.Records("Account")[0]["IsDeleted"])

	_, info = c.runJob(map[string]any{"object": "Account", "operation": "hardDelete"}, "Id\n"+b+"\n")
	assert.Equal(t, 0, num(info["numberRecordsFailed"]))
	st, res := c.call("GET", v+"/queryAll?q="+q("SELECT Id FROM Account WHERE Id = '"+b+"'"), nil)
	require.Equal(t, 200, st)
	assert.Len(t, obj(res)["records"], 0, "hard-deleted records are gone even from queryAll")
	st, res = c.call("GET", v+"/queryAll?q="+q("SELECT Id FROM Account WHERE Id = '"+a+"'"), nil)
	require.Equal(t, 200, st)
	assert.Len(t, obj(res)["records"], 1)
}

func TestBulkJobRequests(t *testing.T) {
	srv, c := start(t, WithMaxUploadBytes(64))
	for _, tc := range []struct {
		name string
		body any
		code string
	}{
		{"no object", map[string]any{"operation": "insert"}, "INVALIDJOB"},
		{"unknown object", map[string]any{"object": "Widget", "operation": "insert"}, "INVALIDENTITY"},
		{"bad operation", map[string]any{"object": "Account", "operation": "merge"}, "INVALIDJOB"},
		{"bad content type", map[string]any{"object": "Account", "operation": "insert", "contentType": "JSON"}, "INVALIDJOB"},
		{"bad line ending", map[string]any{"object": "Account", "operation": "insert", "lineEnding": "CR"}, "INVALIDJOB"},
		{"bad delimiter", map[string]any{"object": "Account", "operation": "insert", "columnDelimiter": "SPACE"}, "INVALIDJOB"},
		{"upsert without field", map[string]any{"object": "Account", "operation": "upsert"}, "INVALIDJOB"},
		{"field without upsert", map[string]any{"object": "Account", "operation": "insert", "externalIdFieldName": "External_Id__c"}, "INVALIDJOB"},
		{"unknown field", map[string]any{"object": "Account", "operation": "upsert", "externalIdFieldName": "Nope__c"}, "INVALIDJOB"},
		{"not external", map[string]any{"object": "Account", "operation": "upsert", "externalIdFieldName": "Name"}, "INVALIDJOB"},
		{"not json", "{", "JSON_PARSER_ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, res := c.call("POST", ingest, tc.body)
			assert.Equal(t, 400, st)
			code, _ := restErr(t, res)
			assert.Equal(t, tc.code, code)
		})
	}

	unknown := ingest + "/750000000000000AAA"
	for _, p := range []string{unknown, unknown + "/batches", unknown + "/successfulResults", ingest + "/x/y/z"} {
		st, res := c.call("GET", p, nil)
		assert.Equal(t, 404, st, p)
		code, _ := restErr(t, res)
		assert.Equal(t, "NOT_FOUND", code)
	}
	id := c.createJob(map[string]any{"object": "Account", "operation": "insert"})
	for _, tc := range []struct{ method, path string }{
		{"PUT", ingest}, {"POST", ingest + "/" + id}, {"GET", ingest + "/" + id + "/batches"}, {"POST", ingest + "/" + id + "/failedResults"},
	} {
		st, _ := c.call(tc.method, tc.path, nil)
		assert.Equal(t, 405, st, tc.method+" "+tc.path)
	}
	st, res := c.call("GET", ingest+"/"+id+"/nothing", nil)
	assert.Equal(t, 404, st, "%v", res)

	// Upload rules.
	r, body := c.do("PUT", ingest+"/"+id+"/batches", "Name\nx\n", "Content-Type", "application/json")
	assert.Equal(t, 415, r.StatusCode, "%s", body)
	r, _ = c.do("PUT", ingest+"/"+id+"/batches", "", "Content-Type", "text/csv")
	assert.Equal(t, 400, r.StatusCode)
	r, body = c.do("PUT", ingest+"/"+id+"/batches", "Name\n"+strings.Repeat("x", 100)+"\n", "Content-Type", "text/csv")
	assert.Equal(t, 413, r.StatusCode, "%s", body)
	r, _ = c.do("PUT", ingest+"/"+id+"/batches", "not gzip", "Content-Type", "text/csv", "Content-Encoding", "gzip")
	assert.Equal(t, 400, r.StatusCode)

	id = c.createJob(map[string]any{"object": "Account", "operation": "insert"})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("Name\nZipped\n"))
	zw.Close()
	r, body = c.do("PUT", ingest+"/"+id+"/batches", gz.Bytes(), "Content-Type", "text/csv; charset=UTF-8", "Content-Encoding", "gzip")
	require.Equal(t, 201, r.StatusCode, "%s", body)
	j := srv.jobs[id]
	assert.Equal(t, "Name\nZipped\n", string(j.data), "gzip uploads are stored inflated")
	r, body = c.do("PUT", ingest+"/"+id+"/batches", "Name\nAgain\n", "Content-Type", "text/csv")
	assert.Equal(t, 400, r.StatusCode)
	var errs []map[string]string
	require.NoError(t, json.Unmarshal(body, &errs))
	assert.Equal(t, "INVALIDJOB", errs[0]["errorCode"])
	assert.Equal(t, "Found multipe contents for job: <"+id+">, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job.", errs[0]["message"])
	st, res = c.call("PATCH", ingest+"/"+id, map[string]any{"state": "UploadComplete"})
	assert.Equal(t, 400, st, "closing a job with two uploads fails too")
	code, _ := restErr(t, res)
	assert.Equal(t, "INVALIDJOB", code)
	st, _ = c.call("PATCH", ingest+"/"+id, map[string]any{"state": "Aborted"})
	assert.Equal(t, 200, st)

	id = c.createJob(map[string]any{"object": "Account", "operation": "insert"})
	c.upload(id, "Name\nZ\n")
	st, res = c.call("PATCH", ingest+"/"+id, map[string]any{"state": "Open"})
	assert.Equal(t, 400, st)
	code, _ = restErr(t, res)
	assert.Equal(t, "INVALIDJOBSTATE", code)
	st, _ = c.call("PATCH", ingest+"/"+id, "{")
	assert.Equal(t, 400, st)
	st, _ = c.call("DELETE", ingest+"/"+id, nil)
	assert.Equal(t, 400, st, "an open job cannot be deleted")
	c.closeJob(id)
	c.wait(id)
	r, _ = c.do("PUT", ingest+"/"+id+"/batches", "Name\nLate\n", "Content-Type", "text/csv")
	assert.Equal(t, 409, r.StatusCode)
	st, res = c.call("PATCH", ingest+"/"+id, map[string]any{"state": "Aborted"})
	assert.Equal(t, 409, st, "%v", res)
	st, _ = c.call("PATCH", ingest+"/"+id, map[string]any{"state": "UploadComplete"})
	assert.Equal(t, 409, st)
	st, _ = c.call("DELETE", ingest+"/"+id, nil)
	assert.Equal(t, 204, st)
	st, _ = c.call("GET", ingest+"/"+id, nil)
	assert.Equal(t, 404, st)
	require.Len(t, srv.Records("Account"), 1, "the aborted job saved nothing")
	assert.Equal(t, "Z", srv.Records("Account")[0]["Name"])

	// A job closed without data fails; one with only a header completes.
	id = c.createJob(map[string]any{"object": "Account", "operation": "insert"})
	c.closeJob(id)
	info := c.wait(id)
	assert.Equal(t, StateFailed, info["state"])
	assert.Equal(t, "InvalidBatch : No data was uploaded for this job", info["errorMessage"])
	raw, _ := c.resultRows(id, "successfulResults")
	assert.Equal(t, "\"sf__Id\",\"sf__Created\"\n", raw)
	raw, _ = c.resultRows(id, "unprocessedrecords")
	assert.Equal(t, "", raw)
	_, info = c.runJob(map[string]any{"object": "Account", "operation": "insert"}, "Name\n")
	assert.Equal(t, StateJobComplete, info["state"])
	assert.Equal(t, 0, num(info["numberRecordsProcessed"]))
}

func TestBulkFailedJobs(t *testing.T) {
	srv, c := start(t, WithOrderedResults())
	for _, tc := range []struct {
		name   string
		job    map[string]any
		data   string
		msg    string
		unproc int
	}{
		{"unknown column", map[string]any{"object": "Account", "operation": "insert"}, "Name,Nope__c\nx,y\n", "InvalidBatch : Field name not found : Nope__c", 2},
		{"unknown relationship", map[string]any{"object": "Contact", "operation": "insert"}, "LastName,Acct.External_Id__c\nx,y\n", "InvalidBatch : Field name not found : Acct.External_Id__c", 2},
		{"relationship to a non-external field", map[string]any{"object": "Contact", "operation": "insert"}, "LastName,Account.Name\nx,y\n", "InvalidBatch : Field name not found : Account.Name", 2},
		{"CRLF data in an LF job", map[string]any{"object": "Account", "operation": "insert"}, "Name\r\nx\r\n", "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF", 2},
		{"LF data in a CRLF job", map[string]any{"object": "Account", "operation": "insert", "lineEnding": "CRLF"}, "Name\nx\n", "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is CRLF", 2},
		{"bad quoting", map[string]any{"object": "Account", "operation": "insert"}, "Name\nok\n\"unterminated\nx\n", "ClientInputError : Failed to parse the CSV data at line 3", -1},
		{"bad header", map[string]any{"object": "Account", "operation": "insert"}, "\"Name\n", "ClientInputError : Failed to parse the CSV header", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, info := c.runJob(tc.job, tc.data)
			assert.Equal(t, StateFailed, info["state"])
			assert.True(t, strings.HasPrefix(info["errorMessage"].(string), tc.msg), "%v", info["errorMessage"])
			if tc.unproc >= 0 {
				_, un := c.resultRows(id, "unprocessedrecords")
				assert.Len(t, un, tc.unproc)
			}
			_, failed := c.resultRows(id, "failedResults")
			assert.Equal(t, []string{"sf__Id", "sf__Error"}, failed[0][:2])
		})
	}
	// A row with the wrong number of cells fails alone.
	id, info := c.runJob(map[string]any{"object": "Account", "operation": "insert"}, "Name,Phone\nA,1\nB\n")
	assert.Equal(t, StateJobComplete, info["state"])
	_, failed := c.resultRows(id, "failedResults")
	assert.Equal(t, "INVALID_FIELD:The number of values (1) does not match the number of columns (2): --", failed[1][1])

	// Injected job failures.
	srv.FailJobs(1, "")
	srv.FailJobs(1, "InvalidBatch : Too many locks")
	_, info = c.runJob(map[string]any{"object": "Account", "operation": "insert"}, "Name\nx\n")
	assert.Equal(t, "InternalServerError : Internal error", info["errorMessage"])
	id, info = c.runJob(map[string]any{"object": "Account", "operation": "insert"}, "Name\nx\ny\n")
	assert.Equal(t, "InvalidBatch : Too many locks", info["errorMessage"])
	raw, _ := c.resultRows(id, "unprocessedrecords")
	assert.Equal(t, "Name\nx\ny\n", raw)
	_, info = c.runJob(map[string]any{"object": "Account", "operation": "insert"}, "Name\nx\n")
	assert.Equal(t, StateJobComplete, info["state"])
}

func TestBulkDelimitersAndLineEndings(t *testing.T) {
	srv, c := start(t, WithOrderedResults())
	for _, tc := range []struct {
		delim, ending, sep, eol string
	}{
		{"TAB", "CRLF", "\t", "\r\n"}, {"PIPE", "LF", "|", "\n"}, {"SEMICOLON", "LF", ";", "\n"},
		{"CARET", "LF", "^", "\n"}, {"BACKQUOTE", "CRLF", "`", "\r\n"}, {"COMMA", "CRLF", ",", "\r\n"},
	} {
		t.Run(tc.delim, func(t *testing.T) {
			data := "Name" + tc.sep + "Description" + tc.eol + "\"Multi" + tc.sep + "Line\"" + tc.sep + "\"a\nb\"" + tc.eol + "Bad" + tc.sep + "x" + tc.sep + "extra" + tc.eol
			id, info := c.runJob(map[string]any{"object": "Account", "operation": "insert", "columnDelimiter": tc.delim, "lineEnding": tc.ending}, data)
			require.Equal(t, StateJobComplete, info["state"], "%v", info)
			assert.Equal(t, tc.ending, info["lineEnding"])
			assert.Equal(t, tc.delim, info["columnDelimiter"])
			_, body := c.do("GET", ingest+"/"+id+"/successfulResults", nil)
			want := `"sf__Id"` + tc.sep + `"sf__Created"` + tc.sep + `"Name"` + tc.sep + `"Description"` + tc.eol
			assert.True(t, strings.HasPrefix(string(body), want), "%q", body)
			assert.True(t, strings.HasSuffix(string(body), tc.sep+"\"Multi"+tc.sep+"Line\""+tc.sep+"\"a\nb\""+tc.eol), "%q", body)
			_, body = c.do("GET", ingest+"/"+id+"/failedResults", nil)
			assert.True(t, strings.HasPrefix(string(body), `"sf__Id"`+tc.sep+`"sf__Error"`+tc.sep+`"Name"`), "%q", body)
		})
	}
	last := srv.Records("Account")
	assert.Equal(t, "Multi,Line", strings.ReplaceAll(last[0]["Name"].(string), "\t", ","))
	assert.Equal(t, "a\nb", last[0]["Description"])
}

func TestBulkResultOrder(t *testing.T) {
	var data strings.Builder
	data.WriteString("Name\n")
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&data, "N%03d\n", i)
	}
	names := func(rows [][]string) []string {
		var out []string
		for _, r := range rows[1:] {
			out = append(out, r[2])
		}
		return out
	}
	_, c := start(t)
	id, _ := c.runJob(map[string]any{"object": "Account", "operation": "insert"}, data.String())
	_, rows := c.resultRows(id, "successfulResults")
	got := names(rows)
	require.Len(t, got, 300)
	assert.False(t, slices.IsSorted(got), "shuffled by default")
	_, again := c.resultRows(id, "successfulResults")
	assert.Equal(t, got, names(again), "the same order every time")
	slices.Sort(got)
	assert.Equal(t, "N000", got[0])
	assert.Equal(t, "N299", got[299])

	_, c2 := start(t, WithOrderedResults())
	id, _ = c2.runJob(map[string]any{"object": "Account", "operation": "insert"}, data.String())
	_, rows = c2.resultRows(id, "successfulResults")
	assert.True(t, slices.IsSorted(names(rows)))
}

func TestBulkDelayAndAbort(t *testing.T) {
	srv, c := start(t, WithBulkDelay(100*time.Millisecond, 2*time.Millisecond), WithOrderedResults())
	var data strings.Builder
	data.WriteString("Name\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&data, "N%d\n", i)
	}
	id := c.createJob(map[string]any{"object": "Account", "operation": "insert"})
	c.upload(id, data.String())
	_, un := c.resultRows(id, "unprocessedrecords")
	assert.Len(t, un, 1001, "before processing every row is unprocessed")
	c.closeJob(id)
	seen := map[string]bool{}
	var processed []int
	for {
		info := c.jobInfo(id)
		seen[info["state"].(string)] = true
		if info["state"] == StateInProgress {
			processed = append(processed, num(info["numberRecordsProcessed"]))
		}
		if len(processed) > 0 && processed[len(processed)-1] >= 400 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	assert.True(t, seen[StateUploadComplete] || seen[StateInProgress])
	st, res := c.call("PATCH", ingest+"/"+id, map[string]any{"state": "Aborted"})
	require.Equal(t, 200, st)
	assert.Equal(t, StateAborted, obj(res)["state"])
	time.Sleep(50 * time.Millisecond)
	info := c.jobInfo(id)
	assert.Equal(t, StateAborted, info["state"])
	done := num(info["numberRecordsProcessed"])
	assert.Less(t, done, 1000)
	_, ok := c.resultRows(id, "successfulResults")
	_, un = c.resultRows(id, "unprocessedrecords")
	assert.Equal(t, done, len(ok)-1)
	assert.Equal(t, 1000-done, len(un)-1)
	assert.Len(t, srv.Records("Account"), done)

	// Aborting before close leaves every row unprocessed; deleting an
	// in-flight job stops it.
	id = c.createJob(map[string]any{"object": "Account", "operation": "insert"})
	c.upload(id, "Name\nx\n")
	c.call("PATCH", ingest+"/"+id, map[string]any{"state": "Aborted"})
	_, un = c.resultRows(id, "unprocessedrecords")
	assert.Len(t, un, 2)
	id = c.createJob(map[string]any{"object": "Account", "operation": "insert"})
	c.upload(id, data.String())
	c.closeJob(id)
	st, _ = c.call("DELETE", ingest+"/"+id, nil)
	assert.Equal(t, 204, st)
}

func TestBulkLockRows(t *testing.T) {
	run := func(seed int64) []string {
		srv, c := start(t, WithOrderedResults())
		srv.LockRows(0.25, seed)
		var data strings.Builder
		data.WriteString("Name\n")
		for i := 0; i < 400; i++ {
			fmt.Fprintf(&data, "N%d\n", i)
		}
		id, info := c.runJob(map[string]any{"object": "Account", "operation": "insert"}, data.String())
		failed := num(info["numberRecordsFailed"])
		assert.InDelta(t, 100, failed, 40)
		_, rows := c.resultRows(id, "failedResults")
		var names []string
		for _, r := range rows[1:] {
			assert.Equal(t, "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record: --", r[1])
			names = append(names, r[2])
		}
		srv.LockRows(0, 0)
		_, info = c.runJob(map[string]any{"object": "Account", "operation": "insert"}, "Name\nok\n")
		assert.Equal(t, 0, num(info["numberRecordsFailed"]))
		return names
	}
	a, b, other := run(7), run(7), run(8)
	assert.Equal(t, a, b, "the same seed fails the same rows")
	assert.NotEqual(t, a, other)

	// REST saves are affected too.
	srv, c := start(t)
	srv.LockRows(1, 1)
	st, res := c.call("POST", v+"/sobjects/Account", map[string]any{"Name": "x"})
	assert.Equal(t, 400, st)
	code, _ := restErr(t, res)
	assert.Equal(t, "UNABLE_TO_LOCK_ROW", code)
	srv.LockRows(0, 0)
	id := mustInsert(t, srv, "Account", map[string]any{"Name": "x"})
	srv.LockRows(1, 1)
	st, res = c.call("DELETE", v+"/sobjects/Account/"+id, nil)
	assert.Equal(t, 400, st)
	_, msg := restErr(t, res)
	assert.Equal(t, "unable to obtain exclusive access to this record or 1 records: "+id, msg)
}

func TestBulkLockContention(t *testing.T) {
	srv, c := start(t, WithLockContention(), WithBulkDelay(0, time.Millisecond))
	parent := mustInsert(t, srv, "Account", map[string]any{"Name": "Parent", "External_Id__c": "P"})
	other := mustInsert(t, srv, "Account", map[string]any{"Name": "Other"})
	var a, b strings.Builder
	a.WriteString("LastName,AccountId\n")
	b.WriteString("LastName,Account.External_Id__c\n")
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&a, "A%d,%s\n", i, parent)
		fmt.Fprintf(&b, "B%d,P\n", i)
	}
	ids := []string{c.createJob(map[string]any{"object": "Contact", "operation": "insert"}), c.createJob(map[string]any{"object": "Contact", "operation": "insert"})}
	c.upload(ids[0], a.String())
	c.upload(ids[1], b.String())
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _ := c.call("PATCH", ingest+"/"+id, map[string]any{"state": "UploadComplete"})
			assert.Equal(t, 200, st)
		}()
	}
	wg.Wait()
	failed := 0
	for _, id := range ids {
		info := c.wait(id)
		failed += num(info["numberRecordsFailed"])
		_, rows := c.resultRows(id, "failedResults")
		for _, r := range rows[1:] {
			assert.Equal(t, "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record or 1 records: "+parent+": --", r[1])
		}
	}
	assert.Greater(t, failed, 0, "concurrent jobs on one parent collide")

	// Jobs one after the other, or on different parents, do not.
	srv.SetLockContention(true)
	_, info := c.runJob(map[string]any{"object": "Contact", "operation": "insert"}, a.String())
	assert.Equal(t, 0, num(info["numberRecordsFailed"]))
	_, info = c.runJob(map[string]any{"object": "Contact", "operation": "insert"}, "LastName,AccountId\nx,"+other+"\n")
	assert.Equal(t, 0, num(info["numberRecordsFailed"]))
	srv.SetLockContention(false)
}

// The upload limit counts the CSV base64-encoded, as Salesforce stores
// it: a limit of 64 bytes takes 48 bytes of CSV. A gzipped upload counts
// as it expands.
func TestBulkUploadLimit(t *testing.T) {
	_, c := start(t, WithMaxUploadBytes(64))
	csv := func(n int) string { return "Name\n" + strings.Repeat("x", n-len("Name\n")-1) + "\n" }
	put := func(body any, headers ...string) (int, string) {
		id := c.createJob(map[string]any{"object": "Account", "operation": "insert"})
		r, b := c.do("PUT", ingest+"/"+id+"/batches", body, append([]string{"Content-Type", "text/csv"}, headers...)...)
		return r.StatusCode, string(b)
	}
	st, body := put(csv(48))
	assert.Equal(t, 201, st, body)
	st, body = put(csv(49))
	assert.Equal(t, 413, st)
	assert.Contains(t, body, "REQUEST_ENTITY_TOO_LARGE")
	assert.Contains(t, body, "base64")

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write([]byte(csv(200)))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.Less(t, gz.Len(), 64)
	st, _ = put(gz.Bytes(), "Content-Encoding", "gzip")
	assert.Equal(t, 413, st, "a small gzip that expands past the limit")
}
