package alert

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// token stands for the credential a webhook URL carries in its path.
const token = "T000-B000-XXXXsecretXXXX"

func TestWebhookPostsSlackJSON(t *testing.T) {
	var got struct {
		method, ctype, path string
		body                map[string]string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.method, got.ctype, got.path = r.Method, r.Header.Get("Content-Type"), r.URL.Path
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&got.body))
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()

	w, err := NewWebhook(srv.URL + "/services/" + token)
	require.NoError(t, err)
	assert.Equal(t, "webhook 127.0.0.1", w.Name())
	require.NoError(t, w.Notify(context.Background(), "retl: 1 of 2 syncs failed", "contacts: failed"))
	assert.Equal(t, http.MethodPost, got.method)
	assert.Equal(t, "application/json", got.ctype)
	assert.Equal(t, "/services/"+token, got.path)
	assert.Equal(t, map[string]string{"text": "*retl: 1 of 2 syncs failed*\ncontacts: failed"}, got.body)
}

func TestWebhookErrorsNameOnlyTheHost(t *testing.T) {
	status := http.StatusNotFound
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status == http.StatusFound {
			http.Redirect(w, r, "http://elsewhere.example/"+token, status)
			return
		}
		// An error page that echoes the request must not reach the error.
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "no_service "+r.URL.Path)
	}))
	defer srv.Close()
	w, err := NewWebhook(srv.URL + "/" + token)
	require.NoError(t, err)

	err = w.Notify(context.Background(), "s", "b")
	require.EqualError(t, err, "webhook to 127.0.0.1: HTTP 404 Not Found")

	status = http.StatusInternalServerError
	assert.EqualError(t, w.Notify(context.Background(), "s", "b"), "webhook to 127.0.0.1: HTTP 500 Internal Server Error")

	// A redirect is not followed: it is an answer that is not 2xx.
	status = http.StatusFound
	err = w.Notify(context.Background(), "s", "b")
	assert.EqualError(t, err, "webhook to 127.0.0.1: HTTP 302 Found")
}

func TestWebhookTransportErrors(t *testing.T) {
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	w, err := NewWebhook("http://" + addr + "/hook/" + token)
	require.NoError(t, err)
	err = w.Notify(context.Background(), "s", "b")
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "webhook to 127.0.0.1: dial tcp"), err.Error())
	assert.NotContains(t, err.Error(), token)

	// A server that does not answer in time.
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	w, err = NewWebhook(srv.URL+"/"+token, WithWebhookTimeout(30*time.Millisecond))
	require.NoError(t, err)
	err = w.Notify(context.Background(), "s", "b")
	assert.EqualError(t, err, "webhook to 127.0.0.1: timed out after 30ms")

	// The caller's deadline.
	w, err = NewWebhook(srv.URL + "/" + token)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err = w.Notify(ctx, "s", "b")
	assert.EqualError(t, err, "webhook to 127.0.0.1: context deadline exceeded")
}

func TestWebhookOtherTransportFailures(t *testing.T) {
	w, err := NewWebhook("https://no-such-host.invalid/" + token)
	require.NoError(t, err)
	err = w.Notify(context.Background(), "s", "b")
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "webhook to no-such-host.invalid: "), err.Error())
	assert.NotContains(t, err.Error(), token)

	// The URL is the credential: plain http leaves only for loopback.
	_, err = NewWebhook("http://hooks.example.com/" + token)
	assert.EqualError(t, err, "webhook: hooks.example.com: plain http is allowed only to a loopback host; use https")
	_, err = NewWebhook("http://localhost:9/" + token)
	assert.NoError(t, err)

	// A transport failing in its own way is reported without its text,
	// which could hold the URL.
	w, err = NewWebhook("https://hooks.example.com/"+token, WithHTTPClient(&http.Client{Transport: failing{}}))
	require.NoError(t, err)
	assert.EqualError(t, w.Notify(context.Background(), "s", "b"), "webhook to hooks.example.com: request failed")
}

type failing struct{}

func (failing) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, &json.UnsupportedValueError{Str: r.URL.String()}
}

func TestNewWebhookRejectsBadURLsWithoutQuotingThem(t *testing.T) {
	for _, u := range []string{"", "hooks.slack.com/" + token, "ftp://x/" + token, "http://%zz/" + token, "https:///" + token} {
		_, err := NewWebhook(u)
		require.Error(t, err, u)
		assert.EqualError(t, err, "webhook: the URL must be an absolute http or https URL")
	}
}

func TestWebhookRequestBuildFailure(t *testing.T) {
	w, err := NewWebhook("https://hooks.example.com/x")
	require.NoError(t, err)
	// NewWebhook refuses such a URL; set it behind its back so that
	// building the request is what fails.
	w.url = "https://hooks.example.com/\x7f"
	err = w.Notify(context.Background(), "s", "b")
	assert.EqualError(t, err, "webhook to hooks.example.com: cannot build the request")
}
