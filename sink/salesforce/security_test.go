package salesforce

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Plain http reaches only this machine: a host that merely looks like
// loopback, or hides another host in the URL, is refused for both URLs.
func TestSecurityHTTPOnlyToLoopback(t *testing.T) {
	accepted := []string{
		"https://login.salesforce.com", "https://acme.my.salesforce.com", "https://127.0.0.1:8443",
		"http://127.0.0.1:8080", "http://127.9.9.9", "http://localhost:1", "http://LOCALHOST:1", "http://[::1]:9",
		"http://[::ffff:127.0.0.1]:9",
	}
	refused := []string{
		"http://login.salesforce.com", "http://localhost.evil.example", "http://127.0.0.1.nip.io",
		"http://0.0.0.0:8080", "http://127.1", "http://10.0.0.1", "http://[::]:9", "http://127.0.0.1@evil.example",
		"http://evil.example#@127.0.0.1", "HTTP://evil.example", "ws://127.0.0.1", "file:///etc/passwd", "//127.0.0.1",
		"127.0.0.1:8080",
	}
	for _, key := range []string{"login_url", "instance_url"} {
		for _, u := range accepted {
			_, err := parseConnConfig(conn(t, "auth: soap\nusername: u\npassword: p\n"+key+": "+u+"\n"))
			assert.NoError(t, err, "%s %s", key, u)
		}
		for _, u := range refused {
			_, err := parseConnConfig(conn(t, "auth: soap\nusername: u\npassword: p\n"+key+": "+u+"\n"))
			assert.Error(t, err, "%s %s", key, u)
		}
	}
}

// TLS verification has no switch: a key that would turn it off is
// unknown, and a server whose certificate is not trusted is refused, on
// loopback too.
func TestSecurityTLSIsVerified(t *testing.T) {
	for _, key := range []string{"insecure: true", "insecure_skip_verify: true", "tls_skip_verify: true", "verify_tls: false"} {
		_, err := parseConnConfig(conn(t, "auth: soap\nusername: u\npassword: p\n"+key+"\n"))
		assert.ErrorContains(t, err, "unknown key", key)
	}
	hits := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		_, _ = io.WriteString(w, `{"access_token":"t","instance_url":"https://127.0.0.1"}`)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	defer srv.Close()
	cfg := connConfig{LoginURL: srv.URL, Auth: AuthPassword, ClientID: "c", ClientSecret: "s", Username: "u", Password: "p", MaxRetries: Int(0)}
	c, err := newAPIClient(cfg, withLogger(quiet))
	require.NoError(t, err)
	_, err = c.Describe(context.Background(), "Account")
	require.ErrorIs(t, err, ErrLogin)
	assert.Contains(t, err.Error(), "certificate")
	assert.Zero(t, hits, "no request was answered over an untrusted connection")
}

// A login server that echoes the request in its error (a proxy's error
// page, a misconfigured gateway) does not put a credential into the
// error, whichever way it was encoded on the way.
func TestSecurityLoginEchoIsScrubbed(t *testing.T) {
	const (
		password = "p@ss w+rd/!ünï"
		token    = "T0ken&=?"
		secret   = "cl!ent secret/+="
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		form, _ := url.ParseQuery(string(body))
		_, _ = io.WriteString(w, `{"error":"invalid_grant","error_description":"rejected `+jsonEscape(string(body))+` for `+
			jsonEscape(form.Get("password"))+` / `+jsonEscape(form.Get("client_secret"))+`"}`)
	}))
	defer srv.Close()
	cfg := connConfig{LoginURL: srv.URL, Auth: AuthPassword, ClientID: "cid", ClientSecret: secret, Username: "u",
		Password: password, SecurityToken: token}
	c, err := newAPIClient(cfg, withLogger(quiet))
	require.NoError(t, err)
	_, err = c.Describe(context.Background(), "Account")
	require.ErrorIs(t, err, ErrLogin)
	assert.Contains(t, err.Error(), "invalid_grant")
	for _, s := range []string{password, token, secret, password + token} {
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			assert.NotContains(t, err.Error(), form, "secret %q", s)
		}
	}
}

func jsonEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return r.Replace(s)
}

func TestClipMessage(t *testing.T) {
	assert.Equal(t, "short", clipMessage("short"))
	exact := strings.Repeat("x", maxMessage)
	assert.Equal(t, exact, clipMessage(exact))
	long := strings.Repeat("é", maxMessage) // two bytes a rune: the cut falls inside one
	got := clipMessage(long)
	assert.True(t, utf8.ValidString(got))
	assert.Equal(t, strings.Repeat("é", maxMessage/2)+fmt.Sprintf("… (%d bytes cut)", maxMessage), got)
}
