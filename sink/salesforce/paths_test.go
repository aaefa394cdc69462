package salesforce

import (
	"context"
	"crypto/rsa"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// Error paths of the login flows.
func TestLoginPaths(t *testing.T) {
	t.Run("token answer without token", func(t *testing.T) {
		srv := emulator(t)
		srv.Fault(sftest.Fault{Kind: sftest.FaultMalformed, Path: "/services/oauth2/token"})
		c2 := emuClient(t, srv)
		_, err := c2.Describe(context.Background(), "Account")
		require.ErrorIs(t, err, ErrLogin)
		assert.ErrorContains(t, err, "holds no access token")
	})
	t.Run("jwt signing fails", func(t *testing.T) {
		srv := emulator(t)
		c := emuClient(t, srv)
		c.auth = &jwtAuth{c: c, key: &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: big.NewInt(0), E: 3}, D: big.NewInt(1)}}
		_, err := c.Describe(context.Background(), "Account")
		require.ErrorIs(t, err, ErrLogin)
		assert.ErrorContains(t, err, "signing the assertion")
	})
	t.Run("soap answer without session", func(t *testing.T) {
		c, _ := fakeOrg(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`<?xml version="1.0"?><Envelope><Body><loginResponse><result></result></loginResponse></Body></Envelope>`))
		})
		c.cfg.Auth = AuthSOAP
		c.auth = soapAuth{c: c}
		_, err := c.Describe(context.Background(), "Account")
		assert.ErrorContains(t, err, "holds no session id")
	})
	t.Run("soap answer not xml", func(t *testing.T) {
		c, _ := fakeOrg(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{`)) })
		c.auth = soapAuth{c: c}
		_, err := c.Describe(context.Background(), "Account")
		assert.ErrorContains(t, err, "login (soap)")
	})
	t.Run("soap cancelled", func(t *testing.T) {
		srv := emulator(t)
		srv.Fault(sftest.Fault{Kind: sftest.FaultDelay, Delay: time.Second, Path: "/services/Soap"})
		c := emuClient(t, srv, func(c *connConfig) { c.Auth = AuthSOAP })
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := c.Describe(ctx, "Account")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, ErrLogin)
	})
	t.Run("oauth cancelled", func(t *testing.T) {
		srv := emulator(t)
		srv.Fault(sftest.Fault{Kind: sftest.FaultDelay, Delay: time.Second, Path: "/services/oauth2/token"})
		c := emuClient(t, srv)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := c.Describe(ctx, "Account")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Nil(t, c.loginErr, "a cancelled login is not kept")
	})
	t.Run("refresh fails", func(t *testing.T) {
		srv := emulator(t)
		c := emuClient(t, srv)
		_, err := c.Describe(context.Background(), "Account")
		require.NoError(t, err)
		srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Status: 400, Path: "/services/oauth2/token"})
		srv.ExpireSessions()
		_, err = c.Describe(context.Background(), "Contact")
		require.ErrorIs(t, err, ErrLogin)
	})
	t.Run("waiting for the session honours the context", func(t *testing.T) {
		srv := emulator(t)
		c := emuClient(t, srv)
		c.lock <- struct{}{} // another caller is logging in
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_, err := c.refresh(ctx, nil)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		_, err = c.current(ctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("unknown auth", func(t *testing.T) {
		_, err := newAuthenticator(&apiClient{cfg: connConfig{Auth: "kerberos"}})
		assert.ErrorContains(t, err, `auth "kerberos" is not supported`)
	})
	t.Run("bad config", func(t *testing.T) {
		_, err := newAPIClient(connConfig{Auth: AuthPassword})
		assert.ErrorContains(t, err, "auth password needs")
	})
}

func TestRequestPaths(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv)
	_, err := c.do(context.Background(), &request{method: "BAD METHOD", path: "/x"})
	assert.ErrorContains(t, err, "invalid method")

	srv.Fault(sftest.Fault{Kind: sftest.FaultDelay, Delay: time.Second, Path: "/describe"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.Describe(ctx, "Account")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a request in flight stops with its context")

	plain := errors.New("plain")
	assert.Same(t, plain, cleanURLError(plain))
	assert.Equal(t, "", pathOnly("%zz"))
	assert.Equal(t, "%zz", (&connConfig{LoginURL: "%zz"}).audience())

	bodyErr := errors.New("read failed")
	_, err = (&sfTransport{c: c, ctx: context.Background()}).RoundTrip(&http.Request{Method: "POST", URL: &url.URL{Path: "/x"}, Body: io.NopCloser(failingReader{bodyErr})})
	assert.ErrorIs(t, err, bodyErr)
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

func TestQueryPaths(t *testing.T) {
	n := 0
	c, _ := fakeOrg(t, func(w http.ResponseWriter, r *http.Request) {
		n++
		switch {
		case strings.HasSuffix(r.URL.Path, "/describe"):
			_, _ = w.Write([]byte(`[`))
		default:
			_, _ = w.Write([]byte(`{"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01g-2?%zz","records":[{"Id":"1"}]}`))
		}
	})
	_, err := c.Describe(context.Background(), "Account")
	assert.ErrorContains(t, err, "decoding the answer")
	var rows int
	for _, err := range c.Query(context.Background(), "SELECT Id FROM Account") {
		if err != nil {
			assert.ErrorContains(t, err, "invalid URL escape")
			break
		}
		rows++
	}
	assert.Equal(t, 1, rows)
}

// Preflight against describes the emulator does not produce.
func TestPreflightPaths(t *testing.T) {
	obj := func(create, update, del bool, fields string) string {
		return `{"name":"Thing","createable":` + bstr(create) + `,"updateable":` + bstr(update) + `,"deletable":` + bstr(del) + `,"fields":[` + fields + `]}`
	}
	cases := []struct {
		name   string
		op     Operation
		ext    string
		desc   string
		fields []string
		want   string
	}{
		{"not createable", Insert, "", obj(false, true, true, `{"name":"A","createable":true}`), []string{"A"}, "Thing is not createable"},
		{"not updateable", Update, "", obj(true, false, true, `{"name":"Id"}`), []string{"Id"}, "Thing is not updateable"},
		{"upsert", Upsert, "K", obj(true, false, true, `{"name":"K","externalId":true,"createable":true}`), []string{"K"}, "must be createable and updateable"},
		{"not deletable", Delete, "", obj(true, true, false, `{"name":"Id"}`), []string{"Id"}, "Thing is not deletable"},
		{"no target", Insert, "", obj(true, true, true, `{"name":"R","relationshipName":"Rel","createable":true}`), []string{"Rel.K"}, "names no target object"},
		{"target describe fails", Insert, "", obj(true, true, true, `{"name":"R","relationshipName":"Rel","createable":true,"referenceTo":["Broken"]}`), []string{"Rel.K"}, "describe Broken"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, _ := fakeOrg(t, func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "/Broken/") {
					w.WriteHeader(http.StatusNotFound)
					_, _ = w.Write([]byte(`[{"errorCode":"NOT_FOUND","message":"gone"}]`))
					return
				}
				_, _ = w.Write([]byte(c.desc))
			})
			s := emuSink(t, cl, "Thing", c.op, c.ext, fastOptions(APIREST))
			err := s.Preflight(context.Background(), sink.NewLayout(c.fields, nil))
			assert.ErrorContains(t, err, c.want)
		})
	}
}

func bstr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// Bulk error paths that the emulator reaches through faults.
func TestBulkPaths(t *testing.T) {
	cases := []struct {
		name  string
		fault sftest.Fault
		recs  []sink.Record
		code  string
	}{
		{"closing refused", sftest.Fault{Kind: sftest.FaultStatus, Status: 400, Method: "PATCH", Path: "/jobs/ingest/"}, nameRecs(2, "K"), "UNKNOWN_EXCEPTION"},
		// Once the job may have run, records whose results cannot be read
		// have an unknown outcome, never a guessed failure.
		{"polling refused", sftest.Fault{Kind: sftest.FaultStatus, Status: 400, Method: "GET", Path: "/jobs/ingest/"}, nameRecs(2, "K"), CodeOutcomeUnknown},
		{"results refused", sftest.Fault{Kind: sftest.FaultStatus, Status: 400, Path: "/successfulResults"}, nameRecs(2, "K"), CodeOutcomeUnknown},
		{"failed results refused", sftest.Fault{Kind: sftest.FaultStatus, Status: 400, Path: "/failedResults"},
			recs(nameLayout, []any{"K", "x"}, []any{"L", nil}), CodeOutcomeUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := emulator(t)
			s := emuSink(t, emuClient(t, srv), "Account", Insert, "", fastOptions(APIBulk))
			srv.Fault(c.fault)
			res := write(t, s, c.recs)
			for _, r := range res {
				require.NotNil(t, r.Err)
				assert.Equal(t, c.code, r.Err.Code)
			}
		})
	}
	t.Run("unmentioned record", func(t *testing.T) {
		c := fakeBulk(t, stateJobComplete, "", "sf__Id,sf__Created,External_Id__c,Name\n", "", "")
		s := emuSink(t, c, "Account", Upsert, "External_Id__c", fastOptions(APIBulk))
		res := write(t, s, nameRecs(1, "K"))
		assert.Equal(t, CodeOutcomeUnknown, res[0].Err.Code)
	})
	t.Run("unprocessed refused", func(t *testing.T) {
		c := fakeBulk(t, stateJobComplete, "", "sf__Id,sf__Created,External_Id__c,Name\n", "", "ERR")
		s := emuSink(t, c, "Account", Upsert, "External_Id__c", fastOptions(APIBulk))
		res := write(t, s, nameRecs(1, "K"))
		assert.Equal(t, CodeOutcomeUnknown, res[0].Err.Code)
		assert.Contains(t, res[0].Err.Message, "HTTP_400")
	})
	t.Run("failed job without message", func(t *testing.T) {
		c := fakeBulk(t, stateFailed, "", "", "", "")
		s := emuSink(t, c, "Account", Upsert, "External_Id__c", fastOptions(APIBulk))
		res := write(t, s, nameRecs(1, "K"))
		assert.Equal(t, CodeJobFailed, res[0].Err.Code)
		assert.Contains(t, res[0].Err.Message, "the Bulk job failed")
	})
	t.Run("results of unknown keys", func(t *testing.T) {
		c := fakeBulk(t, stateJobComplete, "", "sf__Id,sf__Created,External_Id__c\nX,true,NOPE\nY,true,K-0\n", "", "")
		s := emuSink(t, c, "Account", Upsert, "External_Id__c", fastOptions(APIBulk))
		res := write(t, s, nameRecs(1, "K"))
		assert.Equal(t, "Y", res[0].ID)
	})
}

// The context ends a Bulk Write wherever it is waiting.
func TestBulkCancelPaths(t *testing.T) {
	t.Run("waiting for a job slot", func(t *testing.T) {
		srv := emulator(t, sftest.WithBulkDelay(10*time.Second, 0))
		c := emuClient(t, srv)
		s := emuSink(t, c, "Account", Insert, "", Options{API: APIBulk, BulkBatchSize: 2, MaxJobsInFlight: 1})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Stopped while the first job runs and the second waits.
		c.http = &http.Client{Transport: cancelOn{base: http.DefaultTransport, path: "/jobs/ingest/", method: "GET", cancel: cancel}}
		res, err := s.Write(ctx, nameRecs(4, "K"))
		require.NoError(t, err)
		require.Len(t, srv.Jobs(), 1, "the second job never started")
		assert.Equal(t, sftest.StateAborted, srv.Jobs()[0].State)
		for _, r := range res {
			assert.Equal(t, sink.SkipNotSent, r.Skipped, "nothing was processed: known not written")
		}
		assert.Empty(t, live(srv, "Account"))
	})
	t.Run("during the upload", func(t *testing.T) {
		srv := emulator(t)
		c := emuClient(t, srv)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c.http = &http.Client{Transport: cancelOn{base: http.DefaultTransport, path: "/batches", method: "PUT", cancel: cancel}}
		s := emuSink(t, c, "Account", Insert, "", fastOptions(APIBulk))
		res, err := s.Write(ctx, nameRecs(2, "K"))
		require.NoError(t, err)
		assert.Equal(t, sftest.StateAborted, srv.Jobs()[0].State)
		for _, r := range res {
			assert.Equal(t, sink.SkipNotSent, r.Skipped)
		}
		assert.Empty(t, live(srv, "Account"))
	})
	t.Run("waiting to restart an upload", func(t *testing.T) {
		srv := emulator(t)
		c := emuClient(t, srv)
		stop := errors.New("stop")
		c.sleep = func(context.Context, time.Duration) error { return stop }
		srv.Fault(sftest.Fault{Kind: sftest.FaultDropResponse, Method: "PUT"})
		s := emuSink(t, c, "Account", Insert, "", fastOptions(APIBulk))
		res := write(t, s, nameRecs(1, "K"))
		assert.Equal(t, CodeRequestFailed, res[0].Err.Code)
		assert.Contains(t, res[0].Err.Message, "stop")
	})
	t.Run("waiting for a lock retry", func(t *testing.T) {
		srv := emulator(t)
		c := emuClient(t, srv)
		stop := errors.New("stop")
		c.sleep = func(context.Context, time.Duration) error { return stop }
		srv.LockRows(1, 1)
		s := emuSink(t, c, "Account", Insert, "", fastOptions(APIBulk))
		res, err := s.Write(context.Background(), nameRecs(1, "K"))
		require.NoError(t, err)
		assert.Equal(t, "UNABLE_TO_LOCK_ROW", res[0].Err.Code, "a retry that cannot wait leaves the row failed")
	})
}

func TestRESTCancelPaths(t *testing.T) {
	t.Run("waiting for a call slot", func(t *testing.T) {
		srv := emulator(t)
		s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", Options{API: APIREST, RESTConcurrency: 1})
		s.restSlots <- struct{}{} // another Write holds the only slot
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		res, err := s.Write(ctx, nameRecs(3, "K"))
		require.NoError(t, err)
		for _, r := range res {
			assert.Equal(t, sink.SkipNotSent, r.Skipped)
		}
	})
	// The call in flight when the write stops runs to its answer; the
	// calls not yet sent are not sent.
	srv := emulator(t)
	c := emuClient(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.http = &http.Client{Transport: cancelOn{base: http.DefaultTransport, path: "/composite", cancel: cancel}}
	s := emuSink(t, c, "Account", Upsert, "External_Id__c", Options{API: APIREST, RESTConcurrency: 1})
	res, err := s.Write(ctx, nameRecs(450, "K"))
	require.NoError(t, err)
	written, stopped := 0, 0
	for _, r := range res {
		switch {
		case r.Err == nil && r.Skipped == "":
			written++
		case r.Skipped == sink.SkipNotSent:
			stopped++
		}
	}
	// One call was in flight (of 200 or of the last 50 records, whichever
	// took the slot first); the others were never sent.
	assert.Contains(t, []int{50, 200}, written, "the call in flight")
	assert.Equal(t, 450, written+stopped)
	assert.Len(t, live(srv, "Account"), written, "Salesforce holds exactly what the results say")
}

func TestSinkPaths(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv)
	_, err := buildSink(c, Destination{Object: "Account"})
	assert.ErrorContains(t, err, "missing required key: insert, update, upsert, delete or hard_delete")

	s := emuSink(t, c, "Account", Insert, "", Options{API: APIAuto})
	assert.Equal(t, APIBulk, s.Stats().API, "auto before any hint")

	hard := emuSink(t, c, "Account", HardDelete, "", Options{})
	hard.api = APIREST // not reachable through buildSink: REST has no hard delete
	res := write(t, hard, recs(sink.NewLayout([]string{"Id"}, nil), []any{"001000000000000AAA"}))
	assert.Contains(t, res[0].Err.Message, "has no REST call")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = s.writeErr(ctx, errors.New("query failed"))
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "query failed")
	assert.Equal(t, "62.0", c.APIVersion())
}
