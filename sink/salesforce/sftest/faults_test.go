package sftest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFaultStatusAndRateLimit(t *testing.T) {
	srv, c := start(t)
	srv.Fault(Fault{Kind: FaultStatus, Method: "GET", Path: "/limits", Times: 2})
	for i := 0; i < 2; i++ {
		st, body := c.call("GET", v+"/limits", nil)
		assert.Equal(t, 503, st)
		code, _ := restErr(t, body)
		assert.Equal(t, "SERVER_UNAVAILABLE", code)
	}
	st, _ := c.call("GET", v+"/limits", nil)
	assert.Equal(t, 200, st, "the fault is used up")
	assert.Empty(t, srv.Faults())

	srv.Fault(Fault{Kind: FaultStatus, Status: 500, Path: "/sobjects", Times: 1})
	st, body := c.call("POST", v+"/sobjects/Account", map[string]any{"Name": "x"})
	assert.Equal(t, 500, st)
	code, _ := restErr(t, body)
	assert.Equal(t, "UNKNOWN_EXCEPTION", code)
	assert.Len(t, srv.Records("Account"), 0, "a faulted request is not handled")

	srv.Fault(Fault{Kind: FaultStatus, Method: "POST"})
	st, _ = c.call("GET", v+"/limits", nil)
	assert.Equal(t, 200, st, "the method does not match")
	srv.ClearFaults()

	// Without a kind a fault answers with its status, or only delays.
	srv.Fault(Fault{Method: "GET", Path: "/limits", Status: 502, Times: 1})
	st, _ = c.call("GET", v+"/limits", nil)
	assert.Equal(t, 502, st)
	srv.Fault(Fault{Delay: time.Millisecond, Times: 1})
	assert.Equal(t, FaultDelay, srv.Faults()[0].Kind)
	st, _ = c.call("GET", v+"/limits", nil)
	assert.Equal(t, 200, st)

	srv.Fault(Fault{Kind: FaultRateLimit})
	st, body = c.call("GET", v+"/limits", nil)
	assert.Equal(t, 403, st)
	code, msg := restErr(t, body)
	assert.Equal(t, "REQUEST_LIMIT_EXCEEDED", code)
	assert.Equal(t, "TotalRequests Limit exceeded.", msg)
	require.Len(t, srv.Faults(), 1)
	srv.ClearFaults()

	srv.Fault(Fault{Kind: FaultSessionExpired, Times: 1})
	st, body = c.call("GET", v+"/limits", nil)
	assert.Equal(t, 401, st)
	code, _ = restErr(t, body)
	assert.Equal(t, "INVALID_SESSION_ID", code)

	// Faults apply to the token endpoint as well.
	srv.Fault(Fault{Kind: FaultStatus, Path: "/services/oauth2/token", Times: 1})
	res, err := http.PostForm(srv.URL()+"/services/oauth2/token", nil)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 503, res.StatusCode)
}

func TestFaultDelay(t *testing.T) {
	srv, c := start(t)
	srv.Fault(Fault{Kind: FaultDelay, Delay: 150 * time.Millisecond, Times: 1})
	srv.Fault(Fault{Kind: FaultDelay, Delay: 50 * time.Millisecond, Times: 1})
	t0 := time.Now()
	st, _ := c.call("GET", v+"/limits", nil)
	assert.Equal(t, 200, st)
	assert.GreaterOrEqual(t, time.Since(t0), 200*time.Millisecond, "delays add up")
	// Each delay served once: the next request meets no fault.
	assert.Empty(t, srv.Faults())
	c.call("GET", v+"/limits", nil)

	// A delayed request that the client gives up on ends early.
	srv.Fault(Fault{Kind: FaultDelay, Delay: 5 * time.Second})
	hc := &http.Client{Timeout: 100 * time.Millisecond}
	req, _ := http.NewRequest("GET", srv.URL()+v+"/limits", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	_, err := hc.Do(req)
	assert.Error(t, err)
}

func TestFaultDropResponse(t *testing.T) {
	srv, c := start(t)
	mustInsert(t, srv, "Account", map[string]any{"Name": "Acme"})
	srv.Fault(Fault{Kind: FaultDropResponse, Path: "/query", Times: 1})
	req, _ := http.NewRequest("GET", srv.URL()+v+"/query?q="+q("SELECT Id, Name FROM Account"), nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, 200, res.StatusCode, "the status line arrives, the body does not")
	}
	require.Error(t, err)
	assert.True(t, errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF), "%v", err)
	st, _ := c.call("GET", v+"/query?q="+q("SELECT Id FROM Account"), nil)
	assert.Equal(t, 200, st)
	// The dropped request is logged when its handler returns, which may be
	// after the next request: find it by its query.
	var dropped []Request
	for _, r := range srv.Requests() {
		if strings.Contains(r.Query, "Name") {
			dropped = append(dropped, r)
		}
	}
	require.Len(t, dropped, 1)
	assert.Equal(t, 0, dropped[0].Status, "a dropped request is logged with status 0")
}

func TestFaultDropRequest(t *testing.T) {
	srv, c := start(t)
	id := c.createJob(map[string]any{"object": "Account", "operation": "insert"})
	srv.Fault(Fault{Kind: FaultDropRequest, Method: "PUT", Path: "/batches", Times: 1})

	// Send the body slowly over a raw connection so the server closes it
	// while the body is still on its way.
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL(), "http://"))
	require.NoError(t, err)
	defer conn.Close()
	body := "Name\n" + strings.Repeat("x\n", 50000)
	head := "PUT " + ingest + "/" + id + "/batches HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + c.token +
		"\r\nContent-Type: text/csv\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	_, err = conn.Write([]byte(head))
	require.NoError(t, err)
	var werr error
	for i := 0; i < len(body) && werr == nil; i += 4096 {
		_, werr = conn.Write([]byte(body[i:min(len(body), i+4096)]))
		time.Sleep(time.Millisecond)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, rerr := http.ReadResponse(bufio.NewReader(conn), nil)
	assert.True(t, werr != nil || rerr != nil, "the connection is closed without a response (%v)", resp)

	// Nothing was stored, and a retry succeeds.
	c.upload(id, "Name\nx\n")
	// Over net/http the client sees an error too.
	id2 := c.createJob(map[string]any{"object": "Account", "operation": "insert"})
	srv.Fault(Fault{Kind: FaultDropRequest, Method: "PUT", Times: 1})
	req, _ := http.NewRequest("PUT", srv.URL()+ingest+"/"+id2+"/batches", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "text/csv")
	_, err = http.DefaultClient.Do(req)
	assert.Error(t, err)
	// A request without a body is dropped as well.
	srv.Fault(Fault{Kind: FaultDropRequest, Times: 1})
	req, _ = http.NewRequest("GET", srv.URL()+v+"/limits", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	_, err = http.DefaultClient.Do(req)
	assert.Error(t, err)
}

func TestFaultMalformed(t *testing.T) {
	srv, c := start(t)
	mustInsert(t, srv, "Account", map[string]any{"Name": "Acme"})
	srv.Fault(Fault{Kind: FaultMalformed, Path: "/query", Times: 1})
	res, body := c.do("GET", v+"/query?q="+q("SELECT Id, Name FROM Account"), nil)
	assert.Equal(t, 200, res.StatusCode)
	var out any
	assert.Error(t, json.Unmarshal(body, &out), "%s", body)

	id, _ := c.runJob(map[string]any{"object": "Account", "operation": "insert"}, "Name\na\nb\nc\n")
	srv.Fault(Fault{Kind: FaultMalformed, Path: "/successfulResults", Times: 1})
	res, body = c.do("GET", ingest+"/"+id+"/successfulResults", nil)
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "text/csv", res.Header.Get("Content-Type"))
	_, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	assert.Error(t, err, "%s", body)

	// Empty answers get a broken body too.
	srv.Fault(Fault{Kind: FaultMalformed, Method: "DELETE", Times: 1})
	res, body = c.do("DELETE", ingest+"/"+id, nil)
	assert.Equal(t, 200, res.StatusCode)
	assert.Error(t, json.Unmarshal(body, &out))
}

func TestControlAPI(t *testing.T) {
	srv, c := start(t)
	ctl := func(method, path string, body any) (int, any) {
		saved := c.token
		c.token = ""
		defer func() { c.token = saved }()
		return c.call(method, "/__sftest/"+path, body)
	}
	st, body := ctl("POST", "faults", map[string]any{"kind": "status", "status": 502, "path": "/limits", "times": 1})
	require.Equal(t, 201, st, "%v", body)
	assert.Equal(t, json.Number("1"), obj(body)["id"])
	st, body = ctl("POST", "faults", map[string]any{"kind": "delay", "delay": "10ms", "times": 3})
	require.Equal(t, 201, st)
	assert.Equal(t, json.Number("2"), obj(body)["id"])
	st, body = ctl("GET", "faults", nil)
	require.Equal(t, 200, st)
	require.Len(t, body, 2)
	assert.Equal(t, "10ms", obj(body.([]any)[1])["delay"])
	st, _ = c.call("GET", v+"/limits", nil)
	assert.Equal(t, 502, st)
	st, _ = ctl("DELETE", "faults", nil)
	assert.Equal(t, 204, st)
	assert.Empty(t, srv.Faults())
	for _, bad := range []any{map[string]any{"kind": "nope"}, map[string]any{"kind": "delay", "delay": "soon"}, map[string]any{"kind": "status", "extra": 1}, "{"} {
		st, _ = ctl("POST", "faults", bad)
		assert.Equal(t, 400, st, "%v", bad)
	}

	st, _ = ctl("POST", "records/Account", map[string]any{"Name": "Seeded", "NumberOfEmployees": 3})
	assert.Equal(t, 201, st)
	st, body = ctl("POST", "records/Account", map[string]any{"Phone": "1"})
	assert.Equal(t, 400, st)
	assert.Contains(t, obj(body)["error"], "REQUIRED_FIELD_MISSING")
	st, _ = ctl("POST", "records/Account", "{")
	assert.Equal(t, 400, st)
	st, body = ctl("GET", "records/Account", nil)
	require.Equal(t, 200, st)
	require.Len(t, body, 1)
	id := obj(body.([]any)[0])["Id"].(string)
	assert.Equal(t, json.Number("3"), obj(body.([]any)[0])["NumberOfEmployees"])
	c.call("DELETE", v+"/sobjects/Account/"+id, nil)
	_, body = ctl("GET", "records/Account", nil)
	assert.Len(t, body, 1, "deleted records are listed")
	_, body = ctl("GET", "records/Account?deleted=false", nil)
	assert.Len(t, body, 0)
	st, _ = ctl("GET", "records/Widget", nil)
	assert.Equal(t, 404, st)

	st, _ = ctl("POST", "objects", "objects:\n  - name: Gadget__c\n    fields:\n      - name: Size__c\n        type: int\n")
	assert.Equal(t, 204, st)
	st, _ = c.call("POST", v+"/sobjects/Gadget__c", map[string]any{"Name": "g", "Size__c": 2})
	assert.Equal(t, 201, st)
	st, body = ctl("POST", "objects", "objects:\n  - name: Gadget__c\n    flds: []\n")
	assert.Equal(t, 400, st)
	assert.Contains(t, obj(body)["error"], "unknown field")
	st, body = ctl("POST", "objects", "auth:\n  username: x\n")
	assert.Equal(t, 400, st)
	assert.Contains(t, obj(body)["error"], "auth can only be configured when the server starts")

	st, _ = ctl("POST", "expire-sessions", nil)
	assert.Equal(t, 204, st)
	st, _ = c.call("GET", v+"/limits", nil)
	assert.Equal(t, 401, st)
	c.token = c.login()

	st, _ = ctl("POST", "lock-rows", map[string]any{"share": 1, "seed": 3})
	assert.Equal(t, 204, st)
	st, _ = c.call("POST", v+"/sobjects/Account", map[string]any{"Name": "x"})
	assert.Equal(t, 400, st)
	st, _ = ctl("POST", "lock-rows", map[string]any{"share": 0})
	assert.Equal(t, 204, st)
	st, _ = ctl("POST", "lock-rows", map[string]any{"share": 2})
	assert.Equal(t, 400, st)
	st, _ = ctl("POST", "lock-rows", "{")
	assert.Equal(t, 400, st)

	st, _ = ctl("POST", "lock-contention", map[string]any{"enabled": true})
	assert.Equal(t, 204, st)
	assert.True(t, srv.contention)
	st, _ = ctl("POST", "lock-contention", "[")
	assert.Equal(t, 400, st)

	st, _ = ctl("POST", "fail-jobs", map[string]any{"message": "InvalidBatch : boom"})
	assert.Equal(t, 204, st)
	_, info := c.runJob(map[string]any{"object": "Account", "operation": "insert"}, "Name\nx\n")
	assert.Equal(t, "InvalidBatch : boom", info["errorMessage"])
	st, _ = ctl("POST", "fail-jobs", "x")
	assert.Equal(t, 400, st)

	st, body = ctl("GET", "jobs", nil)
	require.Equal(t, 200, st)
	require.Len(t, body, 1)
	assert.Equal(t, StateFailed, obj(body.([]any)[0])["state"])
	st, body = ctl("GET", "api-calls", nil)
	require.Equal(t, 200, st)
	assert.Equal(t, json.Number(strconv.Itoa(srv.APICalls())), obj(body)["apiCalls"])
	st, body = ctl("GET", "requests", nil)
	require.Equal(t, 200, st)
	reqs := body.([]any)
	assert.NotEmpty(t, reqs)
	for _, r := range reqs {
		assert.NotContains(t, obj(r)["path"], "__sftest", "control calls are not logged")
	}
	last := obj(reqs[len(reqs)-1])
	assert.Equal(t, "GET", last["method"])
	assert.Equal(t, json.Number("200"), last["status"])
	st, _ = ctl("DELETE", "requests", nil)
	assert.Equal(t, 204, st)
	assert.Empty(t, srv.Requests())
	st, _ = ctl("GET", "nothing", nil)
	assert.Equal(t, 404, st)
}

func TestRequestLog(t *testing.T) {
	srv, c := start(t)
	c.call("GET", v+"/query?q="+q("SELECT Id FROM Account"), nil)
	c.call("GET", v+"/sobjects/Widget", nil)
	reqs := srv.Requests()
	require.Len(t, reqs, 3)
	assert.Equal(t, Request{Method: "POST", Path: "/services/oauth2/token", Status: 200, Time: reqs[0].Time}, reqs[0])
	assert.Equal(t, "q=SELECT+Id+FROM+Account", reqs[1].Query)
	assert.Equal(t, 404, reqs[2].Status)
	assert.Equal(t, 2, srv.APICalls(), "logins are not API calls")
}
