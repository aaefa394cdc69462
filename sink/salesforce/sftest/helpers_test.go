package sftest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// client talks to the emulator with plain net/http, as a real client would.
type client struct {
	t     *testing.T
	srv   *Server
	token string
	hc    *http.Client
}

const v = "/services/data/v58.0"

func start(t *testing.T, opts ...Option) (*Server, *client) {
	t.Helper()
	srv := NewServer(opts...)
	t.Cleanup(srv.Close)
	c := &client{t: t, srv: srv, hc: &http.Client{Timeout: 30 * time.Second}}
	c.token = c.login()
	return srv, c
}

func (c *client) login() string {
	c.t.Helper()
	form := url.Values{"grant_type": {"password"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret},
		"username": {DefaultUsername}, "password": {DefaultPassword}}
	res, err := c.hc.PostForm(c.srv.URL()+"/services/oauth2/token", form)
	require.NoError(c.t, err)
	defer res.Body.Close()
	require.Equal(c.t, http.StatusOK, res.StatusCode)
	var tok tokenResponse
	require.NoError(c.t, json.NewDecoder(res.Body).Decode(&tok))
	return tok.AccessToken
}

// do sends a request; body may be nil, a string/[]byte (sent as is) or a
// value encoded as JSON.
func (c *client) do(method, path string, body any, headers ...string) (*http.Response, []byte) {
	c.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(c.t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.srv.URL()+path, rd)
	require.NoError(c.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", ct)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return res, data
}

// call sends a request and decodes a JSON answer.
func (c *client) call(method, path string, body any, headers ...string) (int, any) {
	c.t.Helper()
	res, data := c.do(method, path, body, headers...)
	if len(data) == 0 {
		return res.StatusCode, nil
	}
	var out any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	require.NoError(c.t, dec.Decode(&out), "body: %s", data)
	return res.StatusCode, out
}

// restErr returns the first error of a REST error array.
func restErr(t *testing.T, body any) (code, msg string) {
	t.Helper()
	arr, ok := body.([]any)
	require.True(t, ok, "want an error array, got %#v", body)
	require.NotEmpty(t, arr)
	m := arr[0].(map[string]any)
	return m["errorCode"].(string), m["message"].(string)
}

func obj(v any) map[string]any { return v.(map[string]any) }

func mustInsert(t *testing.T, srv *Server, o string, f map[string]any) string {
	t.Helper()
	id, err := srv.Insert(o, f)
	require.NoError(t, err)
	return id
}

// q escapes a SOQL query for a query string.
func q(s string) string { return url.QueryEscape(s) }
