package salesforce

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
)

func conn(t *testing.T, yaml string) *config.Connection {
	t.Helper()
	s, err := config.NewSection("retl.yaml", yaml)
	require.NoError(t, err)
	return &config.Connection{Name: "crm", Type: "salesforce", Section: s}
}

func TestParseConfig(t *testing.T) {
	cfg, err := parseConnConfig(conn(t, `
login_url: https://acme.my.salesforce.com/
auth: jwt
client_id: abc
username: etl@acme.com
private_key_file: /keys/sf.pem
api_version: v61.0
timeout: 30s
max_retries: 3
retry_max_wait: 2m
retry_rate_limit: true
`))
	require.NoError(t, err)
	assert.Equal(t, "https://acme.my.salesforce.com", cfg.LoginURL)
	assert.Equal(t, AuthJWT, cfg.Auth)
	assert.Equal(t, "61.0", cfg.APIVersion)
	assert.Equal(t, 30*time.Second, cfg.Timeout)
	assert.Equal(t, 3, cfg.maxRetries)
	assert.Equal(t, 2*time.Minute, cfg.RetryMaxWait)
	assert.True(t, cfg.RetryRateLimit)
	assert.Equal(t, "https://login.salesforce.com", cfg.audience())

	cfg, err = parseConnConfig(conn(t, "auth: client_credentials\nclient_id: a\nclient_secret: b\nmax_retries: 0\n"))
	require.NoError(t, err)
	assert.Equal(t, DefaultLoginURL, cfg.LoginURL)
	assert.Equal(t, DefaultAPIVersion, cfg.APIVersion)
	assert.Equal(t, defaultTimeout, cfg.Timeout)
	assert.Equal(t, 0, cfg.maxRetries, "0 turns retries off")
	cfg, err = parseConnConfig(conn(t, "auth: client_credentials\nclient_id: a\nclient_secret: b\n"))
	require.NoError(t, err)
	assert.Equal(t, defaultRetries, cfg.maxRetries, "absent: the default")
	assert.Equal(t, defaultRetryWait, cfg.RetryMaxWait)
}

func TestParseConfigErrors(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown key", "auth: password\npasword: x\n", `retl.yaml:2:1: key "pasword"`},
		{"no auth", "client_id: a\n", "auth is required"},
		{"bad auth", "auth: magic\n", `auth "magic"`},
		{"password needs", "auth: password\nclient_id: a\n", "auth password needs client_secret, username, password"},
		{"client credentials needs", "auth: client_credentials\n", "needs client_id, client_secret"},
		{"soap needs", "auth: soap\nusername: u\n", "auth soap needs password"},
		{"jwt needs user", "auth: jwt\nclient_id: a\nprivate_key: k\n", "auth jwt needs username"},
		{"jwt needs one key", "auth: jwt\nclient_id: a\nusername: u\n", "exactly one of private_key and private_key_file"},
		{"jwt two keys", "auth: jwt\nclient_id: a\nusername: u\nprivate_key: k\nprivate_key_file: f\n", "exactly one of"},
		{"http remote", "auth: soap\nusername: u\npassword: p\nlogin_url: http://login.salesforce.com\n", "http is allowed only for loopback hosts"},
		{"http remote instance", "auth: soap\nusername: u\npassword: p\ninstance_url: http://na1.salesforce.com\n", "instance_url"},
		{"ftp", "auth: soap\nusername: u\npassword: p\nlogin_url: ftp://x\n", "want an https URL"},
		{"relative", "auth: soap\nusername: u\npassword: p\nlogin_url: /services\n", "not an absolute URL"},
		{"version", "auth: soap\nusername: u\npassword: p\napi_version: latest\n", `api_version "latest"`},
		{"negative", "auth: soap\nusername: u\npassword: p\ntimeout: -1s\n", "must not be negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseConnConfig(conn(t, c.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			// Every error names the file, line and key, first.
			var ce *config.Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "retl.yaml", ce.Pos.File)
			assert.Positive(t, ce.Pos.Line)
			assert.True(t, strings.HasPrefix(err.Error(), "retl.yaml:"), err.Error())
		})
	}
	_, err := parseConnConfig(nil)
	assert.ErrorContains(t, err, "names no connection")
	_, err = parseConnConfig(&config.Connection{Name: "wh", Type: "snowflake"})
	assert.ErrorContains(t, err, `of type "snowflake"`)
}

func TestConfigSecretsNotInErrors(t *testing.T) {
	_, err := parseConnConfig(conn(t, "auth: password\nclient_id: a\nclient_secret: TopSecret99\nusername: u\npassword: Hunter2Hunter2\nlogin_url: http://example.com\n"))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "TopSecret99")
	assert.NotContains(t, err.Error(), "Hunter2Hunter2")
}

func TestLoopbackHosts(t *testing.T) {
	for _, h := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9"} {
		assert.NoError(t, checkURL("login_url", h), h)
	}
	assert.Error(t, checkURL("login_url", "http://10.0.0.1"))
}

func TestAudience(t *testing.T) {
	cases := map[string]string{
		"https://login.salesforce.com":                "https://login.salesforce.com",
		"https://test.salesforce.com":                 "https://test.salesforce.com",
		"https://acme--uat.sandbox.my.salesforce.com": "https://test.salesforce.com",
		"https://acme.my.salesforce.com":              "https://login.salesforce.com",
		"http://127.0.0.1:9999":                       "http://127.0.0.1:9999",
		"https://acme.my.site.com/customers":          "https://acme.my.site.com/customers",
	}
	for login, want := range cases {
		c := connConfig{LoginURL: login}
		assert.Equal(t, want, c.audience(), login)
	}
	c := connConfig{LoginURL: DefaultLoginURL, Audience: "https://custom"}
	assert.Equal(t, "https://custom", c.audience())
}

func TestOptions(t *testing.T) {
	var o Options
	require.NoError(t, o.normalize())
	assert.Equal(t, Options{API: APIBulk, AutoThreshold: 2000, BulkBatchSize: 30_000, MaxJobsInFlight: 2, RESTConcurrency: 4,
		PollMaxWait: 5 * time.Second, lockRetries: 2, MaxUploadBytes: 100 << 20, OnNotFound: NotFoundSkip,
		pollStart: 250 * time.Millisecond, lockBackoff: time.Second}, o)
	o = Options{LockRetries: Int(0), PollMaxWait: 100 * time.Millisecond}
	require.NoError(t, o.normalize())
	assert.Equal(t, 0, o.lockRetries)
	assert.Equal(t, 100*time.Millisecond, o.pollStart, "the first poll waits no longer than the longest")

	o = Options{Serial: true, MaxJobsInFlight: 1}
	require.NoError(t, o.normalize(), "serial and one job in flight agree")
	assert.Equal(t, 1, o.RESTConcurrency)
	o = Options{Serial: true, RESTConcurrency: 4}
	assert.EqualError(t, o.normalize(), "salesforce: serial runs one Bulk job or REST call at a time, but max_jobs_in_flight or rest_concurrency asks for more: keep one of them")

	for _, bad := range []Options{{API: "soap"}, {BulkBatchSize: -1}, {LockRetries: Int(-1)}, {PollMaxWait: -time.Second}, {MaxUploadBytes: MaxUploadLimit + 1}} {
		assert.Error(t, bad.normalize(), "%+v", bad)
	}
	o = Options{MaxUploadBytes: MaxUploadLimit}
	require.NoError(t, o.normalize(), "the limit itself is allowed")
	assert.LessOrEqual(t, int64(base64.StdEncoding.EncodedLen(MaxUploadLimit)), int64(150<<20))
}
