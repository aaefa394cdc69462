package sftest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// truncated sends a request that announces more body than it sends and
// then hangs up, the way a client dies mid-upload.
func truncated(t *testing.T, srv *Server, c *client, method, path, contentType, body string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL(), "http://"))
	require.NoError(t, err)
	fmt := method + " " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + c.token +
		"\r\nContent-Type: " + contentType + "\r\nContent-Length: " + strconv.Itoa(len(body)*10) + "\r\n\r\n" + body
	_, err = conn.Write([]byte(fmt))
	require.NoError(t, err)
	require.NoError(t, conn.(*net.TCPConn).CloseWrite())
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		assert.Equal(t, 400, res.StatusCode)
	}
	conn.Close()
}

func TestTruncatedBodies(t *testing.T) {
	srv, c := start(t)
	truncated(t, srv, c, "POST", v+"/sobjects/Account", "application/json", `{"Name":"x"}`)
	assert.Empty(t, srv.Records("Account"))
	id := c.createJob(map[string]any{"object": "Account", "operation": "insert"})
	truncated(t, srv, c, "PUT", ingest+"/"+id+"/batches", "text/csv", "Name\nx\n")
	// The broken upload did not count: a full one is accepted.
	c.upload(id, "Name\nx\n")
	c.closeJob(id)
	assert.Equal(t, StateJobComplete, c.wait(id)["state"])
}

func TestExternalIDEdges(t *testing.T) {
	srv, c := start(t, WithObject(Object{Name: "Account", Fields: []Field{
		{Name: "Num__c", Type: TypeInt, ExternalID: true},
		{Name: "Code__c", Type: TypeString, IDLookup: true},
		{Name: "Exact__c", Type: TypeString, ExternalID: true, CaseSensitive: true},
	}}), WithOrderedResults())
	a := mustInsert(t, srv, "Account", map[string]any{"Name": "A", "Num__c": 7, "Code__c": "C", "External_Id__c": "x/y", "Exact__c": "Q"})

	// An escaped slash stays inside the value.
	st, body := c.call("GET", v+"/sobjects/Account/External_Id__c/x%2Fy", nil)
	require.Equal(t, 200, st, "%v", body)
	assert.Equal(t, a, obj(body)["Id"])
	st, _ = c.call("GET", v+"/sobjects/Account/Num__c/7", nil)
	assert.Equal(t, 200, st)
	st, _ = c.call("GET", v+"/sobjects/Account/Num__c/7.0", nil)
	assert.Equal(t, 200, st, "numbers match by value")
	st, _ = c.call("GET", v+"/sobjects/Account/Exact__c/q", nil)
	assert.Equal(t, 404, st, "case-sensitive external id")
	for _, m := range []string{"GET", "PATCH", "DELETE"} {
		st, body = c.call(m, v+"/sobjects/Account/Num__c/seven", map[string]any{"Phone": "1"})
		assert.Equal(t, 400, st, m)
		code, _ := restErr(t, body)
		assert.Equal(t, "INVALID_TYPE_ON_FIELD_IN_RECORD", code, m)
	}
	// An idLookup field reads records but cannot key an upsert.
	st, _ = c.call("GET", v+"/sobjects/Account/Code__c/C", nil)
	assert.Equal(t, 200, st)
	st, body = c.call("PATCH", v+"/sobjects/Account/Code__c/C", map[string]any{"Phone": "1"})
	assert.Equal(t, 400, st)
	code, _ := restErr(t, body)
	assert.Equal(t, "INVALID_FIELD", code)
	// An Id of another object is not found.
	contact := mustInsert(t, srv, "Contact", map[string]any{"LastName": "x"})
	st, _ = c.call("GET", v+"/sobjects/Account/Id/"+contact, nil)
	assert.Equal(t, 404, st)
	// Relationship values of the wrong type.
	st, body = c.call("POST", v+"/sobjects/Contact", map[string]any{"LastName": "x", "Account": map[string]any{"Num__c": "seven"}})
	assert.Equal(t, 400, st)
	code, _ = restErr(t, body)
	assert.Equal(t, "JSON_PARSER_ERROR", code)
	st, _ = c.call("POST", v+"/sobjects/Contact", map[string]any{"LastName": "x", "Account": map[string]any{"Num__c": 7}})
	assert.Equal(t, 201, st)
	// A lock fault on delete by external id.
	srv.LockRows(1, 1)
	st, _ = c.call("DELETE", v+"/sobjects/Account/Num__c/7", nil)
	assert.Equal(t, 400, st)
	srv.LockRows(0, 0)

	// Bulk: numeric external ids in relationship and upsert columns, #N/A in both.
	id, _ := c.runJob(map[string]any{"object": "Contact", "operation": "insert"},
		"LastName,Account.Num__c,AccountId.External_Id__c\nOk,7,\nBad,seven,\nNull,#N/A,\nViaField,,x/y\n")
	_, failed := c.resultRows(id, "failedResults")
	require.Len(t, failed, 2)
	assert.Equal(t, "INVALID_TYPE_ON_FIELD_IN_RECORD:Num: value not of required type: seven:Num__c --", failed[1][1])
	recs := srv.Records("Contact")
	assert.Equal(t, a, recs[2]["AccountId"])
	assert.Nil(t, recs[3]["AccountId"])
	assert.Equal(t, a, recs[4]["AccountId"], "the reference field's own name works as a relationship column")
	id, info := c.runJob(map[string]any{"object": "Account", "operation": "upsert", "externalIdFieldName": "Num__c"},
		"Num__c,Name\n7,Seven\nseven,Bad\n#N/A,Keyless\n7.0,Dup\n")
	assert.Equal(t, 3, num(info["numberRecordsFailed"]), "7 and 7.0 are one key; seven is no number")
	_, failed = c.resultRows(id, "failedResults")
	assert.Equal(t, "DUPLICATE_VALUE:Duplicate external id specified: 7:Num__c --", failed[1][1])
	assert.Equal(t, "Keyless", srv.Records("Account")[1]["Name"])
	assert.Equal(t, "INVALID_TYPE_ON_FIELD_IN_RECORD:Num: value not of required type: seven:Num__c --", failed[2][1])
}

func TestBulkContentionEdges(t *testing.T) {
	srv, c := start(t, WithLockContention())
	a := mustInsert(t, srv, "Account", map[string]any{"Name": "A", "External_Id__c": "A"})
	// Malformed ids and null relationships are not locked; they fail or
	// pass on their own.
	id, info := c.runJob(map[string]any{"object": "Contact", "operation": "insert"},
		"LastName,AccountId,Account.External_Id__c\nx,bad,\ny,,#N/A\nz,,A\n")
	assert.Equal(t, 1, num(info["numberRecordsFailed"]), "%v", id)
	assert.Equal(t, a, srv.Records("Contact")[1]["AccountId"])
	// An external id lookup that finds a parent held by another running job.
	other := &job{info: JobInfo{State: StateInProgress}}
	srv.org.mu.Lock()
	srv.owners[a] = other
	srv.org.mu.Unlock()
	_, info = c.runJob(map[string]any{"object": "Contact", "operation": "insert"}, "LastName,Account.External_Id__c\nq,A\n")
	assert.Equal(t, 1, num(info["numberRecordsFailed"]))
}

func TestBulkEdges(t *testing.T) {
	srv, c := start(t, WithOrderedResults())
	// Error text with quotes is CSV-escaped.
	id, _ := c.runJob(map[string]any{"object": "Contact", "operation": "insert"}, "LastName,Birthdate\nx,\"a\"\"b\"\n")
	raw, failed := c.resultRows(id, "failedResults")
	assert.Contains(t, raw, `"INVALID_TYPE_ON_FIELD_IN_RECORD:Birthdate: value not of required type: a""b:Birthdate --"`)
	assert.Equal(t, "INVALID_TYPE_ON_FIELD_IN_RECORD:Birthdate: value not of required type: a\"b:Birthdate --", failed[1][1])
	// An upload without a final newline, seen before processing.
	id = c.createJob(map[string]any{"object": "Account", "operation": "insert"})
	c.upload(id, "Name")
	raw, _ = c.resultRows(id, "unprocessedrecords")
	assert.Equal(t, "Name\n", raw)
	raw, _ = c.resultRows(id, "failedResults")
	assert.Equal(t, "\"sf__Id\",\"sf__Error\",\"Name\"\n", raw)
	// Hard-deleted records leave Records; deleted=false hides soft-deleted ones.
	x := mustInsert(t, srv, "Account", map[string]any{"Name": "x"})
	y := mustInsert(t, srv, "Account", map[string]any{"Name": "y"})
	mustInsert(t, srv, "Account", map[string]any{"Name": "z"})
	c.runJob(map[string]any{"object": "Account", "operation": "hardDelete"}, "Id\n"+x+"\n")
	c.runJob(map[string]any{"object": "Account", "operation": "delete"}, "Id\n"+y+"\n")
	assert.Len(t, srv.Records("Account"), 2)
	st, body := c.call("GET", "/__sftest/records/Account?deleted=false", nil)
	require.Equal(t, 200, st)
	assert.Len(t, body, 1)
	_, err := json.Marshal(body)
	assert.NoError(t, err)
	st, _ = c.call("GET", ingest+"/"+id+"/a/b", nil)
	assert.Equal(t, 404, st)
}

func TestBulkAbortBeforeProcessing(t *testing.T) {
	srv, c := start(t, WithBulkDelay(300*time.Millisecond, 0))
	id := c.createJob(map[string]any{"object": "Account", "operation": "insert"})
	c.upload(id, "Name\nx\n")
	c.closeJob(id)
	st, _ := c.call("PATCH", ingest+"/"+id, map[string]any{"state": "Aborted"})
	require.Equal(t, 200, st)
	time.Sleep(400 * time.Millisecond)
	assert.Equal(t, StateAborted, c.jobInfo(id)["state"])
	assert.Empty(t, srv.Records("Account"))

	// Closing the server stops jobs that are waiting.
	id = c.createJob(map[string]any{"object": "Account", "operation": "insert"})
	c.upload(id, "Name\nx\n")
	c.closeJob(id)
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for the job delay")
	}
	srv.Close() // a second Close is harmless

	srv2, c2 := start(t, WithBulkDelay(0, time.Second))
	id = c2.createJob(map[string]any{"object": "Account", "operation": "insert"})
	c2.upload(id, "Name\nx\n")
	c2.closeJob(id)
	time.Sleep(50 * time.Millisecond)
	srv2.Close()
}

func TestStartOptions(t *testing.T) {
	srv, err := Start(WithAddr("127.0.0.1:0"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(srv.URL(), "http://127.0.0.1:"))
	srv.Close()
	srv, err = Start(WithAddr(":0"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(srv.URL(), "http://127.0.0.1:"), srv.URL())
	res, err := http.Get(srv.URL() + "/services/data/")
	require.NoError(t, err)
	res.Body.Close()
	srv.Close()

	_, err = Start(WithObject(Object{Name: "Bad__c", Fields: []Field{{Type: TypeString}}}))
	assert.ErrorContains(t, err, "field without a name")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("objects:\n  - name: A__c\n    fields:\n      - name: X__c\n        type: blob\n"), 0o600))
	_, err = Start(WithSchemaFile(bad))
	assert.ErrorContains(t, err, "blob")

	// Keys from the schema file, defaults for numbers, reference naming.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	_, err = Start(WithJWTPublicKey([]byte(ecPEM)))
	assert.ErrorContains(t, err, "not an RSA key")
	_, cert, _ := rsaKeyPEM(t)
	yml := "auth:\n  jwtPublicKey: |\n    " + strings.ReplaceAll(strings.TrimSpace(string(cert)), "\n", "\n    ") + "\n" +
		"objects:\n  - name: Thing__c\n    fields:\n      - name: Price__c\n        type: currency\n      - name: Ratio__c\n        type: double\n" +
		"      - name: Opt__c\n        type: string\n        nillable: false\n      - name: ManagerId\n        type: reference\n        referenceTo: Contact\n"
	srv, err = Start(WithSchemaYAML([]byte(yml)))
	require.NoError(t, err)
	defer srv.Close()
	assert.NotNil(t, srv.cfg.jwtKey)
	thing := srv.org.object("Thing__c")
	assert.Equal(t, 18, thing.field("Price__c").Precision)
	assert.Equal(t, 2, thing.field("Price__c").Scale)
	assert.Equal(t, 18, thing.field("Ratio__c").Precision)
	assert.False(t, thing.field("Opt__c").nillable)
	assert.Equal(t, "Manager", thing.field("ManagerId").RelationshipName)
	// Redefining a reference field moves its relationship name.
	require.NoError(t, srv.DefineObject(Object{Name: "Thing__c", Fields: []Field{{Name: "ManagerId", Type: TypeReference, ReferenceTo: "Contact", RelationshipName: "Boss"}}}))
	assert.Nil(t, thing.relationship("Manager"))
	assert.NotNil(t, thing.relationship("Boss"))
}

func TestAuthEdges(t *testing.T) {
	srv := NewServer()
	defer srv.Close()
	res, err := http.Post(srv.URL()+"/services/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=%zz"))
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 400, res.StatusCode)
	// The SOAP endpoint also answers under the org-specific server URL.
	body := strings.Replace(strings.Replace(soapLoginBody, "%s", "demo@example.com", 1), "%s", "demo", 1)
	res, err = http.Post(srv.URL()+"/services/Soap/u/58.0/"+orgID[:15], "text/xml", strings.NewReader(body))
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)
}

func TestHijackUnsupported(t *testing.T) {
	srv := NewServer()
	defer srv.Close()
	srv.Fault(Fault{Kind: FaultDropRequest})
	req := httptest.NewRequest("GET", "/services/data/v58.0/limits", nil)
	assert.PanicsWithValue(t, http.ErrAbortHandler, func() { srv.ServeHTTP(httptest.NewRecorder(), req) })
}

func TestIDEdges(t *testing.T) {
	for _, s := range []string{"0015000000Gv7q!AAR", "0015000000Gv7qJAA9"} {
		_, ok := normalizeID(s)
		assert.False(t, ok, s)
	}
}

func TestJSONHelpers(t *testing.T) {
	for in, want := range map[string]string{
		"plain": `"plain"`, "a\"b\\c": `"a\"b\\c"`, "l1\nl2\r\t": `"l1\nl2\r\t"`, "\x01": `"\u0001"`,
		"é ü": `"é ü"`, "bad \xff byte": `"bad \ufffd byte"`, "sep\u2028x\u2029": `"sep\u2028x\u2029"`,
	} {
		assert.Equal(t, want, string(appendJSONString(nil, in)), in)
		var back string
		require.NoError(t, json.Unmarshal(appendJSONString(nil, in), &back))
	}
	assert.Equal(t, `[1]`, string(appendJSONValue(nil, nil, []int{1})))
	assert.Equal(t, `1.5`, string(appendJSONValue(nil, nil, 1.5)))
	for _, bad := range []string{"", "x", `{"a":}`, `{"a":1`, `{"a":1}x`, `{1:2}`} {
		_, err := decodeObject([]byte(bad))
		assert.Error(t, err, bad)
	}
	members, err := decodeObject([]byte(`{"b":1,"a":{"c":[1,2]}}`))
	require.NoError(t, err)
	assert.Equal(t, "b", members[0].key)
	assert.Equal(t, "a", members[1].key)
}

func TestValueHelpers(t *testing.T) {
	f := &fieldDef{Field: Field{Name: "X", Type: TypeString}}
	for _, v := range []any{int32(3), int64(4), float32(1.5), time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), json.Number("7"), true} {
		out, err := coerceJSON(f, v)
		require.Nil(t, err)
		assert.NotEmpty(t, out)
	}
	out, err := coerceJSON(f, "")
	assert.Nil(t, err)
	assert.Nil(t, out)
	out, err = coerceJSON(&fieldDef{Field: Field{Name: "B", Type: TypeBoolean}}, "False")
	assert.Nil(t, err)
	assert.Equal(t, false, out)
	_, err = coerceJSON(f, []any{1})
	assert.Equal(t, "Cannot deserialize instance of String from START_ARRAY or request may be missing a required field", err.Message)
	_, err = coerceJSON(f, struct{}{})
	assert.NotNil(t, err)
	n := &fieldDef{Field: Field{Name: "N", Type: TypeInt}}
	i := &fieldDef{Field: Field{Name: "D", Type: TypeDouble}}
	assert.Equal(t, "3", formatText(n, 3.0))
	assert.Equal(t, "3.5", formatText(i, 3.5))
	assert.Equal(t, "true", formatText(nil, true))
	assert.Equal(t, "", formatText(nil, nil))
	assert.Equal(t, "[1]", formatText(nil, []int{1}))
	assert.Equal(t, "true", indexKey(f, true))
	assert.Equal(t, "[1]", indexKey(f, []int{1}))
	assert.Equal(t, "ABC", indexKey(&fieldDef{Field: Field{Type: TypeString, CaseSensitive: true}}, "ABC"))
	assert.Equal(t, "2.5", indexKey(i, 2.5))
}
