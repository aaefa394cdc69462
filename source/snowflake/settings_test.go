package snowflake

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sf "github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
)

func passwordSettings() Settings {
	return Settings{Account: "acme-xy12345", User: "RETL", Password: "pw-secret-1"}
}

func TestValidate(t *testing.T) {
	pemKey := string(readKey(t, "rsa_key.p8"))
	cases := []struct {
		name string
		mod  func(*Settings)
		msg  string
	}{
		{"ok", func(*Settings) {}, ""},
		{"account", func(s *Settings) { s.Account = " " }, "account: missing required key"},
		{"user", func(s *Settings) { s.User = "" }, "user: missing required key for authenticator snowflake"},
		{"password", func(s *Settings) { s.Password = "" }, "password: missing required key for authenticator snowflake"},
		{"token with password", func(s *Settings) { s.Token = "tok-1234" }, "token: is not used by authenticator snowflake"},
		{"jwt ok", func(s *Settings) { s.Authenticator, s.Password, s.PrivateKey = AuthJWT, "", pemKey }, ""},
		{"jwt user", func(s *Settings) { s.Authenticator, s.Password, s.User, s.PrivateKey = AuthJWT, "", "", pemKey }, "user: missing required key for authenticator jwt"},
		{"jwt no key", func(s *Settings) { s.Authenticator, s.Password = AuthJWT, "" }, "private_key: authenticator jwt needs exactly one of private_key and private_key_file"},
		{"jwt two keys", func(s *Settings) {
			s.Authenticator, s.Password, s.PrivateKey, s.PrivateKeyFile = AuthJWT, "", pemKey, "k.p8"
		}, "exactly one of private_key and private_key_file"},
		{"jwt password", func(s *Settings) { s.Authenticator, s.PrivateKeyFile = AuthJWT, "k.p8" }, "password: is not used by authenticator jwt"},
		{"oauth ok", func(s *Settings) { s.Authenticator, s.Password, s.User, s.Token = AuthOAuth, "", "", "tok-1234" }, ""},
		{"oauth token", func(s *Settings) { s.Authenticator, s.Password = AuthOAuth, "" }, "token: missing required key for authenticator oauth"},
		{"oauth key", func(s *Settings) { s.Authenticator, s.Password, s.Token, s.PrivateKeyFile = AuthOAuth, "", "t", "k" }, "private_key_file: is not used by authenticator oauth"},
		{"authenticator", func(s *Settings) { s.Authenticator = "externalbrowser" }, "authenticator: must be one of snowflake, jwt, oauth"},
		{"https", func(s *Settings) { s.Protocol = "https" }, ""},
		{"http remote", func(s *Settings) { s.Protocol, s.Host = "http", "acme.snowflakecomputing.com" }, "protocol: http is allowed only with a loopback host"},
		{"http loopback", func(s *Settings) { s.Protocol, s.Host = "http", "127.0.0.1" }, ""},
		{"http localhost", func(s *Settings) { s.Protocol, s.Host = "http", "localhost" }, ""},
		{"http ::1", func(s *Settings) { s.Protocol, s.Host = "http", "::1" }, ""},
		{"protocol", func(s *Settings) { s.Protocol = "ftp" }, "protocol: must be https or http"},
		{"port", func(s *Settings) { s.Port = 70000 }, "port: must be between 1 and 65535"},
		{"insecure remote", func(s *Settings) { s.InsecureMode = true }, "insecure_mode: is allowed only with a loopback host"},
		{"insecure on a name", func(s *Settings) { s.InsecureMode, s.Host = true, "fakesnow.internal" }, "insecure_mode"},
		{"insecure loopback", func(s *Settings) { s.InsecureMode, s.Host = true, "127.0.0.1" }, ""},
		{"query tag", func(s *Settings) { s.QueryTag = string(make([]byte, 2001)) }, "query_tag: is longer than Snowflake's 2000 characters"},
		{"timeout", func(s *Settings) { s.StatementTimeout = "10m" }, ""},
		{"timeout text", func(s *Settings) { s.StatementTimeout = "ten minutes" }, "statement_timeout: must be a duration of at least 1s"},
		{"timeout short", func(s *Settings) { s.StatementTimeout = "10ms" }, "statement_timeout"},
		{"login timeout text", func(s *Settings) { s.LoginTimeout = "soon" }, "login_timeout: must be a duration of at least 1s"},
	}
	for _, c := range cases {
		s := passwordSettings()
		c.mod(&s)
		err := s.Validate()
		if c.msg == "" {
			assert.NoError(t, err, c.name)
			continue
		}
		if assert.Error(t, err, c.name) {
			assert.Contains(t, err.Error(), c.msg, c.name)
		}
	}
}

func TestDriverConfig(t *testing.T) {
	s := passwordSettings()
	s.Warehouse, s.Role, s.Database, s.Schema = "WH", "RETL_ROLE", "ANALYTICS", "PUBLIC"
	s.StatementTimeout = "90500ms"
	cfg, err := s.driverConfig()
	require.NoError(t, err)
	assert.Equal(t, sf.AuthTypeSnowflake, cfg.Authenticator)
	assert.Equal(t, "acme-xy12345", cfg.Account)
	assert.Equal(t, "pw-secret-1", cfg.Password)
	assert.Equal(t, []string{"WH", "RETL_ROLE", "ANALYTICS", "PUBLIC"}, []string{cfg.Warehouse, cfg.Role, cfg.Database, cfg.Schema})
	assert.Equal(t, "91", *cfg.Params["STATEMENT_TIMEOUT_IN_SECONDS"], "rounded up to whole seconds")
	assert.False(t, cfg.DisableOCSPChecks)
	assert.Equal(t, "retl", cfg.Application)

	s = passwordSettings()
	cfg, err = s.driverConfig()
	require.NoError(t, err)
	assert.Equal(t, "3600", *cfg.Params["STATEMENT_TIMEOUT_IN_SECONDS"], "one hour by default")
	//lint:ignore SA1019 gosnowflake 1.19 has no replacement for its deprecated timeout fields.
	assert.Equal(t, DefaultLoginTimeout, cfg.LoginTimeout)
	s.LoginTimeout = "15s"
	cfg, err = s.driverConfig()
	require.NoError(t, err)
	//lint:ignore SA1019 gosnowflake 1.19 has no replacement for its deprecated timeout fields.
	assert.Equal(t, 15*time.Second, cfg.LoginTimeout)
	s.LoginTimeout = ""

	s.Host, s.Port, s.Protocol, s.InsecureMode = "127.0.0.1", 8080, "http", true
	cfg, err = s.driverConfig()
	require.NoError(t, err)
	assert.Equal(t, []any{"127.0.0.1", 8080, "http", true}, []any{cfg.Host, cfg.Port, cfg.Protocol, cfg.DisableOCSPChecks})

	// Key pair from a file, read when the connection opens.
	jwt := Settings{Account: "a", User: "u", Authenticator: AuthJWT,
		PrivateKeyFile: filepath.Join("testdata", "rsa_key_des3.p8"), PrivateKeyPassphrase: testPassphrase}
	cfg, err = jwt.driverConfig()
	require.NoError(t, err)
	assert.Equal(t, sf.AuthTypeJwt, cfg.Authenticator)
	require.NotNil(t, cfg.PrivateKey)
	jwt.PrivateKeyFile = filepath.Join(t.TempDir(), "missing.p8")
	_, err = jwt.driverConfig()
	assert.ErrorContains(t, err, "private_key_file: open ")
	jwt.PrivateKeyFile = filepath.Join("testdata", "rsa_key_aes256.p8")
	jwt.PrivateKeyPassphrase = "wrong-passphrase"
	_, err = jwt.driverConfig()
	assert.ErrorContains(t, err, "private_key_file: cannot decrypt the private key")
	assert.NotContains(t, err.Error(), "wrong-passphrase")

	oauth := Settings{Account: "a", Authenticator: AuthOAuth, Token: "tok-1234"}
	cfg, err = oauth.driverConfig()
	require.NoError(t, err)
	assert.Equal(t, sf.AuthTypeOAuth, cfg.Authenticator)
	assert.Equal(t, "tok-1234", cfg.Token)

	var empty Settings
	_, err = empty.driverConfig()
	assert.ErrorContains(t, err, "account: missing required key")
}

func connectionOf(t *testing.T, typ, yamlText string) *config.Connection {
	t.Helper()
	sec, err := config.NewSection("retl.yaml", yamlText)
	require.NoError(t, err)
	return &config.Connection{Name: "warehouse", Type: typ, Pos: config.Pos{File: "retl.yaml", Line: 4, Col: 3}, Section: sec}
}

func TestSettingsFromConnection(t *testing.T) {
	s, err := SettingsFromConnection(connectionOf(t, "snowflake", `
account: acme-xy12345
user: RETL
password: pw-secret-1
warehouse: WH
statement_timeout: 30m
query_tag: nightly`))
	require.NoError(t, err)
	assert.Equal(t, "acme-xy12345", s.Account)
	assert.Equal(t, "30m", s.StatementTimeout)
	assert.Equal(t, "nightly", s.QueryTag)

	pemKey, err := os.ReadFile("testdata/rsa_key.p8")
	require.NoError(t, err)
	indented := ""
	for _, line := range strings.Split(strings.TrimSpace(string(pemKey)), "\n") {
		indented += "  " + line + "\n"
	}
	_, err = SettingsFromConnection(connectionOf(t, "snowflake", "account: a\nuser: u\nauthenticator: jwt\nprivate_key: |\n"+indented))
	require.NoError(t, err, "an inline key is parsed at build time")

	cases := []struct {
		name string
		conn *config.Connection
		msg  string
	}{
		{"nil", nil, "snowflake: no connection"},
		{"type", connectionOf(t, "sql", "dsn: x"), `retl.yaml:4:3: key "connections.warehouse.type": needs a connection of type snowflake, not "sql"`},
		{"unknown key", connectionOf(t, "snowflake", "account: a\npasword: x"), `key "pasword"`},
		{"invalid", connectionOf(t, "snowflake", "account: a\nuser: u"), `retl.yaml:4:3: key "connections.warehouse.password": missing required key for authenticator snowflake`},
		{"bad inline key", connectionOf(t, "snowflake", "account: a\nuser: u\nauthenticator: jwt\nprivate_key: not-a-key-at-all"),
			`key "connections.warehouse.private_key": no PEM block found`},
	}
	for _, c := range cases {
		_, err := SettingsFromConnection(c.conn)
		if assert.Error(t, err, c.name) {
			assert.Contains(t, err.Error(), c.msg, c.name)
		}
	}
	// Errors that are not about one key pass through.
	other := assert.AnError
	assert.Same(t, other, asConfigError(connectionOf(t, "snowflake", ""), other))
}

func TestSecretsListsKeyLines(t *testing.T) {
	s := Settings{Password: "p", Token: "t", PrivateKeyPassphrase: "pp", PrivateKey: "-----BEGIN PRIVATE KEY-----\nABCDEFGHIJKLMNOPQRSTUVWXYZ\nshort\n-----END PRIVATE KEY-----\n"}
	got := s.secrets()
	assert.Contains(t, got, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
	assert.NotContains(t, got, "short")
	assert.NotContains(t, got, "-----BEGIN PRIVATE KEY-----")
}
