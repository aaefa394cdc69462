package snowflake

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"testing"

	sf "github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/internal/standin"
)

// TestSecretsNeverInLogs reads with each authenticator while gosnowflake
// logs at its most verbose and the source's own logger at debug, and looks
// for the secrets in both.
func TestSecretsNeverInLogs(t *testing.T) {
	fs := standin.Fakesnow(t)
	var driverLog, ownLog bytes.Buffer
	l := sf.GetLogger()
	l.SetOutput(&driverLog)
	require.NoError(t, l.SetLogLevel("trace"))
	defer func() {
		l.SetOutput(os.Stderr)
		QuietDriverLogs()
	}()
	logger := slog.New(slog.NewTextHandler(&ownLog, &slog.HandlerOptions{Level: slog.LevelDebug}))

	const password, token = "pw-Very-Secret-42", "oauth-Token-Secret-99"
	key := string(readKey(t, "rsa_key_aes256.p8"))
	for _, s := range []Settings{
		{Account: "fakesnow", User: "fake", Password: password},
		{Account: "fakesnow", Authenticator: AuthOAuth, Token: token},
		{Account: "fakesnow", User: "fake", Authenticator: AuthJWT, PrivateKey: key, PrivateKeyPassphrase: testPassphrase},
	} {
		s.Host, s.Port, s.Protocol = fs.Host, fs.Port, "http"
		src, err := New(s, "select 1 as ONE", WithLogger(logger), WithQueryTag("retl:logs:1"))
		require.NoError(t, err)
		require.NoError(t, src.Read(context.Background(), noEmit))
		require.NoError(t, src.Close())
	}
	require.NotZero(t, driverLog.Len(), "the driver logged")
	assert.Contains(t, ownLog.String(), "snowflake query started")
	assert.Contains(t, ownLog.String(), "retl:logs:1")
	for _, secret := range []string{password, token, testPassphrase, key[40:80]} {
		assert.NotContains(t, driverLog.String(), secret)
		assert.NotContains(t, ownLog.String(), secret)
	}
}
