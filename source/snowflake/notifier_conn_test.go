package snowflake_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/source/snowflake"
)

// emailConnection parses a project file holding one connection named warehouse.
func emailConnection(t *testing.T, body string) *config.Connection {
	t.Helper()
	p, err := config.Parse(context.Background(), "retl.yaml", []byte("connections:\n  warehouse:\n"+body), nil)
	require.NoError(t, err)
	return p.Connections["warehouse"]
}

func TestOpenEmailNotifierChecksTheConnection(t *testing.T) {
	_, _, err := snowflake.OpenEmailNotifier(emailConnection(t, "    type: sql\n    dsn: x\n"), "RETL_EMAIL", []string{"a@example.com"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `needs a connection of type snowflake, not "sql"`)

	_, _, err = snowflake.OpenEmailNotifier(emailConnection(t, "    type: snowflake\n    user: u\n    password: p\n"), "RETL_EMAIL", []string{"a@example.com"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connections.warehouse.account")

	// An encrypted key that cannot be read is found when the pool is made.
	_, _, err = snowflake.OpenEmailNotifier(emailConnection(t, "    type: snowflake\n    account: acme\n    user: u\n    authenticator: jwt\n    private_key_file: /nonexistent/key.p8\n"), "RETL_EMAIL", []string{"a@example.com"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "key.p8")

	good := emailConnection(t, "    type: snowflake\n    account: acme\n    user: u\n    password: pw-Zq9-secret\n")
	_, _, err = snowflake.OpenEmailNotifier(good, " ", []string{"a@example.com"})
	assert.EqualError(t, err, "snowflake email: no notification integration")

	n, closer, err := snowflake.OpenEmailNotifier(good, "RETL_EMAIL", []string{"a@example.com"})
	require.NoError(t, err)
	require.NotNil(t, n)
	assert.NoError(t, closer.Close())
}

func TestOpenEmailNotifierSendsThroughTheConnection(t *testing.T) {
	s := fakesnowSettings(t)
	c := emailConnection(t, fmt.Sprintf("    type: snowflake\n    account: fakesnow\n    user: fake\n    password: snow-password\n    host: %s\n    port: %d\n    protocol: http\n    insecure_mode: true\n", s.Host, s.Port))
	n, closer, err := snowflake.OpenEmailNotifier(c, "RETL_EMAIL", []string{"a@example.com"})
	require.NoError(t, err)
	defer closer.Close()
	// fakesnow has no SYSTEM$SEND_EMAIL (the driver keeps retrying its
	// answer): the call reaches the warehouse, and the failure comes back
	// named after the integration.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err = n.Notify(ctx, "retl: 1 of 1 syncs failed", "body")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "snowflake email through integration RETL_EMAIL")
	assert.NotContains(t, err.Error(), "snow-password")
}

func TestAlertEmailFunctions(t *testing.T) {
	e := config.EmailAlert{Connection: "warehouse", Integration: "RETL_EMAIL", Recipients: []string{"a@example.com"}}
	bad := emailConnection(t, "    type: snowflake\n    user: u\n    password: p\n")
	_, _, err := snowflake.AlertEmail(bad, e)
	assert.ErrorContains(t, err, "connections.warehouse.account")
	assert.ErrorContains(t, snowflake.CheckAlertEmail(bad, e), "connections.warehouse.account")

	good := emailConnection(t, "    type: snowflake\n    account: acme\n    user: u\n    password: pw-Zq9-secret\n")
	assert.NoError(t, snowflake.CheckAlertEmail(good, e))
	n, closer, err := snowflake.AlertEmail(good, e)
	require.NoError(t, err)
	require.NotNil(t, n)
	assert.NoError(t, closer.Close())
}
