package salesforce

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink/salesforce/sftest"
)

func rsaPEM(t testing.TB) (private, public string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
}

// Each login flow reaches the emulator and the session it yields writes.
func TestAuthFlows(t *testing.T) {
	priv, pub := rsaPEM(t)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	require.NoError(t, os.WriteFile(keyFile, []byte(priv), 0o600))
	cases := []struct {
		name string
		edit func(*connConfig)
	}{
		{"password", func(*connConfig) {}},
		{"client_credentials", func(c *connConfig) { c.Auth, c.Username, c.Password = AuthClientCredentials, "", "" }},
		{"jwt inline key", func(c *connConfig) { c.Auth, c.ClientSecret, c.Password, c.PrivateKey = AuthJWT, "", "", priv }},
		{"jwt key with escaped newlines", func(c *connConfig) {
			c.Auth, c.ClientSecret, c.Password, c.PrivateKey = AuthJWT, "", "", strings.ReplaceAll(priv, "\n", `\n`)
		}},
		{"jwt key file", func(c *connConfig) { c.Auth, c.ClientSecret, c.Password, c.PrivateKeyFile = AuthJWT, "", "", keyFile }},
		{"soap", func(c *connConfig) { c.Auth, c.ClientID, c.ClientSecret = AuthSOAP, "", "" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := emulator(t, sftest.WithJWTPublicKey([]byte(pub)))
			cl := emuClient(t, srv, c.edit)
			s := emuSink(t, cl, "Account", Insert, "", fastOptions(APIREST))
			requireOK(t, write(t, s, nameRecs(2, "K")))
			assert.Len(t, live(srv, "Account"), 2)
		})
	}
}

func TestSOAPWarnsOnce(t *testing.T) {
	srv := emulator(t)
	var logs bytes.Buffer
	cfg := emuConfig(srv)
	cfg.Auth = AuthSOAP
	c, err := newAPIClient(cfg, withLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.Describe(ctx, "Account")
	require.NoError(t, err)
	srv.ExpireSessions()
	_, err = c.Describe(ctx, "Contact")
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(logs.String(), "Summer '27"))
}

// A rejected login, whatever the flow, names the problem and holds no secret.
func TestAuthRejected(t *testing.T) {
	_, pub := rsaPEM(t)
	other, _ := rsaPEM(t)
	cases := []struct {
		name   string
		edit   func(*connConfig)
		code   string
		secret string
	}{
		{"password", func(c *connConfig) { c.Password = "Sup3rSecretPassw0rd" }, "invalid_grant", "Sup3rSecretPassw0rd"},
		{"client secret", func(c *connConfig) { c.Auth, c.ClientSecret = AuthClientCredentials, "Sup3rSecretClient" }, "invalid_client", "Sup3rSecretClient"},
		{"jwt wrong key", func(c *connConfig) { c.Auth, c.PrivateKey = AuthJWT, other }, "invalid_grant", strings.Split(other, "\n")[1]},
		{"soap", func(c *connConfig) { c.Auth, c.Password = AuthSOAP, "Sup3rSecretSoap<&>" }, "INVALID_LOGIN", "Sup3rSecretSoap"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := emulator(t, sftest.WithJWTPublicKey([]byte(pub)))
			cl := emuClient(t, srv, c.edit)
			_, err := cl.Describe(context.Background(), "Account")
			require.ErrorIs(t, err, ErrLogin)
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, c.code, ae.Code)
			assert.NotContains(t, err.Error(), c.secret)
			assert.NotContains(t, ae.Message, c.secret)
			// Not repeated.
			_, err = cl.Describe(context.Background(), "Account")
			require.ErrorIs(t, err, ErrLogin)
			assert.Equal(t, 1, countRequests(srv, "POST", "/services/oauth2/token")+countRequests(srv, "POST", "/services/Soap/u/"))
		})
	}
}

func TestAuthKeyErrors(t *testing.T) {
	srv := emulator(t)
	cfg := emuConfig(srv)
	cfg.Auth, cfg.PrivateKey = AuthJWT, "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----\n"
	_, err := newAPIClient(cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "private key")
	assert.NotContains(t, err.Error(), "not a key")

	cfg.PrivateKey, cfg.PrivateKeyFile = "", filepath.Join(t.TempDir(), "missing.pem")
	c, err := newAPIClient(cfg, withLogger(quiet))
	require.NoError(t, err, "the file is read at login, not at build")
	_, err = c.Describe(context.Background(), "Account")
	require.ErrorIs(t, err, ErrLogin)
	assert.Contains(t, err.Error(), "private_key_file")

	bad := filepath.Join(t.TempDir(), "bad.pem")
	require.NoError(t, os.WriteFile(bad, []byte("garbage"), 0o600))
	cfg.PrivateKeyFile = bad
	c, err = newAPIClient(cfg, withLogger(quiet))
	require.NoError(t, err)
	_, err = c.Describe(context.Background(), "Account")
	require.ErrorIs(t, err, ErrLogin)
	assert.Contains(t, err.Error(), "private key")
}

// The instance URL a login answers with must also be https or loopback.
func TestInstanceURLChecked(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv)
	c.cfg.InstanceURL = "http://example.com"
	_, err := c.Describe(context.Background(), "Account")
	require.ErrorIs(t, err, ErrLogin)
	assert.Contains(t, err.Error(), "http is allowed only for loopback hosts")
}

func TestAPICallsCounted(t *testing.T) {
	srv := emulator(t)
	s := emuSink(t, emuClient(t, srv), "Account", Insert, "", fastOptions(APIREST))
	requireOK(t, write(t, s, nameRecs(450, "K")))
	// Three collection calls, plus the login.
	assert.EqualValues(t, 4, s.Stats().Calls)
	assert.Equal(t, []string{}, s.Stats().Jobs)
}
