package salesforce

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
)

// fakeOrg answers the token request itself and hands every other request
// to handle, for answers the emulator does not give.
func fakeOrg(t *testing.T, handle http.HandlerFunc) (*apiClient, *httptest.Server) {
	t.Helper()
	var hs *httptest.Server
	hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/services/oauth2/token" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"tok","instance_url":"` + hs.URL + `"}`))
			return
		}
		handle(w, r)
	}))
	t.Cleanup(hs.Close)
	cfg := connConfig{LoginURL: hs.URL, Auth: AuthPassword, ClientID: "c", ClientSecret: "s", Username: "u", Password: "p", retryBase: time.Millisecond}
	c, err := newAPIClient(cfg, withLogger(quiet), withHTTPClient(hs.Client()))
	require.NoError(t, err)
	return c, hs
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "http://" + addr
}

// A request that provably never reached the server is resent even when
// it is not idempotent.
func TestDialErrorsAreRetried(t *testing.T) {
	c, err := newAPIClient(connConfig{LoginURL: closedPort(t), Auth: AuthSOAP, Username: "u", Password: "p", MaxRetries: Int(2), retryBase: time.Millisecond}, withLogger(quiet))
	require.NoError(t, err)
	var waits []time.Duration
	c.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	_, err = c.do(context.Background(), &request{method: http.MethodPost, base: c.cfg.LoginURL, path: "/x"})
	require.Error(t, err)
	assert.Len(t, waits, 2)
	assert.NotErrorIs(t, err, ErrOutcomeUnknown)
	assert.Contains(t, err.Error(), "after 3 attempts")
	assert.True(t, notSent(errors.Unwrap(errors.Unwrap(err))) || strings.Contains(err.Error(), "connection refused"))
}

func TestRetryAfterAndTooManyRequests(t *testing.T) {
	n := 0
	c, _ := fakeOrg(t, func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte(`{"fields":[]}`))
	})
	var waits []time.Duration
	c.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	_, err := c.Describe(context.Background(), "Account")
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{time.Second}, waits)
}

func TestBackoff(t *testing.T) {
	for attempt := 0; attempt < 40; attempt++ {
		d := backoff(100*time.Millisecond, attempt)
		want := min(100*time.Millisecond<<min(attempt, 20), defaultRetryCap)
		assert.GreaterOrEqual(t, d, want/2)
		assert.LessOrEqual(t, d, want)
	}
	h := http.Header{}
	assert.Zero(t, retryAfter(h))
	h.Set("Retry-After", "x")
	assert.Zero(t, retryAfter(h))
	h.Set("Retry-After", "3600")
	assert.Equal(t, defaultRetryCap, retryAfter(h))
}

func TestCleanURLError(t *testing.T) {
	c, err := newAPIClient(connConfig{LoginURL: closedPort(t), Auth: AuthSOAP, Username: "u", Password: "p", MaxRetries: Int(0)}, withLogger(quiet))
	require.NoError(t, err)
	_, err = c.do(context.Background(), &request{method: http.MethodGet, base: c.cfg.LoginURL, path: "/services/data/v62.0/query", idempotent: true,
		query: map[string][]string{"q": {"SELECT Id FROM Account WHERE Name = 'Secret Co'"}}})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "Secret")
	assert.Contains(t, err.Error(), "/services/data/v62.0/query")
}

// Answers that cannot be tied to their records are reported per record,
// never guessed.
func TestRESTAnswerMismatch(t *testing.T) {
	cases := []struct {
		name, body, code string
	}{
		{"too few results", `[{"id":"001000000000001AAA","success":true,"errors":[]}]`, CodeOutcomeUnknown},
		{"failure without error", `[{"success":false,"errors":[]},{"success":false,"errors":[{"statusCode":"A","message":"m1"},{"statusCode":"B","message":"m2"}]}]`, "UNKNOWN_ERROR"},
		{"not json", `<html>`, CodeOutcomeUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, _ := fakeOrg(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(c.body)) })
			s := emuSink(t, cl, "Account", Upsert, "External_Id__c", fastOptions(APIREST))
			res := write(t, s, nameRecs(2, "K"))
			require.NotNil(t, res[0].Err)
			assert.Equal(t, c.code, res[0].Err.Code)
			if c.name == "failure without error" {
				assert.Equal(t, &sink.RecordError{Code: "A", Message: "m1; B: m2"}, res[1].Err)
			}
		})
	}
}

// fakeBulk runs a one-job Bulk API whose result files the test writes.
func fakeBulk(t *testing.T, jobState, errMsg, success, failed, unprocessed string) *apiClient {
	var mu sync.Mutex
	polls := 0
	c, _ := fakeOrg(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		p := r.URL.Path
		switch {
		case r.Method == "POST" && strings.HasSuffix(p, "/jobs/ingest"):
			_, _ = w.Write([]byte(`{"id":"750J","state":"Open"}`))
		case r.Method == "PUT":
			w.WriteHeader(http.StatusCreated)
		case r.Method == "PATCH":
			_, _ = w.Write([]byte(`{"id":"750J","state":"UploadComplete"}`))
		case strings.HasSuffix(p, "/jobs/ingest/750J"):
			polls++
			st := "InProgress"
			if polls > 1 {
				st = jobState
			}
			_, _ = w.Write([]byte(`{"id":"750J","state":"` + st + `","errorMessage":"` + errMsg + `","numberRecordsFailed":1}`))
		case strings.HasSuffix(p, "/successfulResults/"):
			_, _ = w.Write([]byte(success))
		case strings.HasSuffix(p, "/failedResults/"):
			_, _ = w.Write([]byte(failed))
		case strings.HasSuffix(p, "/unprocessedrecords/") && unprocessed == "ERR":
			w.WriteHeader(http.StatusBadRequest)
		case strings.HasSuffix(p, "/unprocessedrecords/"):
			_, _ = w.Write([]byte(unprocessed))
		default:
			http.NotFound(w, r)
		}
	})
	return c
}

func TestBulkResultMapping(t *testing.T) {
	in := recs(nameLayout, []any{"K-1", "Same"}, []any{"K-2", "Same"}, []any{"K-3", "Same"}, []any{"K-4", "x"})
	t.Run("insert by row and by trimmed echo", func(t *testing.T) {
		c := fakeBulk(t, stateJobComplete, "",
			"sf__Id,sf__Created,Name,External_Id__c\nID2,true,Same,K-2\nIDX,true,Other,K-9\n",
			"\"sf__Id\",\"sf__Error\",\"External_Id__c\",\"Name\"\n\"\",\"FIELD_CUSTOM_VALIDATION_EXCEPTION:bad:Name --\",\" K-1 \",\"Same\"\n",
			"External_Id__c,Name\nK-3,Same\n")
		s := emuSink(t, c, "Account", Insert, "", fastOptions(APIBulk))
		res := write(t, s, in)
		assert.Equal(t, sink.Result{ID: "ID2", Created: true}, res[1])
		require.NotNil(t, res[0].Err)
		assert.Equal(t, "FIELD_CUSTOM_VALIDATION_EXCEPTION", res[0].Err.Code)
		assert.Equal(t, CodeUnprocessed, res[2].Err.Code)
		assert.Equal(t, CodeOutcomeUnknown, res[3].Err.Code, "a record the results do not mention")
	})
	t.Run("upsert by key, case folded", func(t *testing.T) {
		c := fakeBulk(t, stateJobComplete, "",
			"sf__Id,sf__Created,External_Id__c,Name\nID1,false,k-1,CHANGED\nID2,true,K-2,Same\nID3,true,K-3,Same\nID4,true,K-4,x\n", "", "")
		s := emuSink(t, c, "Account", Upsert, "External_Id__c", fastOptions(APIBulk))
		res := write(t, s, in)
		requireOK(t, res)
		assert.Equal(t, sink.Result{ID: "ID1"}, res[0])
		assert.Equal(t, "ID4", res[3].ID)
	})
	t.Run("failed job keeps what was processed", func(t *testing.T) {
		c := fakeBulk(t, stateFailed, "InvalidBatch : boom",
			"sf__Id,sf__Created,External_Id__c,Name\nID1,true,K-1,Same\n", "", "")
		s := emuSink(t, c, "Account", Insert, "", fastOptions(APIBulk))
		res := write(t, s, in)
		assert.Nil(t, res[0].Err)
		for _, r := range res[1:] {
			require.NotNil(t, r.Err)
			assert.Equal(t, CodeJobFailed, r.Err.Code)
			assert.Contains(t, r.Err.Message, "InvalidBatch : boom")
		}
	})
	t.Run("aborted job", func(t *testing.T) {
		c := fakeBulk(t, stateAborted, "", "", "", "External_Id__c,Name\nK-4,x\n")
		s := emuSink(t, c, "Account", Insert, "", fastOptions(APIBulk))
		res := write(t, s, in)
		for _, r := range res {
			require.NotNil(t, r.Err)
			assert.Equal(t, CodeJobAborted, r.Err.Code)
		}
	})
	t.Run("unreadable results", func(t *testing.T) {
		c := fakeBulk(t, stateJobComplete, "", "sf__Id,\"broken\n", "", "")
		s := emuSink(t, c, "Account", Insert, "", fastOptions(APIBulk))
		res := write(t, s, in)
		assert.Equal(t, CodeOutcomeUnknown, res[0].Err.Code)
	})
}

func TestBulkCreateWithoutID(t *testing.T) {
	c, _ := fakeOrg(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{}`)) })
	s := emuSink(t, c, "Account", Insert, "", fastOptions(APIBulk))
	res := write(t, s, nameRecs(1, "K"))
	require.NotNil(t, res[0].Err)
	assert.Contains(t, res[0].Err.Message, "holds no job id")
}

func TestReadResults(t *testing.T) {
	rf, err := readResults(strings.NewReader("\ufeffsf__Id,sf__Created,NAME,Other\n1,true,a,b\nshort\n"), []string{"Name", "Missing"})
	require.NoError(t, err)
	assert.Equal(t, 0, rf.idCol)
	assert.Equal(t, []int{2, -1}, rf.cols)
	row, err := rf.next()
	require.NoError(t, err)
	cells, ok := rf.uploadedCells(row)
	assert.False(t, ok)
	assert.Equal(t, []string{"a", ""}, cells)
	row, err = rf.next()
	require.NoError(t, err)
	assert.Equal(t, "", cellAt(row, 5))
	_, err = rf.next()
	assert.ErrorIs(t, err, io.EOF)
	empty, err := readResults(strings.NewReader(""), nil)
	require.NoError(t, err)
	_, err = empty.next()
	assert.ErrorIs(t, err, io.EOF)
	_, err = readResults(strings.NewReader("\"a\n"), nil)
	assert.Error(t, err, "a broken header")
	rf, err = readResults(strings.NewReader("a\n\"b\n"), nil)
	require.NoError(t, err)
	_, err = rf.next()
	assert.Error(t, err, "a broken row")
}

func TestCSVEncoder(t *testing.T) {
	e := newCSVEncoder()
	assert.Equal(t, "\"\"\n", string(e.row([]string{""})))
	assert.Equal(t, "a,\"b,c\",\"q\"\"\",\"x\ny\",,#N/A\n", string(e.row([]string{"a", "b,c", `q"`, "x\ny", "", "#N/A"})))
	assert.Equal(t, "", bulkCell(sink.Value{}))
	assert.Equal(t, "#N/A", bulkCell(sink.NullValue()))
	assert.Equal(t, "1.5", bulkCell(sink.NumberValue("1.5")))
}
