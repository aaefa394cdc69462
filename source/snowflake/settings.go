package snowflake

import (
	"crypto/rsa"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	sf "github.com/snowflakedb/gosnowflake"

	"github.com/retl-go/retl/config"
)

// Type is the source and connection type this package registers.
const Type = "snowflake"

// Authenticators a connection may name.
const (
	AuthPassword = "snowflake" // user and password (the default)
	AuthJWT      = "jwt"       // key pair: user and an RSA private key
	AuthOAuth    = "oauth"     // an OAuth access token
)

// DefaultStatementTimeout bounds how long Snowflake runs one query.
const DefaultStatementTimeout = time.Hour

// DefaultLoginTimeout bounds the driver's login retries.
const DefaultLoginTimeout = time.Minute

// maxQueryTag is Snowflake's limit on QUERY_TAG.
const maxQueryTag = 2000

// Settings are the keys of a connection of type snowflake.
type Settings struct {
	Account   string `yaml:"account"`
	User      string `yaml:"user"`
	Password  string `yaml:"password"`
	Warehouse string `yaml:"warehouse"`
	Role      string `yaml:"role"`
	Database  string `yaml:"database"`
	Schema    string `yaml:"schema"`

	// Authenticator is snowflake (password, the default), jwt or oauth.
	Authenticator string `yaml:"authenticator"`
	// PrivateKey is a PEM RSA private key (PKCS#8, optionally encrypted
	// with PrivateKeyPassphrase, or PKCS#1) for jwt; PrivateKeyFile names
	// a file holding one instead.
	PrivateKey           string `yaml:"private_key"`
	PrivateKeyFile       string `yaml:"private_key_file"`
	PrivateKeyPassphrase string `yaml:"private_key_passphrase"`
	// Token is the OAuth access token for oauth.
	Token string `yaml:"token"`

	// Host, Port and Protocol override where the driver connects, for
	// private links and for emulators.
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	Protocol string `yaml:"protocol"`
	// InsecureMode turns off certificate revocation checks. It is the
	// emulator mode: allowed only when Host is a loopback address.
	InsecureMode bool `yaml:"insecure_mode"`

	// QueryTag tags every query; the default is retl:<sync>:<run id>.
	QueryTag string `yaml:"query_tag"`
	// StatementTimeout is a Go duration such as "30m" (default 1h), set as
	// the session's STATEMENT_TIMEOUT_IN_SECONDS.
	StatementTimeout string `yaml:"statement_timeout"`
	// LoginTimeout is a Go duration (default 60s) bounding the driver's
	// login retries, so an unreachable account fails a sync in a minute,
	// not after the driver's own five.
	LoginTimeout string `yaml:"login_timeout"`
}

// settingError is a problem with one key of the settings.
type settingError struct {
	key string
	msg string
}

func (e *settingError) Error() string { return e.key + ": " + e.msg }

func bad(key, format string, args ...any) error {
	return &settingError{key: key, msg: fmt.Sprintf(format, args...)}
}

// isLoopback reports whether host names this machine only.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Settings) authenticator() string {
	if s.Authenticator == "" {
		return AuthPassword
	}
	return s.Authenticator
}

// Validate checks the settings without reaching Snowflake or reading files.
func (s *Settings) Validate() error {
	if strings.TrimSpace(s.Account) == "" {
		return bad("account", "missing required key")
	}
	switch s.authenticator() {
	case AuthPassword:
		if s.User == "" {
			return bad("user", "missing required key for authenticator snowflake")
		}
		if s.Password == "" {
			return bad("password", "missing required key for authenticator snowflake")
		}
		if err := s.only(AuthPassword, "private_key", "private_key_file", "private_key_passphrase", "token"); err != nil {
			return err
		}
	case AuthJWT:
		if s.User == "" {
			return bad("user", "missing required key for authenticator jwt")
		}
		if (s.PrivateKey == "") == (s.PrivateKeyFile == "") {
			return bad("private_key", "authenticator jwt needs exactly one of private_key and private_key_file")
		}
		if err := s.only(AuthJWT, "password", "token"); err != nil {
			return err
		}
	case AuthOAuth:
		if s.Token == "" {
			return bad("token", "missing required key for authenticator oauth")
		}
		if err := s.only(AuthOAuth, "password", "private_key", "private_key_file", "private_key_passphrase"); err != nil {
			return err
		}
	default:
		return bad("authenticator", "must be one of snowflake, jwt, oauth")
	}
	switch s.Protocol {
	case "", "https":
	case "http":
		// Plain HTTP would send credentials in the clear: only to an
		// emulator on this machine.
		if !isLoopback(s.Host) {
			return bad("protocol", "http is allowed only with a loopback host (an emulator such as fakesnow)")
		}
	default:
		return bad("protocol", "must be https or http")
	}
	if s.Port < 0 || s.Port > 65535 {
		return bad("port", "must be between 1 and 65535")
	}
	if s.InsecureMode && !isLoopback(s.Host) {
		return bad("insecure_mode", "is allowed only with a loopback host (an emulator such as fakesnow)")
	}
	if len(s.QueryTag) > maxQueryTag {
		return bad("query_tag", "is longer than Snowflake's %d characters", maxQueryTag)
	}
	if _, err := s.statementTimeout(); err != nil {
		return err
	}
	if _, err := s.loginTimeout(); err != nil {
		return err
	}
	return nil
}

func (s *Settings) loginTimeout() (time.Duration, error) {
	if s.LoginTimeout == "" {
		return DefaultLoginTimeout, nil
	}
	d, err := time.ParseDuration(s.LoginTimeout)
	if err != nil || d < time.Second {
		return 0, bad("login_timeout", "must be a duration of at least 1s, such as 30s")
	}
	return d, nil
}

// only rejects keys that belong to other authenticators.
func (s *Settings) only(auth string, keys ...string) error {
	set := map[string]bool{
		"password":               s.Password != "",
		"private_key":            s.PrivateKey != "",
		"private_key_file":       s.PrivateKeyFile != "",
		"private_key_passphrase": s.PrivateKeyPassphrase != "",
		"token":                  s.Token != "",
	}
	for _, k := range keys {
		if set[k] {
			return bad(k, "is not used by authenticator %s", auth)
		}
	}
	return nil
}

func (s *Settings) statementTimeout() (time.Duration, error) {
	if s.StatementTimeout == "" {
		return DefaultStatementTimeout, nil
	}
	d, err := time.ParseDuration(s.StatementTimeout)
	if err != nil || d < time.Second {
		return 0, bad("statement_timeout", "must be a duration of at least 1s, such as 30m")
	}
	return d, nil
}

// secrets lists the values that must never be shown.
func (s *Settings) secrets() []string {
	out := []string{s.Password, s.Token, s.PrivateKeyPassphrase, s.PrivateKey}
	// A key's lines on their own, should any text quote part of it.
	for _, line := range strings.Split(s.PrivateKey, "\n") {
		if line = strings.TrimSpace(line); len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			out = append(out, line)
		}
	}
	return out
}

// privateKey returns the jwt key, reading PrivateKeyFile if set.
func (s *Settings) privateKey() (*rsa.PrivateKey, error) {
	pemText := []byte(s.PrivateKey)
	key := "private_key"
	if s.PrivateKeyFile != "" {
		key = "private_key_file"
		b, err := os.ReadFile(s.PrivateKeyFile)
		if err != nil {
			// The path is not secret; the error names it and the cause.
			return nil, bad(key, "%v", err)
		}
		pemText = b
	}
	k, err := parsePrivateKey(pemText, []byte(s.PrivateKeyPassphrase))
	if err != nil {
		return nil, bad(key, "%v", err)
	}
	return k, nil
}

// driverConfig builds the gosnowflake configuration. It reads the private
// key file, so it runs when the connection opens, not at build time.
func (s *Settings) driverConfig() (*sf.Config, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	timeout, _ := s.statementTimeout()
	login, _ := s.loginTimeout()
	seconds := strconv.FormatInt(int64((timeout+time.Second-1)/time.Second), 10)
	cfg := &sf.Config{
		Account:     s.Account,
		User:        s.User,
		Password:    s.Password,
		Warehouse:   s.Warehouse,
		Role:        s.Role,
		Database:    s.Database,
		Schema:      s.Schema,
		Host:        s.Host,
		Port:        s.Port,
		Protocol:    s.Protocol,
		Application: "retl",
		Params:      map[string]*string{"STATEMENT_TIMEOUT_IN_SECONDS": &seconds},
		Token:       s.Token,
		// Revocation checks only; TLS itself is always verified.
		DisableOCSPChecks: s.InsecureMode,
	}
	//lint:ignore SA1019 gosnowflake 1.19 has no replacement for its deprecated timeout fields.
	cfg.LoginTimeout = login
	switch s.authenticator() {
	case AuthPassword:
		cfg.Authenticator = sf.AuthTypeSnowflake
	case AuthJWT:
		cfg.Authenticator = sf.AuthTypeJwt
		k, err := s.privateKey()
		if err != nil {
			return nil, err
		}
		cfg.PrivateKey = k
	case AuthOAuth:
		cfg.Authenticator = sf.AuthTypeOAuth
	}
	return cfg, nil
}

// SettingsFromConnection decodes a connection of type snowflake strictly
// and validates it. Errors name the file, line and key.
func SettingsFromConnection(c *config.Connection) (Settings, error) {
	return settingsFrom(c, true)
}

// DecodeSettings decodes and checks a connection as an offline validation
// (config.WithOffline) can: values that are unresolved references are not
// parsed.
func DecodeSettings(c *config.Connection) (Settings, error) {
	return settingsFrom(c, false)
}

// settingsFrom decodes and checks a connection; with check false, an
// unresolved reference in place of a private key is let through.
func settingsFrom(c *config.Connection, check bool) (Settings, error) {
	var s Settings
	if c == nil {
		return s, fmt.Errorf("snowflake: no connection")
	}
	if c.Type != Type {
		return s, &config.Error{Pos: c.Pos, Key: "connections." + c.Name + ".type",
			Msg: fmt.Sprintf("needs a connection of type snowflake, not %q", c.Type)}
	}
	if err := c.Section.Decode(&s); err != nil {
		return s, err
	}
	if err := s.Validate(); err != nil {
		return s, asConfigError(c, err)
	}
	// An unresolved reference is not a key to parse yet.
	if s.PrivateKey != "" && (check || !strings.Contains(s.PrivateKey, "${")) {
		// Parse an inline key now, so `retl validate` reports a bad one.
		if _, err := s.privateKey(); err != nil {
			return s, asConfigError(c, err)
		}
	}
	return s, nil
}

// asConfigError places a settings error at its connection.
func asConfigError(c *config.Connection, err error) error {
	if se, ok := err.(*settingError); ok {
		return &config.Error{Pos: c.Pos, Key: "connections." + c.Name + "." + se.key, Msg: se.msg}
	}
	return err
}
