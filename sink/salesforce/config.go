package salesforce

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/retl-go/retl/config"
)

// Auth names how the client obtains its access token.
type Auth string

// The supported authentication flows.
const (
	// AuthJWT is the OAuth 2.0 JWT bearer flow (a connected app and a private key).
	AuthJWT Auth = "jwt"
	// AuthClientCredentials is the OAuth 2.0 client credentials flow.
	AuthClientCredentials Auth = "client_credentials"
	// AuthPassword is the OAuth 2.0 username-password flow.
	AuthPassword Auth = "password"
	// AuthSOAP is the legacy SOAP login() call, which Salesforce retires in Summer '27.
	AuthSOAP Auth = "soap"
)

// connConfig is a salesforce connection from the project file.
type connConfig struct {
	// LoginURL is where tokens are requested: https://login.salesforce.com
	// (the default), https://test.salesforce.com or a My Domain URL.
	LoginURL string `yaml:"login_url"`
	// InstanceURL, when set, is used for API calls instead of the instance
	// URL the login answers with.
	InstanceURL string `yaml:"instance_url"`
	// APIVersion is the REST API version without "v" (default "62.0").
	APIVersion string `yaml:"api_version"`
	Auth       Auth   `yaml:"auth"`
	// Audience is the JWT "aud" claim; by default it follows LoginURL
	// (https://test.salesforce.com for sandboxes, https://login.salesforce.com otherwise).
	Audience       string `yaml:"audience"`
	ClientID       string `yaml:"client_id"`
	ClientSecret   string `yaml:"client_secret"`
	Username       string `yaml:"username"`
	Password       string `yaml:"password"`
	SecurityToken  string `yaml:"security_token"`
	PrivateKey     string `yaml:"private_key"`
	PrivateKeyFile string `yaml:"private_key_file"`
	// Timeout bounds each HTTP request (default 2m).
	Timeout time.Duration `yaml:"timeout"`
	// MaxRetries bounds the retries of one request: nil for the default
	// (5), 0 for none.
	MaxRetries *int `yaml:"max_retries"`
	// RetryMaxWait bounds the total time one request spends waiting between retries (default 1m).
	RetryMaxWait time.Duration `yaml:"retry_max_wait"`
	// RetryRateLimit retries requests answered 403 REQUEST_LIMIT_EXCEEDED.
	// Off by default: the daily limit does not recover within a run.
	RetryRateLimit bool `yaml:"retry_rate_limit"`

	// maxRetries is MaxRetries resolved by normalize.
	maxRetries int
	// retryBase is the first backoff step; tests shorten it.
	retryBase time.Duration
}

// Defaults.
const (
	DefaultLoginURL   = "https://login.salesforce.com"
	DefaultAPIVersion = "62.0"
	defaultTimeout    = 2 * time.Minute
	defaultRetries    = 5
	defaultRetryWait  = time.Minute
	defaultRetryBase  = 500 * time.Millisecond
	defaultRetryCap   = 10 * time.Second
)

var apiVersionRe = regexp.MustCompile(`^[0-9]{2,3}\.0$`)

// parseConnConfig decodes a connection's section strictly and checks it.
func parseConnConfig(c *config.Connection) (connConfig, error) {
	cfg, err := decodeConnection(c)
	if err != nil {
		return cfg, err
	}
	if err := cfg.normalize(); err != nil {
		return cfg, atKey(c.Section, err)
	}
	return cfg, nil
}

// Int returns a pointer to n, for the options that tell a value set from
// one left out (LockRetries, APIBudget).
func Int(n int) *int { return &n }

// keyError is a value that does not pass its check: the factory places it
// at its key in the file (config.Section.ErrorAt).
type keyError struct{ key, msg string }

func (e *keyError) Error() string      { return label + e.msg }
func (e *keyError) unlabelled() string { return e.msg }

func keyErrorf(key, format string, args ...any) error {
	return &keyError{key: key, msg: fmt.Sprintf(format, args...)}
}

// atKey returns a keyError as the *config.Error at its key in s, so that
// the message starts with the file, line and key; other errors as they are.
func atKey(s config.Section, err error) error {
	if ke, ok := err.(*keyError); ok {
		return s.ErrorAt(ke.key, ke.msg)
	}
	return err
}

// decodeConnection decodes a connection's keys strictly, without checking
// their values.
func decodeConnection(c *config.Connection) (connConfig, error) {
	var cfg connConfig
	if c == nil {
		return cfg, newError("the destination names no connection")
	}
	if c.Type != "" && c.Type != "salesforce" {
		return cfg, errorf("connection %q is of type %q, not salesforce", c.Name, c.Type)
	}
	if err := decodeSection(c.Section, &cfg); err != nil {
		return cfg, err // a *config.Error: file, line and key
	}
	return cfg, nil
}

// normalize fills defaults and checks the combination of keys. It never
// puts a secret value into an error.
func (c *connConfig) normalize() error {
	if c.LoginURL == "" {
		c.LoginURL = DefaultLoginURL
	}
	c.LoginURL = strings.TrimRight(c.LoginURL, "/")
	if err := checkURL("login_url", c.LoginURL); err != nil {
		return err
	}
	if c.InstanceURL != "" {
		c.InstanceURL = strings.TrimRight(c.InstanceURL, "/")
		if err := checkURL("instance_url", c.InstanceURL); err != nil {
			return err
		}
	}
	if c.APIVersion == "" {
		c.APIVersion = DefaultAPIVersion
	}
	c.APIVersion = strings.TrimPrefix(c.APIVersion, "v")
	if !apiVersionRe.MatchString(c.APIVersion) {
		return keyErrorf("api_version", "api_version %q: want a version such as %q", c.APIVersion, DefaultAPIVersion)
	}
	for _, n := range []struct {
		key string
		bad bool
	}{{"timeout", c.Timeout < 0}, {"max_retries", c.MaxRetries != nil && *c.MaxRetries < 0}, {"retry_max_wait", c.RetryMaxWait < 0}} {
		if n.bad {
			return keyErrorf(n.key, "%s must not be negative", n.key)
		}
	}
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	c.maxRetries = defaultRetries
	if c.MaxRetries != nil {
		c.maxRetries = *c.MaxRetries
	}
	if c.RetryMaxWait == 0 {
		c.RetryMaxWait = defaultRetryWait
	}
	if c.retryBase == 0 {
		c.retryBase = defaultRetryBase
	}
	need := func(keys ...string) error {
		vals := map[string]string{
			"client_id": c.ClientID, "client_secret": c.ClientSecret,
			"username": c.Username, "password": c.Password,
		}
		var missing []string
		for _, k := range keys {
			if vals[k] == "" {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return keyErrorf("auth", "auth %s needs %s", c.Auth, strings.Join(missing, ", "))
		}
		return nil
	}
	switch c.Auth {
	case AuthJWT:
		if err := need("client_id", "username"); err != nil {
			return err
		}
		if (c.PrivateKey == "") == (c.PrivateKeyFile == "") {
			return keyErrorf("auth", "auth jwt needs exactly one of private_key and private_key_file")
		}
	case AuthClientCredentials:
		return need("client_id", "client_secret")
	case AuthPassword:
		return need("client_id", "client_secret", "username", "password")
	case AuthSOAP:
		return need("username", "password")
	case "":
		return keyErrorf("auth", "auth is required: jwt, client_credentials, password or soap")
	default:
		return keyErrorf("auth", "auth %q: want jwt, client_credentials, password or soap", c.Auth)
	}
	return nil
}

// checkURL accepts https URLs, and http only for loopback hosts, where the
// emulator runs: a token must never travel in clear text over a network.
func checkURL(key, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return keyErrorf(key, "%s %q is not an absolute URL", key, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return keyErrorf(key, "%s %q: http is allowed only for loopback hosts; use https", key, raw)
	default:
		return keyErrorf(key, "%s %q: want an https URL", key, raw)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// audience picks the JWT "aud" claim: Salesforce wants the generic login
// host of the environment, not a My Domain host; any other host (the
// emulator, an Experience Cloud site) gets its own URL.
func (c *connConfig) audience() string {
	if c.Audience != "" {
		return c.Audience
	}
	u, err := url.Parse(c.LoginURL)
	if err != nil {
		return c.LoginURL
	}
	h := strings.ToLower(u.Hostname())
	switch {
	case h == "test.salesforce.com" || strings.HasSuffix(h, ".sandbox.my.salesforce.com"):
		return "https://test.salesforce.com"
	case h == "login.salesforce.com" || strings.HasSuffix(h, ".my.salesforce.com"):
		return "https://login.salesforce.com"
	}
	return c.LoginURL
}

// privateKeyFile reads private_key_file; an inline key is parsed when the
// client is built.
func (c *connConfig) privateKeyFile() ([]byte, error) {
	b, err := os.ReadFile(c.PrivateKeyFile)
	if err != nil {
		// The path is not a secret; the error from os carries only the path.
		return nil, errorf("private_key_file: %w", err)
	}
	return b, nil
}

// secrets lists the values that must never appear in an error or a log.
func (c *connConfig) secrets() []string {
	var out []string
	for _, s := range []string{c.ClientSecret, c.Password, c.SecurityToken, c.PrivateKey, c.Password + c.SecurityToken} {
		if len(s) >= 3 {
			out = append(out, s)
		}
	}
	return out
}

// API choices for a destination.
const (
	APIBulk = "bulk"
	APIREST = "rest"
	APIAuto = "auto"
)

// Options are the keys of a sync's destination section that the salesforce
// sink reads besides type, connection, object, operation and match_on.
type Options struct {
	// API is bulk (default), rest, or auto: REST below AutoThreshold records.
	API string `yaml:"api"`
	// AutoThreshold is the record count from which auto uses Bulk (default 2000).
	AutoThreshold int `yaml:"auto_threshold"`
	// BulkBatchSize is the most records one Bulk job holds (default 30000).
	// It is also the records per Write: a sync holds about 2 KB of memory
	// per record of each job in flight.
	BulkBatchSize int `yaml:"bulk_batch_size"`
	// MaxJobsInFlight bounds the Bulk jobs open at once (default 2).
	MaxJobsInFlight int `yaml:"max_jobs_in_flight"`
	// RESTConcurrency bounds the REST calls in flight at once (default 4).
	RESTConcurrency int `yaml:"rest_concurrency"`
	// PollMaxWait is the longest pause between two polls of a Bulk job (default 5s).
	PollMaxWait time.Duration `yaml:"poll_max_wait"`
	// LockRetries is how many later jobs (or REST calls) retry records that
	// failed with UNABLE_TO_LOCK_ROW: nil for the default (2), 0 for none.
	LockRetries *int `yaml:"lock_retries"`
	// MaxUploadBytes bounds one Bulk job's CSV upload (default 100 MB). It
	// cannot exceed MaxUploadLimit, the most Salesforce takes.
	MaxUploadBytes int64 `yaml:"max_upload_bytes"`
	// APIBudget bounds the API calls one run of the sync makes (nil: no
	// bound; a bound is at least 1). Once they are spent no new Bulk job or
	// REST call starts, and the records left fail with RETL_API_BUDGET;
	// work already started finishes, so its calls can overrun the budget a
	// little.
	APIBudget *int `yaml:"api_budget"`
	// GzipUploads sends Bulk uploads gzip-compressed (Content-Encoding:
	// gzip); off by default.
	GzipUploads bool `yaml:"gzip_uploads"`
	// OnNotFound is what an update or delete whose match_on value matches
	// no record gets: skip (default) or fail.
	OnNotFound string `yaml:"on_not_found"`
	// MaxDeletes bounds the records one run deletes, or acts on through
	// on_removed: a count, or a percentage of the object's records.
	MaxDeletes DeleteLimit `yaml:"max_deletes"`
	// GroupBy names a field, such as AccountId or Account.External_Id__c,
	// whose records go to one Bulk job together.
	GroupBy string `yaml:"group_by"`
	// Serial runs one Bulk job, or one REST call, at a time.
	Serial bool `yaml:"serial"`
	// OnDuplicateKey is what a record gets whose key an earlier record of
	// the sync has: fail (default, RETL_DUPLICATE_KEY) or skip. The first
	// record with a key is written either way.
	OnDuplicateKey string `yaml:"on_duplicate_key"`
	// AssignmentRule runs Salesforce's assignment rules on the records a
	// Lead or Case sync saves: "default" for the object's active rule, or
	// a rule's Id. Unset, no rule runs, through Bulk and REST alike.
	AssignmentRule string `yaml:"assignment_rule"`
	// PredictRejects fails, without sending them, the records Salesforce
	// would refuse for what the object's describe tells (lengths, emails,
	// restricted picklists, number precision, required fields). On
	// unless set to false.
	PredictRejects *bool `yaml:"predict_rejects"`
	// OnlyIfDifferent, for update and upsert, reads the current values of
	// the mapped fields before writing, sends only the fields whose value
	// differs and does not send a record Salesforce already holds as is,
	// so no Flow or trigger fires for it.
	OnlyIfDifferent bool `yaml:"only_if_different"`
	// Verify reads back, by Id, the records a write saved and compares
	// what Salesforce stored with what was sent: a field a trigger, Flow
	// or rounding changed is listed in the record's result (Altered).
	Verify bool `yaml:"verify"`
	// OnAltered is what verify does with an altered record: report
	// (default; it stays written) or fail (it fails RETL_ALTERED).
	OnAltered string `yaml:"on_altered"`
	// KeepHumanEdits, for update and upsert, overwrites a field only while
	// it still holds the value the sync last wrote there (see edits.go).
	KeepHumanEdits bool `yaml:"keep_human_edits"`
	// KeepPriorValues, for update and upsert, reads the current values of
	// the fields a batch sends before writing it and keeps those the write
	// changed, so that the run can be undone (see prior.go).
	KeepPriorValues bool `yaml:"keep_prior_values"`

	// lockRetries is LockRetries resolved by normalize.
	lockRetries int
	// pollStart is the first pause between polls; tests shorten it.
	pollStart time.Duration
	// lockBackoff is the pause before a lock retry job.
	lockBackoff time.Duration
}

const (
	defaultAutoThreshold = 2000
	// defaultBulkBatch keeps a sync of any size near 120 MB with two jobs
	// in flight (examples/bench), in a multiple of the 10,000-record batches that
	// Salesforce splits Bulk API 2.0 jobs into (and counts against the
	// daily batch limit).
	defaultBulkBatch    = 30_000
	defaultJobsInFlight = 2
	defaultRESTConc     = 4
	defaultPollMaxWait  = 5 * time.Second
	defaultPollStart    = 250 * time.Millisecond
	defaultLockRetries  = 2
	defaultMaxUpload    = 100 << 20
	// MaxUploadLimit is the largest CSV one Bulk API 2.0 upload may hold:
	// Salesforce takes 150 MB once base64-encoded (Upload Job Data), and
	// base64 makes 4 bytes of every 3.
	MaxUploadLimit     = (150 << 20) / 4 * 3
	defaultLockBackoff = time.Second
	// restBatch is the sObject Collections limit.
	restBatch = 200
)

func (o *Options) normalize() error {
	switch o.API {
	case "":
		o.API = APIBulk
	case APIBulk, APIREST, APIAuto:
	default:
		return keyErrorf("api", "api %q: want bulk, rest or auto", o.API)
	}
	for _, n := range []struct {
		key string
		bad bool
	}{
		{"auto_threshold", o.AutoThreshold < 0}, {"bulk_batch_size", o.BulkBatchSize < 0},
		{"max_jobs_in_flight", o.MaxJobsInFlight < 0}, {"rest_concurrency", o.RESTConcurrency < 0},
		{"poll_max_wait", o.PollMaxWait < 0}, {"lock_retries", o.LockRetries != nil && *o.LockRetries < 0},
		{"max_upload_bytes", o.MaxUploadBytes < 0}, {"api_budget", o.APIBudget != nil && *o.APIBudget < 0},
	} {
		if n.bad {
			return keyErrorf(n.key, "%s must not be negative", n.key)
		}
	}
	if o.APIBudget != nil && *o.APIBudget == 0 {
		return keyErrorf("api_budget", "api_budget 0 would allow no API call: leave it out for no bound")
	}
	def := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	def(&o.AutoThreshold, defaultAutoThreshold)
	def(&o.BulkBatchSize, defaultBulkBatch)
	if o.Serial && (o.MaxJobsInFlight > 1 || o.RESTConcurrency > 1) {
		// Contradictory, not redundant: which one was meant?
		return keyErrorf("serial", "serial runs one Bulk job or REST call at a time, but max_jobs_in_flight or rest_concurrency asks for more: keep one of them")
	}
	def(&o.MaxJobsInFlight, defaultJobsInFlight)
	def(&o.RESTConcurrency, defaultRESTConc)
	if o.Serial {
		o.MaxJobsInFlight, o.RESTConcurrency = 1, 1
	}
	switch o.OnNotFound {
	case "":
		o.OnNotFound = NotFoundSkip
	case NotFoundSkip, NotFoundFail:
	default:
		return keyErrorf("on_not_found", "on_not_found %q: want skip or fail", o.OnNotFound)
	}
	if o.GroupBy != "" && !isFieldPath(o.GroupBy) {
		return keyErrorf("group_by", "group_by %q is not a field name", o.GroupBy)
	}
	o.lockRetries = defaultLockRetries
	if o.LockRetries != nil {
		o.lockRetries = *o.LockRetries
	}
	if o.PollMaxWait == 0 {
		o.PollMaxWait = defaultPollMaxWait
	}
	if o.pollStart == 0 {
		o.pollStart = min(defaultPollStart, o.PollMaxWait)
	}
	if o.MaxUploadBytes == 0 {
		o.MaxUploadBytes = defaultMaxUpload
	}
	if o.MaxUploadBytes > MaxUploadLimit {
		return keyErrorf("max_upload_bytes", "max_upload_bytes %d is above %d, the most CSV Salesforce takes in one upload (150 MB once base64-encoded)", o.MaxUploadBytes, MaxUploadLimit)
	}
	if o.lockBackoff == 0 {
		o.lockBackoff = defaultLockBackoff
	}
	return nil
}

// decodeSection decodes a YAML section strictly; the config package owns
// the decoding, so errors keep their file, line and key.
func decodeSection(s config.Section, v any) error { return s.Decode(v) }
