package awssm_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/config/awssm"
	"github.com/retl-go/retl/internal/standin"
)

// Values that must never show up in an error message.
const (
	password = "hunter2-Zq9"
	username = "svc-retl-Zq9"
	plain    = "p@ss w0rd-Zq9"
)

const jsonSecret = `{"username":"` + username + `","password":"` + password + `",` +
	`"port":5432,"ratio":1.50,"tls":true,"nested":{"a":"` + password + `"},"list":["` + password + `"],"nothing":null}`

// counter counts the GetSecretValue requests that reach moto.
type counter struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int // by X-Amz-Target, the operation
}

func (c *counter) Do(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[req.Header.Get("X-Amz-Target")]++
	c.mu.Unlock()
	return c.next.RoundTrip(req)
}

func (c *counter) gets() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n["secretsmanager.GetSecretValue"]
}

type fixture struct {
	moto  *standin.MotoServer
	admin *secretsmanager.Client
	calls *counter
	r     *awssm.Resolver
	arns  map[string]string
}

// newFixture starts moto, stores the test secrets and returns a Resolver
// whose requests are counted.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	m := standin.Moto(t)
	f := &fixture{
		moto:  m,
		admin: secretsmanager.NewFromConfig(m.Config()),
		calls: &counter{next: http.DefaultTransport, n: map[string]int{}},
		arns:  map[string]string{},
	}
	ctx := context.Background()
	for name, in := range map[string]*secretsmanager.CreateSecretInput{
		"prod/retl/plain":  {SecretString: aws.String(plain)},
		"prod/retl/sf":     {SecretString: aws.String(jsonSecret)},
		"prod/retl/binary": {SecretBinary: []byte(password)},
		"prod/retl/text":   {SecretString: aws.String("not json: " + password)},
	} {
		in.Name = aws.String(name)
		out, err := f.admin.CreateSecret(ctx, in)
		require.NoError(t, err)
		f.arns[name] = aws.ToString(out.ARN)
	}
	client := secretsmanager.NewFromConfig(m.Config(), func(o *secretsmanager.Options) { o.HTTPClient = f.calls })
	r, err := awssm.New(ctx, awssm.Options{Client: client})
	require.NoError(t, err)
	f.r = r
	return f
}

// noSecrets checks that err's message carries none of the secret values.
func noSecrets(t *testing.T, err error) {
	t.Helper()
	for _, v := range []string{password, username, plain} {
		assert.NotContains(t, err.Error(), v)
	}
}

func TestResolveValues(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range []struct{ ref, want string }{
		{"prod/retl/plain", plain},
		{"prod/retl/sf#username", username},
		{"prod/retl/sf#password", password},
		{"prod/retl/sf#port", "5432"},
		{"prod/retl/sf#ratio", "1.50"},
		{"prod/retl/sf#tls", "true"},
		{"prod/retl/sf", jsonSecret},
	} {
		got, err := f.r.Resolve(ctx, tc.ref)
		require.NoError(t, err, tc.ref)
		assert.Equal(t, tc.want, got, tc.ref)
	}
}

func TestResolveByARN(t *testing.T) {
	f := newFixture(t)
	arn := f.arns["prod/retl/sf"]
	require.Contains(t, arn, ":secret:prod/retl/sf-")
	got, err := f.r.Resolve(context.Background(), arn+"#password")
	require.NoError(t, err)
	assert.Equal(t, password, got)
}

func TestResolveErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range []struct{ ref, want string }{
		{"prod/retl/sf#missing", `aws-sm: secret "prod/retl/sf" key "missing": no such key in the secret`},
		{"prod/retl/sf#nested", `aws-sm: secret "prod/retl/sf" key "nested": value is a JSON object; only strings, numbers and booleans can be referenced`},
		{"prod/retl/sf#list", `aws-sm: secret "prod/retl/sf" key "list": value is a JSON array; only strings, numbers and booleans can be referenced`},
		{"prod/retl/sf#nothing", `aws-sm: secret "prod/retl/sf" key "nothing": value is null`},
		{"prod/retl/text#password", `aws-sm: secret "prod/retl/text" key "password": secret is not a JSON object, so a key cannot be selected from it`},
		{"prod/retl/binary", `aws-sm: secret "prod/retl/binary": is a binary secret (SecretBinary); only string secrets (SecretString) can be referenced`},
		{"prod/retl/binary#password", `aws-sm: secret "prod/retl/binary": is a binary secret (SecretBinary); only string secrets (SecretString) can be referenced`},
	} {
		_, err := f.r.Resolve(ctx, tc.ref)
		require.Error(t, err, tc.ref)
		assert.EqualError(t, err, tc.want)
		noSecrets(t, err)
		var ae *awssm.Error
		assert.ErrorAs(t, err, &ae)
	}
}

func TestResolveMissingSecret(t *testing.T) {
	f := newFixture(t)
	_, err := f.r.Resolve(context.Background(), "prod/retl/none#password")
	require.Error(t, err)
	assert.Regexp(t, `^aws-sm: secret "prod/retl/none": ResourceNotFoundException: .+`, err.Error())
	var api smithy.APIError
	require.ErrorAs(t, err, &api, "the AWS error stays reachable")
	assert.Equal(t, "ResourceNotFoundException", api.ErrorCode())
	var ae *awssm.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "prod/retl/none", ae.SecretID)
	assert.Empty(t, ae.Key, "the fetch failed before any key was looked at")
}

func TestResolveFetchesEachSecretOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for range 3 {
		for _, ref := range []string{"prod/retl/sf#username", "prod/retl/sf#password", "prod/retl/sf", "prod/retl/plain"} {
			_, err := f.r.Resolve(ctx, ref)
			require.NoError(t, err)
		}
		_, err := f.r.Resolve(ctx, "prod/retl/sf#missing")
		require.Error(t, err)
	}
	assert.Equal(t, 2, f.calls.gets(), "one GetSecretValue per secret id")
}

func TestResolveRetriesFailedFetch(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.r.Resolve(ctx, "prod/retl/late")
	require.Error(t, err)
	_, err = f.admin.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/retl/late"), SecretString: aws.String("now")})
	require.NoError(t, err)
	got, err := f.r.Resolve(ctx, "prod/retl/late")
	require.NoError(t, err, "a failure is not cached")
	assert.Equal(t, "now", got)
	assert.Equal(t, 2, f.calls.gets())
}

func TestResolveConcurrently(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	want := map[string]string{
		"prod/retl/plain":       plain,
		"prod/retl/sf#password": password,
		"prod/retl/sf#port":     "5432",
	}
	var wg sync.WaitGroup
	var bad atomic.Int32
	for i := range 60 {
		wg.Go(func() {
			ref := []string{"prod/retl/plain", "prod/retl/sf#password", "prod/retl/sf#port"}[i%3]
			got, err := f.r.Resolve(ctx, ref)
			if err != nil || got != want[ref] {
				bad.Add(1)
				t.Errorf("%s: got %q, %v", ref, got, err)
			}
		})
	}
	wg.Wait()
	assert.Zero(t, bad.Load())
	assert.Equal(t, 2, f.calls.gets(), "concurrent resolves of one secret share one fetch")
}

func TestNewWithRegionAndEndpoint(t *testing.T) {
	m := standin.Moto(t)
	// Credentials from the environment, as the default chain finds them; a
	// region in the environment that Options.Region overrides.
	m.Setenv(t)
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_REGION", "eu-west-3")
	ctx := context.Background()
	admin := secretsmanager.NewFromConfig(m.Config())
	_, err := admin.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("retl/region"), SecretString: aws.String(`{"k":"in us-east-1"}`)})
	require.NoError(t, err)

	r, err := awssm.New(ctx, awssm.Options{Region: m.Region, Endpoint: m.Endpoint})
	require.NoError(t, err)
	got, err := r.Resolve(ctx, "retl/region#k")
	require.NoError(t, err)
	assert.Equal(t, "in us-east-1", got)

	// The environment's region alone finds nothing: moto keeps secrets per
	// region, which shows Options.Region was the one used above.
	r, err = awssm.New(ctx, awssm.Options{Endpoint: m.Endpoint})
	require.NoError(t, err)
	_, err = r.Resolve(ctx, "retl/region#k")
	var api smithy.APIError
	require.True(t, errors.As(err, &api), fmt.Sprint(err))
	assert.Equal(t, "ResourceNotFoundException", api.ErrorCode())
}

func TestFactoryThroughConfig(t *testing.T) {
	m := standin.Moto(t)
	m.Setenv(t)
	t.Setenv("AWS_ENDPOINT_URL", "") // the project file names the endpoint
	ctx := context.Background()
	_, err := secretsmanager.NewFromConfig(m.Config()).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("prod/retl/snowflake"), SecretString: aws.String(`{"password":"` + password + `"}`),
	})
	require.NoError(t, err)

	project := fmt.Sprintf(`connections:
  warehouse:
    type: snowflake
    password: ${aws-sm:prod/retl/snowflake#password}
secrets:
  aws: {region: %s, endpoint: %q}
`, m.Region, m.Endpoint)
	p, err := config.Parse(ctx, "retl.yaml", []byte(project), nil,
		config.WithResolverFactory(awssm.Scheme, awssm.Factory))
	require.NoError(t, err)
	var wh struct {
		Password string `yaml:"password"`
	}
	require.NoError(t, p.Connections["warehouse"].Section.Decode(&wh))
	assert.Equal(t, password, wh.Password)
	assert.NotContains(t, p.Redactor.Redact("pw="+password), password, "resolved secrets are redacted")

	// A bad endpoint in the project file fails the load, naming it.
	_, err = config.Parse(ctx, "retl.yaml", []byte(strings.Replace(project, m.Endpoint, "localhost:1", 1)), nil,
		config.WithResolverFactory(awssm.Scheme, awssm.Factory))
	assert.ErrorContains(t, err, `endpoint "localhost:1" is not an absolute URL`)
}
