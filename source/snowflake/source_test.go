package snowflake

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	sf "github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/source"
)

func noEmit(source.Batch) error { return nil }

func TestNewChecks(t *testing.T) {
	_, err := New(Settings{}, "select 1", WithSyncName("accounts"))
	assert.EqualError(t, err, "sync accounts: snowflake settings: account: missing required key")
	_, err = New(passwordSettings(), "")
	assert.EqualError(t, err, "snowflake settings: no query")
	_, err = New(passwordSettings(), "select 1", WithQueryTag(strings.Repeat("x", 2001)))
	assert.ErrorContains(t, err, "query_tag: is longer than Snowflake's 2000 characters")

	s := passwordSettings()
	s.QueryTag = "from-settings"
	src, err := New(s, "select 1")
	require.NoError(t, err)
	assert.Equal(t, "from-settings", src.opts.queryTag)
	src, err = New(s, "select 1", WithQueryTag("from-option"), WithBatchSize(0))
	require.NoError(t, err)
	assert.Equal(t, "from-option", src.opts.queryTag)
	assert.Equal(t, DefaultBatchSize, src.opts.batchSize)
}

func TestOpenDBChecks(t *testing.T) {
	s := passwordSettings()
	s.Authenticator = AuthJWT
	s.Password = ""
	s.PrivateKeyFile = "testdata/rsa_key_aes256.p8"
	s.PrivateKeyPassphrase = "wrong-passphrase-123"
	_, err := OpenDB(s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "snowflake: private_key_file: cannot decrypt")
	assert.NotContains(t, err.Error(), "wrong-passphrase-123")

	db, err := OpenDB(passwordSettings())
	require.NoError(t, err, "nothing is reached until first use")
	require.NoError(t, db.Close())
}

// notQueryer is a driver connection without QueryerContext.
type notQueryer struct{}

func (notQueryer) Prepare(string) (driver.Stmt, error) { return nil, errors.New("no") }
func (notQueryer) Close() error                        { return nil }
func (notQueryer) Begin() (driver.Tx, error)           { return nil, errors.New("no") }

func TestReadErrorPaths(t *testing.T) {
	boom := errors.New("cannot open")
	src, err := New(passwordSettings(), "select 1", WithSyncName("s"),
		withDB(func() (*sql.DB, bool, error) { return nil, false, boom }))
	require.NoError(t, err)
	err = src.Read(context.Background(), noEmit)
	assert.ErrorIs(t, err, boom)
	assert.EqualError(t, err, "sync s: snowflake open: cannot open")

	refused := errors.New("390100 (08004): Incorrect username or password was specified.")
	db := sql.OpenDB(connector{connect: func() (driver.Conn, error) { return nil, refused }})
	defer db.Close()
	src, err = New(passwordSettings(), "select 1", withDB(func() (*sql.DB, bool, error) { return db, false, nil }))
	require.NoError(t, err)
	err = src.Read(context.Background(), noEmit)
	assert.ErrorIs(t, err, refused)
	assert.Contains(t, err.Error(), "snowflake connect: 390100")
	// Cancelled: the cancellation, not the driver's echo of it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, src.Read(ctx, noEmit), context.Canceled)

	other := sql.OpenDB(connector{connect: func() (driver.Conn, error) { return notQueryer{}, nil }})
	defer other.Close()
	src, err = New(passwordSettings(), "select 1", withDB(func() (*sql.DB, bool, error) { return other, true, nil }))
	require.NoError(t, err)
	assert.ErrorContains(t, src.Read(context.Background(), noEmit), "driver connection snowflake.notQueryer cannot run queries")
	// The source owns that database: Close closes it, once.
	require.NoError(t, src.Close())
	assert.Error(t, other.Ping())
	require.NoError(t, src.Close())
}

// echoTransport answers every request with a failed login whose message
// quotes what it was sent, as a careless proxy or server might.
type echoTransport struct{}

func (echoTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	msg := strings.ReplaceAll(string(body), `"`, `'`)
	resp := `{"data":null,"code":"390100","message":"Incorrect username or password: ` + msg + `","success":false}`
	return &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{"Content-Type": []string{"application/json"}},
		Body: io.NopCloser(bytes.NewReader([]byte(resp))), Request: req,
	}, nil
}

func TestSecretsNeverInErrors(t *testing.T) {
	const password = "pw-Very-Secret-42"
	s := Settings{Account: "acme", User: "RETL", Password: password, Host: "127.0.0.1", Port: 9, Protocol: "http"}
	project := &config.Redactor{}
	src, err := New(s, "select 1", WithTransport(echoTransport{}), WithSyncName("accounts"), WithRedactor(project))
	require.NoError(t, err)
	defer src.Close()
	err = src.Read(context.Background(), noEmit)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), password)
	assert.Contains(t, err.Error(), "[REDACTED]", "the echo was there and was taken out")
	assert.Contains(t, err.Error(), "sync accounts: snowflake connect: ")
	var se *sf.SnowflakeError
	require.ErrorAs(t, err, &se, "Snowflake's error is still reachable")
	assert.Equal(t, 390100, se.Number)
	// The project's redactor learnt the password too, for logs and reports.
	assert.Equal(t, "x [REDACTED] y", project.Redact("x "+password+" y"))

	// A key-pair connection: neither the key nor its passphrase.
	key := string(readKey(t, "rsa_key_aes256.p8"))
	jwt := Settings{Account: "acme", User: "RETL", Authenticator: AuthJWT, PrivateKey: key, PrivateKeyPassphrase: testPassphrase,
		Host: "127.0.0.1", Port: 9, Protocol: "http"}
	src, err = New(jwt, "select 1", WithTransport(echoTransport{}))
	require.NoError(t, err)
	defer src.Close()
	err = src.Read(context.Background(), noEmit)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), testPassphrase)
	for _, line := range strings.Split(key, "\n")[1:5] {
		assert.NotContains(t, err.Error(), line)
	}

	// And an OAuth token, which the login request carries.
	const token = "oauth-Token-Secret-99"
	oauth := Settings{Account: "acme", Authenticator: AuthOAuth, Token: token, Host: "127.0.0.1", Port: 9, Protocol: "http"}
	src, err = New(oauth, "select 1", WithTransport(echoTransport{}))
	require.NoError(t, err)
	defer src.Close()
	err = src.Read(context.Background(), noEmit)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), token)
	assert.Contains(t, err.Error(), "[REDACTED]")
}
