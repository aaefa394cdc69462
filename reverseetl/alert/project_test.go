package alert

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
)

type closer struct{ closed int }

func (c *closer) Close() error { c.closed++; return nil }

type badCloser struct{}

func (badCloser) Close() error { return errors.New("close failed") }

func project(t *testing.T, alerts string) *config.Project {
	t.Helper()
	p, err := config.Parse(context.Background(), "retl.yaml", []byte(`
connections:
  warehouse: {type: snowflake, account: acme}
alerts:
`+alerts), nil)
	require.NoError(t, err)
	return p
}

func TestNotifiersNone(t *testing.T) {
	ns, c, err := Notifiers(project(t, "  on_sync_failure: true\n"), nil)
	require.NoError(t, err)
	assert.Empty(t, ns)
	assert.NoError(t, c.Close())
}

func TestNotifiersEmailAndWebhook(t *testing.T) {
	p := project(t, `  on_sync_failure: true
  email: {connection: warehouse, integration: RETL_EMAIL, recipients: [data@example.com]}
  webhook: {url: "https://hooks.example.com/services/x"}
`)
	var gotConn *config.Connection
	var gotAlert config.EmailAlert
	cl := &closer{}
	email := func(conn *config.Connection, e config.EmailAlert) (Notifier, io.Closer, error) {
		gotConn, gotAlert = conn, e
		return &fake{}, cl, nil
	}
	ns, c, err := Notifiers(p, email)
	require.NoError(t, err)
	require.Len(t, ns, 2)
	assert.Equal(t, "warehouse", gotConn.Name)
	assert.Equal(t, []string{"data@example.com"}, gotAlert.Recipients)
	assert.Equal(t, "email via warehouse integration RETL_EMAIL", NameOf(ns[0]))
	assert.Equal(t, "webhook hooks.example.com", NameOf(ns[1]))
	require.NoError(t, c.Close())
	assert.Equal(t, 1, cl.closed)
}

func TestNotifiersErrors(t *testing.T) {
	emailAlert := "  email: {connection: warehouse, integration: RETL_EMAIL, recipients: [data@example.com]}\n"

	_, _, err := Notifiers(project(t, emailAlert), nil)
	assert.EqualError(t, err, "alerts.email: this program has no email sender; remove alerts.email or use a build that has one")

	failing := func(*config.Connection, config.EmailAlert) (Notifier, io.Closer, error) {
		return nil, nil, errors.New("no driver")
	}
	_, _, err = Notifiers(project(t, emailAlert), failing)
	assert.EqualError(t, err, "alerts.email: no driver")

	p := project(t, emailAlert)
	p.Alerts.Email.Connection = "gone"
	_, _, err = Notifiers(p, failing)
	assert.EqualError(t, err, `alerts.email: unknown connection "gone"`)

	// A bad webhook URL closes what the email notifier opened.
	p = project(t, emailAlert)
	p.Alerts.Webhook = &config.WebhookAlert{URL: "not a url"}
	cl := &closer{}
	ok := func(*config.Connection, config.EmailAlert) (Notifier, io.Closer, error) { return &fake{}, cl, nil }
	_, c, err := Notifiers(p, ok)
	assert.EqualError(t, err, "alerts.webhook: webhook: the URL must be an absolute http or https URL")
	assert.Equal(t, 1, cl.closed)
	assert.NoError(t, c.Close())
}

func TestCloseAllJoinsErrors(t *testing.T) {
	cl := &closer{}
	err := closeAll{badCloser{}, cl}.Close()
	assert.EqualError(t, err, "close failed")
	assert.Equal(t, 1, cl.closed, "a failing closer does not stop the others")
}

func TestNotifiersOfflineLeaveUnresolvedWebhooks(t *testing.T) {
	p, err := config.Parse(context.Background(), "retl.yaml", []byte("alerts:\n  on_sync_failure: true\n  webhook: {url: \"${aws-sm:alerts#url}\"}\n"), nil,
		config.WithOffline(), config.WithResolver("aws-sm", config.ResolverFunc(func(context.Context, string) (string, error) { return "", errors.New("not reached") })))
	require.NoError(t, err)
	ns, c, err := Notifiers(p, nil)
	require.NoError(t, err)
	defer c.Close()
	require.Len(t, ns, 1)
	assert.ErrorContains(t, ns[0].Notify(context.Background(), "s", "b"), "offline validation")
}
