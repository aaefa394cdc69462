package salesforce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

var nameLayout = sink.NewLayout([]string{"External_Id__c", "Name"}, nil)

func nameRecs(n int, prefix string) []sink.Record {
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{fmt.Sprintf("%s-%d", prefix, i), "Name " + prefix}
	}
	return recs(nameLayout, rows...)
}

// Faults that a retry recovers from: the load lands once, every record succeeds.
func TestRecoveredFaults(t *testing.T) {
	cases := []struct {
		name  string
		api   string
		op    Operation
		fault sftest.Fault
		conf  func(*connConfig)
	}{
		{"rest insert 503", APIREST, Insert, sftest.Fault{Kind: sftest.FaultStatus, Method: "POST", Path: "/composite/sobjects", Times: 2}, nil},
		{"rest insert 403 rate limit", APIREST, Insert, sftest.Fault{Kind: sftest.FaultRateLimit, Path: "/composite/sobjects", Times: 2}, func(c *connConfig) { c.RetryRateLimit = true }},
		{"rest upsert dropped answer", APIREST, Upsert, sftest.Fault{Kind: sftest.FaultDropResponse, Method: "PATCH", Path: "/composite/sobjects", Times: 1}, nil},
		{"rest upsert 500", APIREST, Upsert, sftest.Fault{Kind: sftest.FaultStatus, Status: 500, Path: "/composite/sobjects", Times: 1}, nil},
		{"rest upsert malformed answer", APIREST, Upsert, sftest.Fault{Kind: sftest.FaultMalformed, Path: "/composite/sobjects", Times: 1}, nil},
		{"bulk create 503", APIBulk, Upsert, sftest.Fault{Kind: sftest.FaultStatus, Method: "POST", Path: "/jobs/ingest", Times: 2}, nil},
		{"bulk create dropped answer", APIBulk, Upsert, sftest.Fault{Kind: sftest.FaultDropResponse, Method: "POST", Path: "/jobs/ingest", Times: 1}, nil},
		{"bulk create malformed answer", APIBulk, Upsert, sftest.Fault{Kind: sftest.FaultMalformed, Method: "POST", Path: "/jobs/ingest", Times: 1}, nil},
		{"bulk poll malformed twice", APIBulk, Insert, sftest.Fault{Kind: sftest.FaultMalformed, Method: "GET", Path: "/jobs/ingest/", Times: 2}, nil},
		{"bulk upload dropped answer", APIBulk, Insert, sftest.Fault{Kind: sftest.FaultDropResponse, Method: "PUT", Path: "/batches", Times: 1}, nil},
		{"bulk upload dropped request", APIBulk, Insert, sftest.Fault{Kind: sftest.FaultDropRequest, Method: "PUT", Path: "/batches", Times: 1}, nil},
		{"bulk upload 500", APIBulk, Insert, sftest.Fault{Kind: sftest.FaultStatus, Status: 500, Method: "PUT", Path: "/batches", Times: 1}, nil},
		{"bulk upload 403 rate limit", APIBulk, Insert, sftest.Fault{Kind: sftest.FaultRateLimit, Method: "PUT", Path: "/batches", Times: 1}, func(c *connConfig) { c.RetryRateLimit = true }},
		{"bulk close dropped answer", APIBulk, Insert, sftest.Fault{Kind: sftest.FaultDropResponse, Method: "PATCH", Path: "/jobs/ingest/", Times: 1}, nil},
		{"bulk poll 503", APIBulk, Insert, sftest.Fault{Kind: sftest.FaultStatus, Method: "GET", Path: "/jobs/ingest/", Times: 3}, nil},
		{"bulk results dropped", APIBulk, Insert, sftest.Fault{Kind: sftest.FaultDropResponse, Method: "GET", Path: "/successfulResults", Times: 1}, nil},
		{"bulk results malformed", APIBulk, Insert, sftest.Fault{Kind: sftest.FaultMalformed, Method: "GET", Path: "/successfulResults", Times: 1}, nil},
		{"session expired", APIREST, Insert, sftest.Fault{Kind: sftest.FaultSessionExpired, Path: "/composite", Times: 1}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := emulator(t)
			var edits []func(*connConfig)
			if c.conf != nil {
				edits = append(edits, c.conf)
			}
			s := emuSink(t, emuClient(t, srv, edits...), "Account", c.op, "External_Id__c", fastOptions(c.api))
			srv.Fault(c.fault)
			res := write(t, s, nameRecs(30, "K"))
			requireOK(t, res)
			assert.Len(t, live(srv, "Account"), 30, "every record lands exactly once")
			assert.Empty(t, srv.Faults(), "the fault was hit")
		})
	}
}

// An insert whose answer is lost is not resent: its records are reported
// with RETL_OUTCOME_UNKNOWN, and nothing is written twice.
func TestInsertOutcomeUnknown(t *testing.T) {
	cases := []struct {
		name   string
		fault  sftest.Fault
		landed bool // whether the disturbed call's records were written
	}{
		{"dropped answer", sftest.Fault{Kind: sftest.FaultDropResponse, Method: "POST", Path: "/composite/sobjects", Times: 1}, true},
		{"dropped request", sftest.Fault{Kind: sftest.FaultDropRequest, Method: "POST", Path: "/composite/sobjects", Times: 1}, false},
		{"500", sftest.Fault{Kind: sftest.FaultStatus, Status: 500, Method: "POST", Path: "/composite/sobjects", Times: 1}, false},
		{"malformed answer", sftest.Fault{Kind: sftest.FaultMalformed, Method: "POST", Path: "/composite/sobjects", Times: 1}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := emulator(t)
			s := emuSink(t, emuClient(t, srv), "Account", Insert, "", Options{API: APIREST, RESTConcurrency: 1})
			srv.Fault(c.fault)
			res := write(t, s, nameRecs(250, "K"))
			unknown := 0
			for _, r := range res {
				if r.Err != nil {
					assert.Equal(t, CodeOutcomeUnknown, r.Err.Code)
					unknown++
				}
			}
			// Which of the two calls (200 and 50 records) met the fault depends on scheduling.
			assert.Contains(t, []int{200, 50}, unknown, "one call's records")
			want := 250 - unknown
			if c.landed {
				want = 250
			}
			assert.Len(t, live(srv, "Account"), want)
			// The emulator logs a dropped request after the client saw the drop.
			time.Sleep(50 * time.Millisecond)
			assert.Equal(t, 2, countRequests(srv, "POST", "/composite/sobjects"), "nothing was resent")
		})
	}
}

// Faults that outlast the retries fail the records of the request, with
// the error Salesforce gave, and leave the rest of the Write alone.
func TestUnrecoveredFaults(t *testing.T) {
	cases := []struct {
		name  string
		api   string
		fault sftest.Fault
		conf  func(*connConfig)
		code  string
	}{
		{"rate limit without retry", APIREST, sftest.Fault{Kind: sftest.FaultRateLimit, Path: "/composite/sobjects"}, nil, "REQUEST_LIMIT_EXCEEDED"},
		{"upsert answer malformed twice", APIREST, sftest.Fault{Kind: sftest.FaultMalformed, Path: "/composite/sobjects", Times: 2}, nil, CodeOutcomeUnknown},
		{"503 past max_retries", APIREST, sftest.Fault{Kind: sftest.FaultStatus, Path: "/composite/sobjects"}, func(c *connConfig) { c.MaxRetries = Int(2) }, "SERVER_UNAVAILABLE"},
		{"503 past retry_max_wait", APIREST, sftest.Fault{Kind: sftest.FaultStatus, Path: "/composite/sobjects"}, func(c *connConfig) { c.retryBase = 50 * time.Millisecond; c.RetryMaxWait = 60 * time.Millisecond }, "SERVER_UNAVAILABLE"},
		{"bulk create 400", APIBulk, sftest.Fault{Kind: sftest.FaultStatus, Status: 400, Method: "POST", Path: "/jobs/ingest"}, nil, "UNKNOWN_EXCEPTION"},
		// Each job was aborted before UploadComplete: nothing was written.
		{"bulk upload dropped every time", APIBulk, sftest.Fault{Kind: sftest.FaultDropResponse, Method: "PUT", Path: "/batches"}, func(c *connConfig) { c.MaxRetries = Int(1) }, CodeRequestFailed},
		// The job ran, and neither its state nor its results can be read.
		{"bulk poll malformed every time", APIBulk, sftest.Fault{Kind: sftest.FaultMalformed, Method: "GET", Path: "/jobs/ingest/"}, nil, CodeOutcomeUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := emulator(t)
			var edits []func(*connConfig)
			if c.conf != nil {
				edits = append(edits, c.conf)
			}
			s := emuSink(t, emuClient(t, srv, edits...), "Account", Upsert, "External_Id__c", fastOptions(c.api))
			srv.Fault(c.fault)
			res := write(t, s, nameRecs(3, "K"))
			for _, r := range res {
				require.NotNil(t, r.Err)
				assert.Equal(t, c.code, r.Err.Code)
			}
		})
	}
}

func TestMalformedResultsAreFetchedAgainOnce(t *testing.T) {
	srv := emulator(t)
	s := emuSink(t, emuClient(t, srv), "Account", Insert, "", fastOptions(APIBulk))
	srv.Fault(sftest.Fault{Kind: sftest.FaultMalformed, Method: "GET", Path: "/successfulResults"})
	res := write(t, s, nameRecs(3, "K"))
	for _, r := range res {
		require.NotNil(t, r.Err)
		// The job ran: the records are written, and the report must not
		// call them failed.
		assert.Equal(t, CodeOutcomeUnknown, r.Err.Code)
		assert.Contains(t, r.Err.Message, "successfulResults")
	}
	assert.Len(t, live(srv, "Account"), 3)
	assert.Equal(t, 2, countRequests(srv, "GET", "/successfulResults"))
}

// An expired session is refreshed once, even when many requests meet the
// expiry at the same time.
func TestSessionRefresh(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv)
	ctx := context.Background()
	_, err := c.Describe(ctx, "Account")
	require.NoError(t, err)
	srv.ExpireSessions()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, err := range c.Query(ctx, "SELECT Id FROM Account") {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 2, countRequests(srv, "POST", "/services/oauth2/token"))

	// A session that stays invalid after the refresh fails the request.
	srv.Fault(sftest.Fault{Kind: sftest.FaultSessionExpired, Path: "/sobjects/Contact/describe"})
	_, err = c.Describe(ctx, "Contact")
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusUnauthorized, ae.StatusCode)
	assert.Equal(t, "INVALID_SESSION_ID", ae.Code)
	assert.Equal(t, 3, countRequests(srv, "POST", "/services/oauth2/token"))
}

func TestCancelDuringBackoff(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv, func(c *connConfig) { c.retryBase = time.Hour; c.RetryMaxWait = 2 * time.Hour })
	srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Path: "/describe"})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Describe(ctx, "Account")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
}

// A job that Salesforce fails reports every record of it as failed with
// the job's error message.
func TestFailedJob(t *testing.T) {
	srv := emulator(t)
	s := emuSink(t, emuClient(t, srv), "Account", Insert, "", fastOptions(APIBulk))
	srv.FailJobs(1, "InternalServerError : disk on fire")
	res := write(t, s, nameRecs(5, "K"))
	for _, r := range res {
		require.NotNil(t, r.Err)
		assert.Equal(t, CodeJobFailed, r.Err.Code)
		assert.Contains(t, r.Err.Message, "disk on fire")
	}
	assert.Empty(t, live(srv, "Account"))
	// The next job is fine.
	requireOK(t, write(t, s, nameRecs(5, "L")))
}

// Cancelling a Write aborts the jobs it opened.
func TestCancelAbortsJobs(t *testing.T) {
	srv := emulator(t, sftest.WithBulkDelay(10*time.Second, 0))
	s := emuSink(t, emuClient(t, srv), "Account", Insert, "", fastOptions(APIBulk))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var res []sink.Result
	go func() {
		var err error
		res, err = s.Write(ctx, nameRecs(10, "K"))
		done <- err
	}()
	require.Eventually(t, func() bool {
		jobs := srv.Jobs()
		return len(jobs) == 1 && jobs[0].State != sftest.StateOpen
	}, 5*time.Second, time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "a stopped job's records get their outcomes")
	case <-time.After(5 * time.Second):
		t.Fatal("Write did not return after cancel")
	}
	assert.Equal(t, sftest.StateAborted, srv.Jobs()[0].State)
	assert.Empty(t, live(srv, "Account"))
	require.Len(t, res, 10)
	for _, r := range res {
		assert.Equal(t, sink.SkipNotSent, r.Skipped, "the aborted job processed nothing: known not written")
	}
}

// Rows that fail with UNABLE_TO_LOCK_ROW are retried in later jobs.
func TestLockRetries(t *testing.T) {
	srv := emulator(t)
	s := emuSink(t, emuClient(t, srv), "Account", Insert, "", fastOptions(APIBulk))
	srv.LockRows(0.3, 7)
	res := write(t, s, nameRecs(400, "K"))
	failed := 0
	for _, r := range res {
		if r.Err != nil {
			assert.Equal(t, "UNABLE_TO_LOCK_ROW", r.Err.Code)
			failed++
		}
	}
	assert.Less(t, failed, 60, "three tries leave few locked rows")
	assert.Len(t, live(srv, "Account"), 400-failed)
	assert.Equal(t, 3, len(srv.Jobs()), "the job and two retry jobs")

	srv.LockRows(1, 7)
	none := emuSink(t, emuClient(t, srv), "Account", Insert, "", Options{API: APIBulk, LockRetries: Int(0), pollStart: time.Millisecond})
	res = write(t, none, nameRecs(3, "N"))
	for _, r := range res {
		require.NotNil(t, r.Err)
	}
	assert.Equal(t, 4, len(srv.Jobs()), "lock_retries -1 retries nothing")
}

// A login that Salesforce rejects fails the Write, is not repeated, and
// its error holds no secret.
func TestLoginRejected(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv, func(c *connConfig) { c.Password = "wrong-password-123"; c.SecurityToken = "tok-456" })
	s := emuSink(t, c, "Account", Insert, "", fastOptions(APIREST))
	for i := 0; i < 2; i++ {
		_, err := s.Write(context.Background(), nameRecs(2, "K"))
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrLogin)
		for _, secret := range []string{"wrong-password-123", "tok-456", sftest.DefaultClientSecret + "x"} {
			assert.NotContains(t, err.Error(), secret)
		}
	}
	assert.Equal(t, 1, countRequests(srv, "POST", "/services/oauth2/token"))
}

func TestLoginNetworkErrorIsNotKept(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv, func(c *connConfig) { c.MaxRetries = Int(0) })
	srv.Fault(sftest.Fault{Kind: sftest.FaultDropResponse, Path: "/services/oauth2/token", Times: 1})
	_, err := c.Describe(context.Background(), "Account")
	require.ErrorIs(t, err, ErrLogin)
	_, err = c.Describe(context.Background(), "Account")
	require.NoError(t, err)
}

func TestErrorsHoldNoToken(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv)
	_, err := c.Describe(context.Background(), "Account")
	require.NoError(t, err)
	tok := c.tok.token
	srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Status: 400, Path: "/describe"})
	_, err = c.Describe(context.Background(), "Contact")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), tok)
	assert.False(t, strings.Contains(fmt.Sprintf("%+v", err), tok))
	assert.False(t, errors.Is(err, ErrLogin))
}

// Records REST answered with UNABLE_TO_LOCK_ROW were not written; they go
// again in later calls.
func TestRESTLockRetries(t *testing.T) {
	srv := emulator(t)
	s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", fastOptions(APIREST))
	srv.LockRows(0.3, 11)
	srv.ResetRequests()
	res := write(t, s, nameRecs(300, "K"))
	failed := 0
	for _, r := range res {
		if r.Err != nil {
			assert.Equal(t, "UNABLE_TO_LOCK_ROW", r.Err.Code)
			failed++
		}
	}
	assert.Less(t, failed, 40)
	assert.Len(t, live(srv, "Account"), 300-failed)
	assert.Greater(t, countRequests(srv, "PATCH", "/composite/sobjects"), 2, "later calls carried the locked records")

	srv.LockRows(1, 11)
	c := emuClient(t, srv)
	stop := errors.New("stop")
	c.sleep = func(context.Context, time.Duration) error { return stop }
	waiting := emuSink(t, c, "Account", Insert, "", fastOptions(APIREST))
	res, err := waiting.Write(context.Background(), nameRecs(1, "W"))
	require.NoError(t, err, "a retry round that cannot wait leaves the locked records failed")
	assert.Equal(t, "UNABLE_TO_LOCK_ROW", res[0].Err.Code)

	// A login that fails during the retry round ends the Write.
	c2 := emuClient(t, srv)
	c2.sleep = func(context.Context, time.Duration) error {
		c2.loginErr, c2.tok = &loginError{errors.New("gone")}, nil
		return nil
	}
	failing := emuSink(t, c2, "Account", Insert, "", fastOptions(APIREST))
	_, err = failing.Write(context.Background(), nameRecs(1, "F"))
	assert.ErrorIs(t, err, ErrLogin)
}

// A delete whose answer cannot be read is not resent either.
func TestDeleteOutcomeUnknown(t *testing.T) {
	srv := emulator(t)
	id := seed(t, srv, "Account", map[string]any{"Name": "x"})
	s := emuSink(t, emuClient(t, srv), "Account", Delete, "", fastOptions(APIREST))
	srv.Fault(sftest.Fault{Kind: sftest.FaultMalformed, Method: "DELETE", Times: 1})
	res := write(t, s, recs(sink.NewLayout([]string{"Id"}, nil), []any{id}))
	require.NotNil(t, res[0].Err)
	assert.Equal(t, CodeOutcomeUnknown, res[0].Err.Code)
	assert.Empty(t, live(srv, "Account"), "the delete was applied")
	assert.Equal(t, 1, countRequests(srv, "DELETE", "/composite/sobjects"))
}
