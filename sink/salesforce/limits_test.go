package salesforce

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// REQUEST_LIMIT_EXCEEDED for the concurrent limit is retried whatever
// retry_rate_limit says; for the daily limit only with it. The client
// keeps the org's usage from Sforce-Limit-Info.
func TestRequestLimits(t *testing.T) {
	ctx := context.Background()
	t.Run("concurrent is retried", func(t *testing.T) {
		srv := emulator(t)
		c := emuClient(t, srv)
		srv.Fault(sftest.Fault{Kind: sftest.FaultConcurrentLimit, Path: "/composite/sobjects", Times: 2})
		s := emuSink(t, c, "Account", Upsert, "External_Id__c", fastOptions(APIREST))
		requireOK(t, write(t, s, nameRecs(3, "C")))
		assert.Equal(t, 3, countRequests(srv, "PATCH", "/composite/sobjects"), "two refusals, then the call")
		used, max, ok := c.APIUsage()
		require.True(t, ok)
		assert.Equal(t, 100_000, max)
		assert.Equal(t, srv.APICalls(), used)
		assert.Equal(t, "3/100000", s.Stats().Notes["org_api_usage"])
	})
	t.Run("daily is not retried", func(t *testing.T) {
		srv := emulator(t)
		c := emuClient(t, srv)
		srv.Fault(sftest.Fault{Kind: sftest.FaultRateLimit, Path: "/composite/sobjects", Times: 1})
		s := emuSink(t, c, "Account", Upsert, "External_Id__c", fastOptions(APIREST))
		res := write(t, s, nameRecs(3, "D"))
		for _, r := range res {
			require.NotNil(t, r.Err)
			assert.Equal(t, codeRequestLimit, r.Err.Code)
		}
		assert.Equal(t, 1, countRequests(srv, "PATCH", "/composite/sobjects"))
	})
	t.Run("daily with retry_rate_limit", func(t *testing.T) {
		srv := emulator(t)
		c := emuClient(t, srv, func(cfg *connConfig) { cfg.RetryRateLimit = true })
		srv.Fault(sftest.Fault{Kind: sftest.FaultRateLimit, Path: "/composite/sobjects", Times: 1})
		s := emuSink(t, c, "Account", Upsert, "External_Id__c", fastOptions(APIREST))
		requireOK(t, write(t, s, nameRecs(3, "R")))
	})
	t.Run("the error says which limit", func(t *testing.T) {
		srv := emulator(t, sftest.WithAPILimit(3))
		c := emuClient(t, srv, func(cfg *connConfig) { cfg.MaxRetries = Int(0) })
		var err error
		for range 4 {
			if _, err = c.Describe(ctx, "Account"); err != nil {
				break
			}
			c.describes = map[string]*objectDescribe{}
		}
		var le *LimitError
		require.True(t, errors.As(err, &le), "%v", err)
		assert.Equal(t, LimitDaily, le.Limit)
		assert.Equal(t, 3, le.Max)
		var ae *APIError
		assert.True(t, errors.As(err, &ae), "a LimitError is an APIError too")

		srv.ResetRequests()
		srv.Fault(sftest.Fault{Kind: sftest.FaultConcurrentLimit, Times: 1})
		c.describes = map[string]*objectDescribe{}
		_, err = c.Describe(ctx, "Account")
		require.True(t, errors.As(err, &le), "%v", err)
		assert.Equal(t, LimitConcurrent, le.Limit, "given up with no retries")
	})
}

// Without a usage header the limit's name, which leads each message, decides.
func TestLimitErrorWithoutHeader(t *testing.T) {
	for msg, want := range map[string]string{
		"ConcurrentRequests (Concurrent API Requests) Limit exceeded.": LimitConcurrent,
		"TotalRequests Limit exceeded.":                                LimitDaily,
		"":                                                             LimitDaily,
	} {
		le := newLimitError(&APIError{Code: codeRequestLimit, Message: msg}, http.Header{})
		assert.Equal(t, want, le.Limit, msg)
	}
	h := http.Header{"Sforce-Limit-Info": {"per-app-api-usage=1/10(appName=x), api-usage=10/10"}}
	used, max, ok := parseLimitInfo(h)
	assert.True(t, ok)
	assert.Equal(t, []int{10, 10}, []int{used, max})
	assert.Equal(t, LimitDaily, newLimitError(&APIError{Message: "ConcurrentRequests x"}, h).Limit, "the header decides")
	_, _, ok = parseLimitInfo(http.Header{"Sforce-Limit-Info": {"api-usage=x/10"}})
	assert.False(t, ok)
}

// api_budget: once the run's calls are spent no new job or call starts,
// and the records left fail RETL_API_BUDGET; work already started finishes.
func TestAPIBudget(t *testing.T) {
	ctx := context.Background()
	count := func(res []sink.Result) (ok, budget int) {
		for _, r := range res {
			switch {
			case r.Err == nil:
				ok++
			case r.Err.Code == CodeAPIBudget:
				budget++
			default:
				t.Fatalf("unexpected error %v", r.Err)
			}
		}
		return ok, budget
	}
	t.Run("bulk", func(t *testing.T) {
		srv := emulator(t)
		c := emuClient(t, srv)
		_, err := c.Describe(ctx, "Account") // logs in outside the run
		require.NoError(t, err)
		opt := fastOptions(APIBulk)
		opt.BulkBatchSize, opt.MaxJobsInFlight, opt.APIBudget = 100, 1, Int(1)
		s := emuSink(t, c, "Account", Upsert, "External_Id__c", opt)
		ok, budget := count(write(t, s, nameRecs(300, "B")))
		assert.Equal(t, 100, ok, "the one job that started finished")
		assert.Equal(t, 200, budget)
		assert.Equal(t, 1, countRequests(srv, "POST", "/jobs/ingest"))
		st := s.Stats()
		assert.Positive(t, st.Counts["api_budget_refused_calls"], "the budget was spent")
		assert.Equal(t, int64(1), st.Counts["api_budget"])
	})
	t.Run("rest", func(t *testing.T) {
		srv := emulator(t)
		c := emuClient(t, srv)
		_, err := c.Describe(ctx, "Account")
		require.NoError(t, err)
		opt := fastOptions(APIREST)
		opt.Serial, opt.APIBudget = true, Int(2)
		s := emuSink(t, c, "Account", Upsert, "External_Id__c", opt)
		ok, budget := count(write(t, s, nameRecs(1000, "R")))
		assert.Equal(t, 400, ok)
		assert.Equal(t, 600, budget)
		assert.Len(t, byExt(srv, "Account"), 400)
	})
	o := Options{APIBudget: Int(-1)}
	assert.Error(t, o.normalize())
	o = Options{APIBudget: Int(0)}
	assert.EqualError(t, o.normalize(), "salesforce: api_budget 0 would allow no API call: leave it out for no bound")
}
