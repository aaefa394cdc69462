package awssm

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSM answers GetSecretValue through handle, which sees the requested
// secret id and the request number (from 1).
type fakeSM struct {
	*httptest.Server
	n atomic.Int32
}

func newFakeSM(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, id string, n int)) *fakeSM {
	t.Helper()
	f := &fakeSM{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(f.n.Add(1))
		var in struct{ SecretId string }
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || json.NewDecoder(r.Body).Decode(&in) != nil {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		handle(w, r, in.SecretId, n)
	}))
	t.Cleanup(f.Close)
	return f
}

func answer(w http.ResponseWriter, body map[string]any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(body)
}

// client returns a Secrets Manager client for endpoint that does not retry.
func client(endpoint string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("k", "s", ""),
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 1,
	})
}

func resolver(t *testing.T, endpoint string) *Resolver {
	t.Helper()
	r, err := New(context.Background(), Options{Client: client(endpoint)})
	require.NoError(t, err)
	return r
}

func TestResolveBadReferences(t *testing.T) {
	r := resolver(t, "http://127.0.0.1:1") // never reached
	ctx := context.Background()
	_, err := r.Resolve(ctx, "")
	assert.EqualError(t, err, `aws-sm: reference "" names no secret: want SECRET_ID or SECRET_ID#key`)
	_, err = r.Resolve(ctx, "#password")
	assert.EqualError(t, err, `aws-sm: reference "#password" names no secret: want SECRET_ID or SECRET_ID#key`)
	_, err = r.Resolve(ctx, "prod/db#")
	assert.EqualError(t, err, `aws-sm: secret "prod/db": empty key after '#': want SECRET_ID#key`)
}

func TestResolveKeyWithHash(t *testing.T) {
	f := newFakeSM(t, func(w http.ResponseWriter, _ *http.Request, id string, _ int) {
		answer(w, map[string]any{"Name": id, "SecretString": `{"a#b":"v"}`})
	})
	got, err := resolver(t, f.URL).Resolve(context.Background(), "s#a#b")
	require.NoError(t, err)
	assert.Equal(t, "v", got, "the first '#' ends the id; the key keeps the rest")
}

func TestResolveSecretWithoutValue(t *testing.T) {
	f := newFakeSM(t, func(w http.ResponseWriter, _ *http.Request, id string, _ int) {
		answer(w, map[string]any{"Name": id})
	})
	_, err := resolver(t, f.URL).Resolve(context.Background(), "empty")
	assert.EqualError(t, err, `aws-sm: secret "empty": has no SecretString`)
}

func TestResolveJSONEdgeCases(t *testing.T) {
	secrets := map[string]string{
		"trailing": `{"k":"secret-text"} secret-text`,
		"array":    `["secret-text"]`,
		"null":     `null`,
		"big":      `{"n":123456789012345678901234567890,"neg":-0.5e-3,"f":false}`,
	}
	f := newFakeSM(t, func(w http.ResponseWriter, _ *http.Request, id string, _ int) {
		answer(w, map[string]any{"Name": id, "SecretString": secrets[id]})
	})
	r := resolver(t, f.URL)
	ctx := context.Background()
	for _, ref := range []string{"trailing#k", "array#k", "null#k"} {
		_, err := r.Resolve(ctx, ref)
		assert.ErrorContains(t, err, "secret is not a JSON object", ref)
		assert.NotContains(t, err.Error(), "secret-text")
	}
	for ref, want := range map[string]string{"big#n": "123456789012345678901234567890", "big#neg": "-0.5e-3", "big#f": "false"} {
		got, err := r.Resolve(ctx, ref)
		require.NoError(t, err, ref)
		assert.Equal(t, want, got, "numbers keep their JSON text")
	}
}

func TestResolveNetworkError(t *testing.T) {
	// A port that was free a moment ago: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	endpoint := "http://" + l.Addr().String()
	require.NoError(t, l.Close())

	_, err = resolver(t, endpoint).Resolve(context.Background(), "prod/db#password")
	require.Error(t, err)
	assert.Regexp(t, `^aws-sm: secret "prod/db": operation error Secrets Manager: GetSecretValue, .*connection refused`, err.Error())
	var ae *Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "prod/db", ae.SecretID)
	var op *net.OpError
	assert.ErrorAs(t, err, &op, "the SDK's error is wrapped, not flattened")
}

func TestResolveAWSErrorKeepsCodeAndMessage(t *testing.T) {
	f := newFakeSM(t, func(w http.ResponseWriter, _ *http.Request, _ string, _ int) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"AccessDeniedException","message":"User: arn:aws:iam::1:user/x is not authorized to perform: secretsmanager:GetSecretValue"}`))
	})
	_, err := resolver(t, f.URL).Resolve(context.Background(), "prod/retl/sf#password")
	assert.EqualError(t, err, `aws-sm: secret "prod/retl/sf": AccessDeniedException: User: arn:aws:iam::1:user/x is not authorized to perform: secretsmanager:GetSecretValue`)
}

// joined installs testHookJoined for one test and reports each join.
func joined(t *testing.T) <-chan string {
	ch := make(chan string, 16)
	testHookJoined = func(id string) { ch <- id }
	t.Cleanup(func() { testHookJoined = nil })
	return ch
}

func TestResolveWaiterGivesUpOnItsOwnContext(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	f := newFakeSM(t, func(w http.ResponseWriter, _ *http.Request, id string, _ int) {
		arrived <- struct{}{}
		<-release
		answer(w, map[string]any{"Name": id, "SecretString": "v"})
	})
	r := resolver(t, f.URL)
	joins := joined(t)

	var wg sync.WaitGroup
	var first string
	var firstErr error
	wg.Go(func() { first, firstErr = r.Resolve(context.Background(), "s") })
	<-arrived

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.Resolve(ctx, "s")
		done <- err
	}()
	assert.Equal(t, "s", <-joins)
	cancel()
	err := <-done
	assert.EqualError(t, err, `aws-sm: secret "s": context canceled`)
	assert.ErrorIs(t, err, context.Canceled)

	close(release)
	wg.Wait()
	require.NoError(t, firstErr, "the fetch itself goes on for the caller that started it")
	assert.Equal(t, "v", first)
	assert.EqualValues(t, 1, f.n.Load())
}

func TestResolveWaiterRetriesWhenStarterGivesUp(t *testing.T) {
	arrived := make(chan struct{}, 1)
	f := newFakeSM(t, func(w http.ResponseWriter, r *http.Request, id string, n int) {
		if n == 1 {
			// Hold the first request until its caller gives up.
			arrived <- struct{}{}
			<-r.Context().Done()
			return
		}
		answer(w, map[string]any{"Name": id, "SecretString": "v"})
	})
	r := resolver(t, f.URL)
	joins := joined(t)

	ctx, cancel := context.WithCancel(context.Background())
	starter := make(chan error, 1)
	go func() {
		_, err := r.Resolve(ctx, "s")
		starter <- err
	}()
	<-arrived
	waiter := make(chan string, 1)
	go func() {
		got, err := r.Resolve(context.Background(), "s")
		assert.NoError(t, err)
		waiter <- got
	}()
	assert.Equal(t, "s", <-joins)
	cancel()

	err := <-starter
	assert.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), `aws-sm: secret "s": `)
	select {
	case got := <-waiter:
		assert.Equal(t, "v", got)
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter did not fetch again")
	}
	assert.EqualValues(t, 2, f.n.Load())
}

// isolate keeps the developer's AWS settings out of New.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	empty := filepath.Join(dir, "config")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":             empty,
		"AWS_SHARED_CREDENTIALS_FILE": empty,
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  "",
		"AWS_DEFAULT_REGION":          "",
		"AWS_ENDPOINT_URL":            "",
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
	return empty
}

func TestNewErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("no region", func(t *testing.T) {
		isolate(t)
		_, err := New(ctx, Options{})
		assert.EqualError(t, err, "aws-sm: no AWS region: set secrets.aws.region in the project file, or AWS_REGION")
	})
	t.Run("unknown profile", func(t *testing.T) {
		isolate(t)
		t.Setenv("AWS_PROFILE", "no-such-profile")
		_, err := New(ctx, Options{Region: "us-east-1"})
		assert.ErrorContains(t, err, "aws-sm: loading AWS configuration: ")
		assert.ErrorContains(t, err, "no-such-profile")
	})
	for _, endpoint := range []string{"localhost:4566", "://x", "/path"} {
		t.Run("endpoint "+endpoint, func(t *testing.T) {
			_, err := New(ctx, Options{Region: "us-east-1", Endpoint: endpoint})
			assert.ErrorContains(t, err, "is not an absolute URL")
		})
	}
}

func TestNewRegionFromEnvironment(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_REGION", "eu-west-1")
	r, err := New(context.Background(), Options{})
	require.NoError(t, err)
	assert.Equal(t, "eu-west-1", r.client.Options().Region)
	assert.Nil(t, r.client.Options().BaseEndpoint, "no endpoint override unless asked")
}

func TestErrorText(t *testing.T) {
	cause := errors.New("cause")
	e := &Error{SecretID: "a/b", Reason: "why", Err: cause}
	assert.Equal(t, `aws-sm: secret "a/b": why`, e.Error())
	assert.ErrorIs(t, e, cause)
	e.Key = "k"
	assert.Equal(t, `aws-sm: secret "a/b" key "k": why`, e.Error())
}
