package salesforce

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// apiClient talks to one Salesforce org: it logs in once, shares its token
// among all callers, refreshes it once when a session expires, and retries
// what is safe to retry. It is safe for concurrent use; a run shares one
// apiClient per connection.
type apiClient struct {
	cfg  connConfig
	http *http.Client
	log  *slog.Logger
	auth authenticator

	// lock guards tok and loginErr; a channel so that waiting honours ctx.
	lock     chan struct{}
	tok      *session
	loginErr error

	describeMu sync.Mutex
	describes  map[string]*objectDescribe
	rtypes     recordTypeCache
	rtPicks    rtPicklistCache

	// sleep waits between retries; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
	// soapWarned makes the SOAP deprecation warning appear once per client.
	soapWarned atomic.Bool
	// apiUsed and apiMax are the latest Sforce-Limit-Info usage.
	apiUsed, apiMax atomic.Int64
}

type session struct {
	token       string
	instanceURL string
}

// clientOption tunes a Client for embedding code.
type clientOption func(*apiClient)

// withHTTPClient replaces the HTTP client. Its transport must keep TLS
// verification on; the client's Timeout is left as given.
func withHTTPClient(h *http.Client) clientOption { return func(c *apiClient) { c.http = h } }

// withLogger sets the logger (default slog.Default()).
func withLogger(l *slog.Logger) clientOption { return func(c *apiClient) { c.log = l } }

// newAPIClient returns a client for cfg. It does no I/O: the first call logs in.
// cfg is checked and completed with defaults as parseConnConfig does.
func newAPIClient(cfg connConfig, opts ...clientOption) (*apiClient, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	c := &apiClient{
		cfg:       cfg,
		lock:      make(chan struct{}, 1),
		describes: map[string]*objectDescribe{},
		sleep:     sleepCtx,
	}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		c.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	a, err := newAuthenticator(c)
	if err != nil {
		return nil, err
	}
	c.auth = a
	return c, nil
}

// Close releases idle connections.
func (c *apiClient) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// APIVersion is the REST API version the client uses, such as "62.0".
func (c *apiClient) APIVersion() string { return c.cfg.APIVersion }

func (c *apiClient) dataPath(parts ...string) string {
	return "/services/data/v" + c.cfg.APIVersion + "/" + strings.Join(parts, "/")
}

func (c *apiClient) acquire(ctx context.Context) error {
	select {
	case c.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *apiClient) release() { <-c.lock }

// current returns the session, logging in if there is none yet. Concurrent
// callers wait for one login.
func (c *apiClient) current(ctx context.Context) (*session, error) {
	if err := c.acquire(ctx); err != nil {
		return nil, err
	}
	defer c.release()
	if c.tok != nil {
		return c.tok, nil
	}
	return c.loginLocked(ctx)
}

// refresh replaces stale with a new session; when another caller already
// did, it returns theirs, so concurrent requests that all meet the expiry
// cause one login.
func (c *apiClient) refresh(ctx context.Context, stale *session) (*session, error) {
	if err := c.acquire(ctx); err != nil {
		return nil, err
	}
	defer c.release()
	if c.tok != nil && c.tok != stale {
		return c.tok, nil
	}
	c.tok = nil
	return c.loginLocked(ctx)
}

func (c *apiClient) loginLocked(ctx context.Context) (*session, error) {
	if c.loginErr != nil {
		// A rejected login is not repeated: repeating it could lock the user out.
		return nil, c.loginErr
	}
	s, err := c.auth.login(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		err = &loginError{scrubError(err, c.cfg.secrets())}
		var ae *APIError
		if errors.As(err, &ae) && (ae.StatusCode >= 400 && ae.StatusCode < 500 || permanent(ae.Code)) {
			ae.Message = scrub(ae.Message, c.cfg.secrets())
			c.loginErr = err
		}
		return nil, err
	}
	if c.cfg.InstanceURL != "" {
		s.instanceURL = c.cfg.InstanceURL
	}
	s.instanceURL = strings.TrimRight(s.instanceURL, "/")
	if err := checkURL("instance URL", s.instanceURL); err != nil {
		return nil, &loginError{errorf("login answered with an unusable %w", err)}
	}
	c.tok = s
	return s, nil
}

// ErrLogin is wrapped by every error of a failed login.
var ErrLogin = newError("login failed")

type loginError struct{ err error }

func (e *loginError) Error() string        { return e.err.Error() }
func (e *loginError) unlabelled() string   { return unlabelledText(e.err) }
func (e *loginError) Unwrap() error        { return e.err }
func (e *loginError) Is(target error) bool { return target == ErrLogin }

// request is one API call, relative to the instance URL.
type request struct {
	method string
	path   string // begins with /services/
	query  url.Values
	body   []byte
	ctype  string
	accept string
	header http.Header
	// idempotent: sending it twice has the effect of sending it once, so a
	// lost answer may be retried.
	idempotent bool
	// single: never resend, not even on 503; a failure whose effect is
	// unknown wraps ErrOutcomeUnknown so the caller can start over another
	// way (a Bulk upload, which a job accepts only once).
	single bool
	// base, when set, is the absolute URL the path is relative to, and the
	// request carries no session (a login).
	base string
	// timeout, when longer than the client's, bounds this request instead
	// (a large upload).
	timeout time.Duration
	// read, when set, consumes the body of a 2xx answer as it arrives, so
	// a large answer (a Bulk result file) is never held whole. On error it
	// must leave no trace, since an idempotent request is sent again; an
	// error wrapped in finalError is returned at once instead.
	read func(io.Reader) error
}

// finalError wraps an error of a request's read function that sending the
// request again would not mend here, such as an answer that does not parse.
type finalError struct{ error }

func (e finalError) Unwrap() error { return e.error }

type response struct {
	status int
	header http.Header
	body   []byte
}

type callCounterKey struct{}

// withCallCounter makes every HTTP request made under ctx count into n.
func withCallCounter(ctx context.Context, n *atomic.Int64) context.Context {
	return context.WithValue(ctx, callCounterKey{}, n)
}

type budgetKey struct{}

// apiBudget is a run's api_budget: at most limit API calls, counted by the
// call counter of the same context.
type apiBudget struct {
	limit int64
	// refused counts the requests refused because the budget was spent.
	refused atomic.Int64
}

// withBudget makes the requests made under ctx keep within b; a nil b or
// a zero limit is no budget.
func withBudget(ctx context.Context, b *apiBudget) context.Context {
	if b == nil || b.limit <= 0 {
		return ctx
	}
	return context.WithValue(ctx, budgetKey{}, b)
}

// ErrAPIBudget is wrapped by the error of a request refused because the
// run's api_budget is spent.
var ErrAPIBudget = errors.New("the run's api_budget is spent")

// checkBudget refuses a request that would start new work once the
// budget's calls are spent. The calls of work already started (a Bulk
// job's upload, state, polls and results) go on, so that no record's
// outcome is lost: the budget can be overrun by those.
func checkBudget(ctx context.Context, r *request) error {
	b, ok := ctx.Value(budgetKey{}).(*apiBudget)
	if !ok || r.base != "" || strings.Contains(r.path, "/jobs/ingest/") {
		return nil
	}
	n, _ := ctx.Value(callCounterKey{}).(*atomic.Int64)
	if n == nil || n.Load() < b.limit {
		return nil
	}
	b.refused.Add(1)
	return errorf("%s %s: %w (%d API calls)", r.method, r.path, ErrAPIBudget, b.limit)
}

func countCall(ctx context.Context) {
	if n, ok := ctx.Value(callCounterKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
}

// do sends r with the session token. It refreshes the session once on 401
// and retries with backoff, within max_retries and retry_max_wait:
//   - 5xx answers and network errors, when r is idempotent;
//   - 503 and dial errors always (the request was not processed);
//   - 403 REQUEST_LIMIT_EXCEEDED when retry_rate_limit is on (rejected unprocessed).
//
// A non-idempotent request whose answer is lost fails with an error
// wrapping ErrOutcomeUnknown, never a resend.
func (c *apiClient) do(ctx context.Context, r *request) (*response, error) {
	start := time.Now()
	refreshed := false
	var sess *session
	var err error
	for attempt := 0; ; attempt++ {
		if err := checkBudget(ctx, r); err != nil {
			return nil, err
		}
		if sess == nil && r.base == "" {
			if sess, err = c.current(ctx); err != nil {
				return nil, err
			}
		}
		resp, sendErr := c.send(ctx, sess, r)
		if sendErr == nil {
			c.noteLimitInfo(resp.header)
		}
		var last error
		retry := false
		var wait time.Duration
		switch {
		case sendErr != nil:
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if fe, ok := sendErr.(finalError); ok {
				return nil, fe.error
			}
			last = sendErr
			switch {
			case r.idempotent && !r.single || notSent(sendErr):
				retry = true
			default:
				return nil, errorf("%s %s: %w: %w", r.method, r.path, ErrOutcomeUnknown, sendErr)
			}
		case resp.status >= 200 && resp.status < 300:
			return resp, nil
		default:
			ae := parseAPIError(resp.status, resp.body, r.method, r.path)
			last = ae
			switch {
			case resp.status == http.StatusUnauthorized && !refreshed && r.base == "":
				refreshed = true
				if sess, err = c.refresh(ctx, sess); err != nil {
					return nil, err
				}
				attempt-- // a refresh is not a retry
				continue
			case resp.status == http.StatusServiceUnavailable && !r.single:
				retry = true
			case resp.status >= 500 && permanent(ae.Code):
				// A SOAP fault such as INVALID_LOGIN comes as a 500; asking
				// again cannot help and could lock the user out.
			case resp.status >= 500:
				if !r.idempotent || r.single {
					return nil, errorf("%w: %w", ErrOutcomeUnknown, ae)
				}
				retry = true
			case resp.status == http.StatusForbidden && ae.Code == codeRequestLimit:
				le := newLimitError(ae, resp.header)
				last = le
				// The concurrent limit passes once long requests end;
				// the daily one does not for hours.
				retry = le.Limit == LimitConcurrent || c.cfg.RetryRateLimit
			case resp.status == http.StatusTooManyRequests:
				retry = true
			}
			wait = retryAfter(resp.header)
		}
		if !retry {
			return nil, last
		}
		if attempt >= c.cfg.maxRetries {
			return nil, errorf("after %d attempts: %w", attempt+1, last)
		}
		if wait == 0 {
			wait = backoff(c.cfg.retryBase, attempt)
		}
		if time.Since(start)+wait > c.cfg.RetryMaxWait {
			return nil, errorf("after %d attempts in %s: %w", attempt+1, time.Since(start).Round(time.Millisecond), last)
		}
		c.log.Debug("salesforce: retrying", "method", r.method, "path", r.path, "attempt", attempt+1, "wait", wait, "error", last)
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// codeRequestLimit is Salesforce's code for both request limits.
const codeRequestLimit = "REQUEST_LIMIT_EXCEEDED"

// Limits a REQUEST_LIMIT_EXCEEDED answer can mean ("API Request Limits and
// Allocations").
const (
	// LimitConcurrent: too many long-running requests at once; passes in
	// seconds.
	LimitConcurrent = "ConcurrentRequests"
	// LimitDaily: the org's rolling 24-hour request allocation is spent.
	LimitDaily = "TotalRequests"
)

// LimitError is a 403 REQUEST_LIMIT_EXCEEDED answer, with the limit it
// means. It unwraps to the APIError.
type LimitError struct {
	*APIError
	// Limit is LimitConcurrent or LimitDaily.
	Limit string
	// Used and Max are the org's API usage from Sforce-Limit-Info, 0 if
	// the answer had none.
	Used, Max int
}

func (e *LimitError) Unwrap() error { return e.APIError }

// newLimitError tells the two limits apart. The usage header decides when
// present: usage at or over the allocation is the daily limit, anything
// else the concurrent one. Without it, the limit's name, which leads
// Salesforce's message for each, does.
func newLimitError(ae *APIError, h http.Header) *LimitError {
	le := &LimitError{APIError: ae, Limit: LimitDaily}
	if used, max, ok := parseLimitInfo(h); ok {
		le.Used, le.Max = used, max
		if used < max {
			le.Limit = LimitConcurrent
		}
		return le
	}
	if name, _, _ := strings.Cut(ae.Message, " "); name == LimitConcurrent {
		le.Limit = LimitConcurrent
	}
	return le
}

// parseLimitInfo reads "api-usage=N/M" from a Sforce-Limit-Info header,
// which may carry other entries separated by commas.
func parseLimitInfo(h http.Header) (used, max int, ok bool) {
	for _, part := range strings.Split(h.Get("Sforce-Limit-Info"), ",") {
		v, found := strings.CutPrefix(strings.TrimSpace(part), "api-usage=")
		if !found {
			continue
		}
		a, b, found := strings.Cut(v, "/")
		u, err1 := strconv.Atoi(a)
		m, err2 := strconv.Atoi(b)
		if found && err1 == nil && err2 == nil && m > 0 {
			return u, m, true
		}
	}
	return 0, 0, false
}

// noteLimitInfo keeps the org's latest API usage.
func (c *apiClient) noteLimitInfo(h http.Header) {
	if used, max, ok := parseLimitInfo(h); ok {
		c.apiUsed.Store(int64(used))
		c.apiMax.Store(int64(max))
	}
}

// APIUsage is the org's API usage and daily allocation as the latest
// answer's Sforce-Limit-Info header gave them; ok is false before any.
func (c *apiClient) APIUsage() (used, max int, ok bool) {
	m := c.apiMax.Load()
	return int(c.apiUsed.Load()), int(m), m > 0
}

// send makes one HTTP attempt. Answers of any status are a response;
// only transport failures are errors.
func (c *apiClient) send(ctx context.Context, s *session, r *request) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, max(c.cfg.Timeout, r.timeout))
	defer cancel()
	var u string
	if r.base != "" {
		u = r.base + r.path
	} else {
		u = s.instanceURL + r.path
	}
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, errorf("%s %s: %w", r.method, r.path, err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.base == "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	accept := r.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	countCall(ctx)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, cleanURLError(err)
	}
	defer resp.Body.Close()
	if r.read != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if err := r.read(resp.Body); err != nil {
			if _, ok := err.(finalError); ok {
				return nil, err
			}
			// As with a cut body below: for a write, the outcome is unknown.
			return nil, errorf("%s %s: reading the answer: %w", r.method, r.path, err)
		}
		return &response{status: resp.StatusCode, header: resp.Header}, nil
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		// The server answered but the body was cut: for a write, the outcome is unknown.
		return nil, errorf("%s %s: reading the answer: %w", r.method, r.path, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// cleanURLError drops the URL that net/http puts into its errors: it holds
// the query (SOQL with record values), which does not belong in logs.
func cleanURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return errorf("%s %s: %w", ue.Op, pathOnly(ue.URL), ue.Err)
	}
	return err
}

func pathOnly(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Path
}

// permanent reports whether an error code says the request itself is
// wrong (a bad login, an unsupported version), whatever its HTTP status.
func permanent(code string) bool {
	switch {
	case strings.HasPrefix(code, "INVALID_"), strings.HasPrefix(code, "LOGIN_"),
		code == "PASSWORD_LOCKOUT", code == "API_DISABLED_FOR_ORG", code == "UNSUPPORTED_API_VERSION":
		return true
	}
	return false
}

// notSent reports whether a transport error proves the request never
// reached the server, so that even a non-idempotent request may be resent.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// backoff is exponential with jitter: a random wait in [d/2, d] where d
// doubles from base up to a cap, so clients that failed together spread out.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base << min(attempt, 20)
	if d <= 0 || d > defaultRetryCap {
		d = defaultRetryCap
	}
	half := d / 2
	return half + rand.N(half+1)
}

// retryAfter reads a Retry-After header in seconds, capped.
func retryAfter(h http.Header) time.Duration {
	s := h.Get("Retry-After")
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return min(time.Duration(n)*time.Second, defaultRetryCap)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
