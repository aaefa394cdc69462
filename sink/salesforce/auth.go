package salesforce

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/simpleforce/simpleforce"
)

// authenticator obtains a new session.
type authenticator interface {
	login(ctx context.Context) (*session, error)
}

func newAuthenticator(c *apiClient) (authenticator, error) {
	switch c.cfg.Auth {
	case AuthJWT:
		a := &jwtAuth{c: c}
		if c.cfg.PrivateKey != "" {
			k, err := parseKey([]byte(c.cfg.PrivateKey))
			if err != nil {
				return nil, err
			}
			a.key = k
		}
		return a, nil
	case AuthClientCredentials:
		return oauthForm{c: c, form: func() url.Values {
			return url.Values{"grant_type": {"client_credentials"}, "client_id": {c.cfg.ClientID}, "client_secret": {c.cfg.ClientSecret}}
		}}, nil
	case AuthPassword:
		return oauthForm{c: c, form: func() url.Values {
			return url.Values{
				"grant_type": {"password"}, "client_id": {c.cfg.ClientID}, "client_secret": {c.cfg.ClientSecret},
				"username": {c.cfg.Username}, "password": {c.cfg.Password + c.cfg.SecurityToken},
			}
		}}, nil
	case AuthSOAP:
		return soapAuth{c: c}, nil
	}
	return nil, errorf("auth %q is not supported", c.cfg.Auth)
}

func parseKey(pem []byte) (*rsa.PrivateKey, error) {
	if !bytes.Contains(pem, []byte("\n")) && bytes.Contains(pem, []byte(`\n`)) {
		// A key passed through a one-line environment variable or secret
		// often arrives with its newlines escaped.
		pem = bytes.ReplaceAll(pem, []byte(`\n`), []byte("\n"))
	}
	k, err := jwt.ParseRSAPrivateKeyFromPEM(pem)
	if err != nil {
		// jwt's message names the format only; never the key.
		return nil, errorf("private key: %w", err)
	}
	return k, nil
}

// tokenRequest posts an OAuth token request and reads the session from it.
func (c *apiClient) tokenRequest(ctx context.Context, form url.Values) (*session, error) {
	resp, err := c.do(ctx, &request{
		method: http.MethodPost, base: c.cfg.LoginURL, path: "/services/oauth2/token",
		body: []byte(form.Encode()), ctype: "application/x-www-form-urlencoded",
		// A token request changes nothing in the org, so a lost answer may be asked again.
		idempotent: true,
	})
	if err != nil {
		return nil, errorf("login (%s): %w", c.cfg.Auth, err)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
	}
	if err := json.Unmarshal(resp.body, &tr); err != nil || tr.AccessToken == "" {
		return nil, errorf("login (%s): the token answer holds no access token", c.cfg.Auth)
	}
	return &session{token: tr.AccessToken, instanceURL: tr.InstanceURL}, nil
}

type oauthForm struct {
	c    *apiClient
	form func() url.Values
}

func (a oauthForm) login(ctx context.Context) (*session, error) {
	return a.c.tokenRequest(ctx, a.form())
}

// jwtAuth is the OAuth 2.0 JWT bearer flow: a short-lived assertion signed
// with the connected app's private key, exchanged for an access token.
type jwtAuth struct {
	c   *apiClient
	key *rsa.PrivateKey
}

func (a *jwtAuth) login(ctx context.Context) (*session, error) {
	key := a.key
	if key == nil {
		pem, err := a.c.cfg.privateKeyFile()
		if err != nil {
			return nil, errorf("login (jwt): %w", err)
		}
		if key, err = parseKey(pem); err != nil {
			return nil, err
		}
	}
	now := time.Now()
	claims := jwt.RegisteredClaims{
		Issuer:   a.c.cfg.ClientID,
		Subject:  a.c.cfg.Username,
		Audience: jwt.ClaimStrings{a.c.cfg.audience()},
		// Salesforce accepts assertions that expire within 3 minutes.
		ExpiresAt: jwt.NewNumericDate(now.Add(3 * time.Minute)),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		return nil, errorf("login (jwt): signing the assertion: %w", err)
	}
	return a.c.tokenRequest(ctx, url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
		"assertion":  {signed},
	})
}

// soapAuth logs in with simpleforce's SOAP login() call, the legacy path
// for orgs without a connected app.
type soapAuth struct{ c *apiClient }

func (a soapAuth) login(ctx context.Context) (*session, error) {
	c := a.c
	if !c.soapWarned.Swap(true) {
		c.log.Warn("salesforce: auth soap uses the SOAP login() call, which Salesforce retires in Summer '27; move to jwt or client_credentials")
	}
	clientID := c.cfg.ClientID
	if clientID == "" {
		clientID = "retl"
	}
	sf := simpleforce.NewClient(c.cfg.LoginURL, clientID, c.cfg.APIVersion)
	sf.SetHttpClient(&http.Client{Transport: &sfTransport{c: c, ctx: ctx, login: true}})
	if err := sf.LoginPassword(c.cfg.Username, c.cfg.Password, c.cfg.SecurityToken); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, errorf("login (soap): %w", unwrapURLError(err))
	}
	if sf.GetSid() == "" {
		return nil, newError("login (soap): the login answer holds no session id")
	}
	return &session{token: sf.GetSid(), instanceURL: sf.GetLoc()}, nil
}

// unwrapURLError returns the cause that our transport gave net/http.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
