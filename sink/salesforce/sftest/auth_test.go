package sftest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/simpleforce/simpleforce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func postToken(t *testing.T, srv *Server, form url.Values, basic ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", srv.URL()+"/services/oauth2/token", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return res.StatusCode, out
}

func TestOAuthToken(t *testing.T) {
	srv := NewServer()
	defer srv.Close()
	pw := func(mod func(url.Values)) url.Values {
		f := url.Values{"grant_type": {"password"}, "client_id": {"retl"}, "client_secret": {"retl"},
			"username": {"demo@example.com"}, "password": {"demo"}}
		if mod != nil {
			mod(f)
		}
		return f
	}
	for _, tc := range []struct {
		name     string
		form     url.Values
		basic    []string
		status   int
		err, msg string
	}{
		{name: "password", form: pw(nil), status: 200},
		{name: "wrong password", form: pw(func(f url.Values) { f.Set("password", "nope") }), status: 400, err: "invalid_grant", msg: "authentication failure"},
		{name: "wrong user", form: pw(func(f url.Values) { f.Set("username", "x@example.com") }), status: 400, err: "invalid_grant", msg: "authentication failure"},
		{name: "wrong client id", form: pw(func(f url.Values) { f.Set("client_id", "x") }), status: 400, err: "invalid_client_id", msg: "client identifier invalid"},
		{name: "wrong secret", form: pw(func(f url.Values) { f.Set("client_secret", "x") }), status: 400, err: "invalid_client", msg: "invalid client credentials"},
		{name: "client credentials", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"retl"}, "client_secret": {"retl"}}, status: 200},
		{name: "client credentials basic auth", form: url.Values{"grant_type": {"client_credentials"}}, basic: []string{"retl", "retl"}, status: 200},
		{name: "client credentials bad secret", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"retl"}, "client_secret": {"no"}}, status: 400, err: "invalid_client"},
		{name: "unsupported grant", form: url.Values{"grant_type": {"refresh_token"}}, status: 400, err: "unsupported_grant_type", msg: "grant type not supported"},
		{name: "no grant", form: url.Values{}, status: 400, err: "unsupported_grant_type"},
		{name: "jwt without key", form: url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {"x"}}, status: 400, err: "invalid_grant", msg: "invalid assertion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, out := postToken(t, srv, tc.form, tc.basic...)
			assert.Equal(t, tc.status, st)
			if tc.err != "" {
				assert.Equal(t, tc.err, out["error"])
				if tc.msg != "" {
					assert.Equal(t, tc.msg, out["error_description"])
				}
				return
			}
			for _, k := range []string{"access_token", "instance_url", "id", "token_type", "issued_at", "signature"} {
				assert.NotEmpty(t, out[k], k)
			}
			assert.Equal(t, srv.URL(), out["instance_url"])
			assert.Equal(t, "Bearer", out["token_type"])
			assert.True(t, strings.HasPrefix(out["id"].(string), srv.URL()+"/id/00D"))
		})
	}
	res, err := http.Get(srv.URL() + "/services/oauth2/token")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 400, res.StatusCode)
}

func rsaKeyPEM(t *testing.T) (*rsa.PrivateKey, []byte, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "retl"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	pkix, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	return key, cert, pub
}

func TestJWTBearer(t *testing.T) {
	key, cert, pub := rsaKeyPEM(t)
	other, _, _ := rsaKeyPEM(t)
	for _, pemKey := range [][]byte{cert, pub} {
		srv := NewServer(WithJWTPublicKey(pemKey))
		sign := func(k *rsa.PrivateKey, claims jwt.MapClaims) string {
			s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(k)
			require.NoError(t, err)
			return s
		}
		good := func() jwt.MapClaims {
			return jwt.MapClaims{"iss": "retl", "sub": "demo@example.com", "aud": srv.URL(), "exp": time.Now().Add(3 * time.Minute).Unix()}
		}
		with := func(k string, v any) jwt.MapClaims { c := good(); c[k] = v; return c }
		without := func(k string) jwt.MapClaims { c := good(); delete(c, k); return c }
		for _, tc := range []struct {
			name      string
			assertion string
			err, msg  string
		}{
			{name: "valid", assertion: sign(key, good())},
			{name: "login.salesforce.com audience", assertion: sign(key, with("aud", "https://login.salesforce.com"))},
			{name: "other key", assertion: sign(other, good()), err: "invalid_grant", msg: "invalid assertion"},
			{name: "wrong issuer", assertion: sign(key, with("iss", "someone")), err: "invalid_client_id", msg: "client identifier invalid"},
			{name: "wrong audience", assertion: sign(key, with("aud", "https://evil.example.com")), err: "invalid_grant", msg: "audience is invalid"},
			{name: "wrong subject", assertion: sign(key, with("sub", "x@example.com")), err: "invalid_grant", msg: "user hasn't approved this consumer"},
			{name: "expired", assertion: sign(key, with("exp", time.Now().Add(-time.Minute).Unix())), err: "invalid_grant", msg: "expired authorization code"},
			{name: "no exp", assertion: sign(key, without("exp")), err: "invalid_grant", msg: "invalid assertion"},
			{name: "HS256", assertion: func() string {
				s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, good()).SignedString([]byte("k"))
				return s
			}(), err: "invalid_grant", msg: "invalid assertion"},
			{name: "garbage", assertion: "not.a.jwt", err: "invalid_grant", msg: "invalid assertion"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st, out := postToken(t, srv, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {tc.assertion}})
				if tc.err == "" {
					require.Equal(t, 200, st, "%v", out)
					assert.NotEmpty(t, out["access_token"])
					return
				}
				assert.Equal(t, 400, st)
				assert.Equal(t, tc.err, out["error"])
				assert.Equal(t, tc.msg, out["error_description"])
			})
		}
		srv.Close()
	}
}

func TestJWTKeyErrors(t *testing.T) {
	for _, tc := range []struct{ name, pem, want string }{
		{"not pem", "hello", "no PEM block"},
		{"bad block", "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n", "unsupported PEM block"},
		{"bad cert", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "JWT certificate"},
		{"bad key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "JWT public key"},
		{"bad pkcs1", "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n", "JWT public key"},
	} {
		_, err := Start(WithJWTPublicKey([]byte(tc.pem)))
		require.Error(t, err, tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
	}
}

const soapLoginBody = `<?xml version="1.0" encoding="utf-8" ?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>%s</n1:username><n1:password>%s</n1:password></n1:login></env:Body></env:Envelope>`

func TestSOAPLogin(t *testing.T) {
	srv := NewServer()
	defer srv.Close()
	post := func(path, body string) (int, string) {
		res, err := http.Post(srv.URL()+path, "text/xml", strings.NewReader(body))
		require.NoError(t, err)
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(data)
	}
	st, body := post("/services/Soap/u/58.0", strings.NewReplacer("%s", "").Replace(soapLoginBody))
	assert.Equal(t, 500, st)
	assert.Contains(t, body, "<faultcode>sf:INVALID_LOGIN</faultcode>")
	st, body = post("/services/Soap/u/58.0", "<not xml")
	assert.Equal(t, 500, st)
	assert.Contains(t, body, "INVALID_LOGIN")
	st, body = post("/services/Soap/u/58.0", strings.Replace(strings.Replace(soapLoginBody, "%s", "demo@example.com", 1), "%s", "bad", 1))
	assert.Equal(t, 500, st)
	assert.Contains(t, body, "Invalid username, password, security token; or user locked out.")
	st, body = post("/services/Soap/u/1.0", "")
	assert.Equal(t, 500, st)
	assert.Contains(t, body, "UNSUPPORTED_API_VERSION")
	res, err := http.Get(srv.URL() + "/services/Soap/u/58.0")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 500, res.StatusCode)

	st, body = post("/services/Soap/u/58.0", strings.Replace(strings.Replace(soapLoginBody, "%s", "demo@example.com", 1), "%s", "demo", 1))
	require.Equal(t, 200, st)
	for _, want := range []string{"<serverUrl>" + srv.URL() + "/services/Soap/u/58.0/00D", "<sessionId>", "<userId>005", "<organizationId>00D", "<userName>demo@example.com</userName>"} {
		assert.Contains(t, body, want)
	}
}

// simpleforce logs in through SOAP and then uses REST.
func TestSimpleforce(t *testing.T) {
	srv := NewServer()
	defer srv.Close()
	mustInsert(t, srv, "Account", map[string]any{"Name": "Acme"})
	c := simpleforce.NewClient(srv.URL(), simpleforce.DefaultClientID, simpleforce.DefaultAPIVersion)
	require.NotNil(t, c)
	require.Error(t, c.LoginPassword("demo@example.com", "wrong", ""))
	require.NoError(t, c.LoginPassword("demo@example.com", "demo", ""))
	res, err := c.Query("SELECT Id, Name FROM Account")
	require.NoError(t, err)
	require.Len(t, res.Records, 1)
	assert.Equal(t, "Acme", res.Records[0].StringField("Name"))
}

func TestSessions(t *testing.T) {
	srv, c := start(t, WithSessionTTL(300*time.Millisecond))
	st, _ := c.call("GET", v+"/limits", nil)
	require.Equal(t, 200, st)

	// OAuth header prefix and the Bulk API session header work too.
	st, _ = c.call("GET", v+"/limits", nil, "Authorization", "OAuth "+c.token)
	assert.Equal(t, 200, st)
	res, _ := c.do("GET", v+"/limits", nil, "Authorization", "", "X-SFDC-Session", c.token)
	assert.Equal(t, 200, res.StatusCode)

	for _, tok := range []string{"", "Bearer nope", "Basic abc"} {
		st, body := c.call("GET", v+"/limits", nil, "Authorization", tok)
		assert.Equal(t, 401, st, tok)
		code, msg := restErr(t, body)
		assert.Equal(t, "INVALID_SESSION_ID", code)
		assert.Equal(t, "Session expired or invalid", msg)
	}

	time.Sleep(400 * time.Millisecond)
	st, body := c.call("GET", v+"/limits", nil)
	assert.Equal(t, 401, st)
	code, _ := restErr(t, body)
	assert.Equal(t, "INVALID_SESSION_ID", code)

	c.token = c.login()
	st, _ = c.call("GET", v+"/limits", nil)
	require.Equal(t, 200, st)
	srv.ExpireSessions()
	st, _ = c.call("GET", v+"/limits", nil)
	assert.Equal(t, 401, st)

	// The identity URL answers for a live token only.
	c.token = c.login()
	st, body = c.call("GET", "/id/"+orgID+"/"+userID, nil)
	require.Equal(t, 200, st)
	assert.Equal(t, "demo@example.com", obj(body)["username"])
	c.token = "bad"
	st, _ = c.call("GET", "/id/"+orgID+"/"+userID, nil)
	assert.Equal(t, 403, st)
}

func TestCredentialOptions(t *testing.T) {
	srv := NewServer(WithCredentials("me@example.com", "pw"), WithClient("cid", "csecret"))
	defer srv.Close()
	st, _ := postToken(t, srv, url.Values{"grant_type": {"password"}, "client_id": {"cid"}, "client_secret": {"csecret"}, "username": {"me@example.com"}, "password": {"pw"}})
	assert.Equal(t, 200, st)
	st, _ = postToken(t, srv, url.Values{"grant_type": {"password"}, "client_id": {"retl"}, "client_secret": {"retl"}, "username": {"demo@example.com"}, "password": {"demo"}})
	assert.Equal(t, 400, st)
}
