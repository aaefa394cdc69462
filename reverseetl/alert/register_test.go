package alert

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
)

const emailAndHook = `  on_sync_failure: true
  email: {connection: warehouse, integration: RETL_EMAIL, recipients: [data@example.com]}
  webhook: {url: "https://hooks.example.com/services/x"}
`

func validateWith(t *testing.T, p *config.Project, email EmailFunc, check CheckEmailFunc) (*reverseetl.Validation, error) {
	t.Helper()
	reg := reverseetl.NewRegistry()
	Register(reg, email, check)
	r := &reverseetl.Runner{Registry: reg, Handler: slog.DiscardHandler}
	return r.Validate(context.Background(), p)
}

func TestRegisterBuildsTheProjectsAlerts(t *testing.T) {
	cl := &closer{}
	email := func(*config.Connection, config.EmailAlert) (Notifier, io.Closer, error) { return &fake{}, cl, nil }
	v, err := validateWith(t, project(t, emailAndHook), email, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"2 alert notifiers"}, v.Summaries)
	assert.Equal(t, 1, cl.closed, "what the notifiers hold is released")

	v, err = validateWith(t, project(t, "  on_sync_failure: true\n"), email, nil)
	require.NoError(t, err)
	assert.Empty(t, v.Summaries, "no notifier, nothing to say")
}

func TestRegisterWithoutEmailRefusesAlertsEmail(t *testing.T) {
	_, err := validateWith(t, project(t, emailAndHook), nil, nil)
	assert.ErrorContains(t, err, "no email sender")
}

func TestRegisterReleasesWhatItBuiltOnError(t *testing.T) {
	cl := &closer{}
	email := func(*config.Connection, config.EmailAlert) (Notifier, io.Closer, error) { return &fake{}, cl, nil }
	p := project(t, emailAndHook)
	p.Alerts.Webhook.URL = "not a url"
	_, err := validateWith(t, p, email, nil)
	assert.ErrorContains(t, err, "alerts.webhook")
	assert.Equal(t, 1, cl.closed)
}

func TestRegisterChecksEmailOffline(t *testing.T) {
	p, err := config.Parse(context.Background(), "retl.yaml", []byte(`
connections:
  warehouse: {type: snowflake, account: acme}
alerts:
`+emailAndHook), nil, config.WithOffline())
	require.NoError(t, err)
	email := func(*config.Connection, config.EmailAlert) (Notifier, io.Closer, error) {
		t.Error("an offline validation opens no connection")
		return nil, nil, errors.New("not reached")
	}
	var checked string
	check := func(c *config.Connection, _ config.EmailAlert) error { checked = c.Name; return nil }
	v, err := validateWith(t, p, email, check)
	require.NoError(t, err)
	assert.Equal(t, "warehouse", checked)
	assert.Equal(t, []string{"2 alert notifiers"}, v.Summaries)

	_, err = validateWith(t, p, email, func(*config.Connection, config.EmailAlert) error { return errors.New("account is required") })
	assert.ErrorContains(t, err, "alerts.email: account is required")

	_, err = validateWith(t, p, email, nil)
	assert.NoError(t, err, "without a check, the keys alone are taken as they are")
}
