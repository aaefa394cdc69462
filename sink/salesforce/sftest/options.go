package sftest

import (
	"crypto"
	"errors"
	"time"
)

type config struct {
	username, password     string
	clientID, clientSecret string
	jwtPEM                 []byte
	jwtKey                 crypto.PublicKey
	sessionTTL             time.Duration
	apiLimit               int
	concurrentLimit        int
	longRunning            time.Duration
	queryBatch             int
	jobDelay, recordDelay  time.Duration
	maxUpload              int64
	internalBatch          int
	lockWait               time.Duration
	ordered                bool
	lockContention         bool
	addr                   string
	schemaFiles            []string
	schemaYAML             [][]byte
	objects                []Object
}

func defaultConfig() config {
	return config{
		username: DefaultUsername, password: DefaultPassword,
		clientID: DefaultClientID, clientSecret: DefaultClientSecret,
		sessionTTL:      2 * time.Hour,
		apiLimit:        defaultAPILimit,
		concurrentLimit: 25,
		longRunning:     20 * time.Second,
		queryBatch:      2000,
		maxUpload:       150 * 1024 * 1024,

		internalBatch: defaultInternalBatch,
		lockWait:      10 * time.Second,
	}
}

// Option configures a Server.
type Option func(*config) error

// WithSchemaFile loads objects and fields from a YAML schema file.
func WithSchemaFile(path string) Option {
	return func(c *config) error { c.schemaFiles = append(c.schemaFiles, path); return nil }
}

// WithSchemaYAML loads objects and fields from YAML text.
func WithSchemaYAML(data []byte) Option {
	return func(c *config) error { c.schemaYAML = append(c.schemaYAML, data); return nil }
}

// WithObject declares a custom object or adds custom fields to an object.
func WithObject(obj Object) Option {
	return func(c *config) error { c.objects = append(c.objects, obj); return nil }
}

// WithCredentials replaces the user's username and password.
func WithCredentials(username, password string) Option {
	return func(c *config) error { c.username, c.password = username, password; return nil }
}

// WithClient replaces the connected app's client id and secret.
func WithClient(id, secret string) Option {
	return func(c *config) error { c.clientID, c.clientSecret = id, secret; return nil }
}

// WithJWTPublicKey enables the JWT bearer flow: assertions must be RS256
// signed by the key of this PEM certificate or public key.
func WithJWTPublicKey(pem []byte) Option {
	return func(c *config) error { c.jwtPEM = pem; return nil }
}

// WithSessionTTL sets how long an access token stays valid (default 2h).
func WithSessionTTL(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errors.New("session TTL must be positive")
		}
		c.sessionTTL = d
		return nil
	}
}

// defaultAPILimit is the daily API request allocation: an Enterprise
// Edition org's floor (API Request Limits and Allocations), before the
// allocations its licences add.
const defaultAPILimit = 100_000

// WithAPILimit sets DailyApiRequests.Max (default 100,000, an Enterprise
// org's floor). Requests past it answer 403 REQUEST_LIMIT_EXCEEDED
// "TotalRequests Limit exceeded.".
func WithAPILimit(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return errors.New("API limit must be positive")
		}
		c.apiLimit = n
		return nil
	}
}

// WithConcurrentLimit sets the concurrent long-running request limit:
// while n API requests have each been running for longRunning or longer, a
// new one answers 403 REQUEST_LIMIT_EXCEEDED "ConcurrentRequests
// (Concurrent API Requests) Limit exceeded." (default 25 requests of 20 s,
// a production org's limit). Tests use a small n and a short duration.
func WithConcurrentLimit(n int, longRunning time.Duration) Option {
	return func(c *config) error {
		if n <= 0 || longRunning < 0 {
			return errors.New("concurrent limit must be positive and its duration not negative")
		}
		c.concurrentLimit, c.longRunning = n, longRunning
		return nil
	}
}

// WithQueryBatchSize sets how many records a query page holds (default 2000).
func WithQueryBatchSize(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return errors.New("query batch size must be positive")
		}
		c.queryBatch = n
		return nil
	}
}

// WithBulkDelay slows Bulk API 2.0 processing down so clients have to poll:
// perJob before the first record, perRecord for every record.
func WithBulkDelay(perJob, perRecord time.Duration) Option {
	return func(c *config) error { c.jobDelay, c.recordDelay = perJob, perRecord; return nil }
}

// WithMaxUploadBytes sets the Bulk API 2.0 upload size limit, counted as
// Salesforce counts it: after base64 encoding, which makes 4 bytes of
// every 3 of CSV (default 150 MB, about 112 MB of CSV).
func WithMaxUploadBytes(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return errors.New("upload limit must be positive")
		}
		c.maxUpload = n
		return nil
	}
}

// WithInternalBatchSize sets how many records one internal batch of a Bulk
// API 2.0 ingest job holds (default 10,000, as on Salesforce). It must be a
// positive multiple of 200; tests use small values to reach several
// internal batches with few rows.
func WithInternalBatchSize(n int) Option {
	return func(c *config) error {
		if n <= 0 || n%chunkSize != 0 {
			return errors.New("internal batch size must be a positive multiple of 200")
		}
		c.internalBatch = n
		return nil
	}
}

// WithRowLockWait sets how long a REST save waits for a parent record that
// a Bulk API 2.0 job in progress holds before it fails with
// UNABLE_TO_LOCK_ROW (default 10s, as on Salesforce; 0 fails at once).
// Only with lock contention on.
func WithRowLockWait(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return errors.New("row lock wait must not be negative")
		}
		c.lockWait = d
		return nil
	}
}

// WithOrderedResults makes Bulk API 2.0 result files list rows in upload
// order. By default they are shuffled (deterministically per job), because
// Salesforce does not keep the order either.
func WithOrderedResults() Option {
	return func(c *config) error { c.ordered = true; return nil }
}

// WithLockContention makes concurrent Bulk API 2.0 jobs whose rows point to
// the same parent record fail those rows with UNABLE_TO_LOCK_ROW.
func WithLockContention() Option {
	return func(c *config) error { c.lockContention = true; return nil }
}

// WithAddr listens on addr (host:port) instead of a random loopback port.
func WithAddr(addr string) Option {
	return func(c *config) error { c.addr = addr; return nil }
}
