package config

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOfflineLeavesReferencesUnresolved(t *testing.T) {
	ctx := context.Background()
	project := []byte(`connections:
  crm:
    type: salesforce
    login_url: ${SF_LOGIN_URL}
    password: ${vault:crm#password}
    user: ${SF_USER}
alerts:
  webhook:
    url: ${aws-sm:alerts#url}
`)
	sync := []byte("source:\n  type: sql\n  query: select 1\ndestination:\n  connection: crm\n  object: Account\n  operation: insert\nmapping:\n  - {from: NAME, to: Name}\n")
	calls := 0
	resolver := ResolverFunc(func(context.Context, string) (string, error) { calls++; return "secret-value", nil })
	env := func(k string) (string, bool) {
		if k == "SF_USER" {
			return "integration@example.com", true
		}
		return "", false
	}
	opts := []Option{WithEnv(env), WithResolver("vault", resolver), WithResolver("aws-sm", resolver)}

	p, err := Parse(ctx, "retl.yaml", project, map[string][]byte{"s.yaml": sync}, append(opts, WithOffline())...)
	require.NoError(t, err)
	assert.True(t, p.Offline)
	assert.Zero(t, calls, "an offline load reaches no secret store")
	var c struct {
		LoginURL string `yaml:"login_url"`
		Password string `yaml:"password"`
		User     string `yaml:"user"`
	}
	require.NoError(t, p.Connections["crm"].Section.Decode(&c))
	assert.Equal(t, "${SF_LOGIN_URL}", c.LoginURL)
	assert.Equal(t, "${vault:crm#password}", c.Password)
	assert.Equal(t, "integration@example.com", c.User, "set variables still resolve")
	assert.Equal(t, "${aws-sm:alerts#url}", p.Alerts.Webhook.URL)

	// Online, the same files need the variables and reach the resolvers.
	_, err = Parse(ctx, "retl.yaml", project, map[string][]byte{"s.yaml": sync}, opts...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "environment variable SF_LOGIN_URL is not set")

	// An unknown scheme is an error offline too.
	bad := []byte("connections:\n  crm:\n    type: salesforce\n    password: ${nosuch:x}\n")
	_, err = Parse(ctx, "retl.yaml", bad, map[string][]byte{"s.yaml": sync}, append(opts, WithOffline())...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no secret resolver for scheme "nosuch"`)

	// A literal webhook URL is still checked offline.
	badURL := []byte("connections:\n  crm: {type: salesforce}\nalerts:\n  webhook: {url: not-a-url}\n")
	_, err = Parse(ctx, "retl.yaml", badURL, map[string][]byte{"s.yaml": sync}, append(opts, WithOffline())...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "must be an http or https URL")
}
