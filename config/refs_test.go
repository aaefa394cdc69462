package config

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingResolver serves fixed values and counts the calls for each one.
type countingResolver struct {
	values map[string]string
	errs   map[string]error
	calls  map[string]int
}

func (c *countingResolver) Resolve(_ context.Context, ref string) (string, error) {
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[ref]++
	if err, ok := c.errs[ref]; ok {
		return "", err
	}
	v, ok := c.values[ref]
	if !ok {
		return "", errors.New("not found")
	}
	return v, nil
}

func syncWithQuery(query string) string {
	return "source:\n  type: snowflake\n  query: " + query + "\n" + validSync[strings.Index(validSync, "destination:"):]
}

func TestReferences(t *testing.T) {
	env := map[string]string{"SCHEMA": "analytics", "TABLE": "accounts", "EMPTY": ""}
	tests := []struct {
		name  string
		query string
		want  string
	}{
		{"environment", "select * from ${SCHEMA}.${TABLE}", "select * from analytics.accounts"},
		{"secret", "'${sm:one}'", "s3cret-one"},
		{"escaped", "\"cost is $${TABLE} and $5\"", "cost is ${TABLE} and $5"},
		{"escaped then a reference", "\"$${TABLE}${TABLE}\"", "${TABLE}accounts"},
		{"empty variable", "\"[${EMPTY}]\"", "[]"},
		{"block scalar", "|\n    select ${TABLE}\n", "select accounts\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm := &countingResolver{values: map[string]string{"one": "s3cret-one"}}
			p, err := Parse(context.Background(), "", nil, map[string][]byte{"s.yaml": []byte(syncWithQuery(tt.query))},
				mapEnv(env), WithResolver("sm", sm))
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.Syncs[0].Source.Query)
		})
	}
}

func TestReferenceErrors(t *testing.T) {
	sm := &countingResolver{
		values: map[string]string{"pw": "hunter2-pw"},
		errs:   map[string]error{"broken": errors.New("access denied for hunter2-pw")},
	}
	tests := []struct {
		name    string
		project string
		want    []string
	}{
		{
			name:    "environment variable not set",
			project: "connections:\n  warehouse:\n    type: snowflake\n    password: ${SNOWFLAKE_PASSWORD}\n",
			want:    []string{`retl.yaml:4:15: key "connections.warehouse.password": environment variable SNOWFLAKE_PASSWORD is not set`},
		},
		{
			name:    "resolver error, redacted of known secrets",
			project: "connections:\n  wh:\n    type: snowflake\n    a: ${sm:pw}\n    b: ${sm:broken}\n",
			want:    []string{`retl.yaml:5:8: key "connections.wh.b": resolving ${sm:broken}: access denied for [REDACTED]`},
		},
		{
			name:    "unknown scheme",
			project: "connections:\n  wh:\n    type: snowflake\n    password: ${vault:kv/retl#pw}\n",
			want:    []string{`retl.yaml:4:15: key "connections.wh.password": no secret resolver for scheme "vault" (known: sm)`},
		},
		{
			name:    "unknown scheme with none registered",
			project: "connections:\n  wh:\n    type: snowflake\n    password: ${none:x}\n",
			want:    []string{`retl.yaml:4:15: key "connections.wh.password": no secret resolver for scheme "none" (known: sm)`},
		},
		{
			name:    "invalid reference",
			project: "reports: {dir: \"${not valid}\"}\n",
			want:    []string{`retl.yaml:1:16: key "reports.dir": invalid reference: write ${NAME} for an environment variable, ${scheme:reference} for a secret, or $${ for a literal ${`},
		},
		{
			name:    "unterminated reference",
			project: "reports: {dir: \"${DIR\"}\n",
			want:    []string{`retl.yaml:1:16: key "reports.dir": reference has no closing }; write $${ for a literal ${`},
		},
		{
			name:    "each failing place is reported",
			project: "reports: {dir: \"${DIR}\"}\nsecrets: {aws: {region: \"${DIR}\"}}\n",
			want: []string{
				`retl.yaml:1:16: key "reports.dir": environment variable DIR is not set`,
				`retl.yaml:2:25: key "secrets.aws.region": environment variable DIR is not set`,
			},
		},
		{
			name:    "secret in a value of the wrong type",
			project: "defaults:\n  records_per_write: ${sm:pw}\n",
			want:    []string{`retl.yaml:2:22: key "defaults.records_per_write": expected an integer, got a string`},
		},
		{
			name:    "secret references configure no resolver",
			project: "secrets:\n  aws: {region: \"${sm:pw}\"}\n",
			want:    []string{`retl.yaml:2:17: key "secrets.aws.region": only ${NAME} environment references are allowed here, as this section configures the secret resolvers`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadErrors(t, tt.project, nil, WithEnv(nil), WithResolver("sm", sm))
			assert.Equal(t, tt.want, got)
			for _, line := range got {
				assert.NotContains(t, line, "hunter2")
			}
		})
	}
}

func TestResolverErrorUnwraps(t *testing.T) {
	cause := errors.New("throttled")
	_, err := Parse(context.Background(), "retl.yaml", []byte("reports: {dir: \"${sm:x}\"}\n"), nil,
		WithResolver("sm", &countingResolver{errs: map[string]error{"x": cause}}))
	assert.ErrorIs(t, err, cause)
}

func TestSecretsDoNotLeakIntoErrors(t *testing.T) {
	const secret = "99999999999999999999"
	sm := &countingResolver{values: map[string]string{"big": secret, "word": "correct-horse-battery"}}
	syncs := map[string][]byte{
		"a.yaml": []byte(validSync + "records_per_write: ${sm:big}\n"),
		"b.yaml": []byte(validSync + "records_per_write: ${sm:word}\n"),
		"c.yaml": []byte(validSync + "on_failure: {max_failed_percent: \"${sm:word}\"}\n"),
		"d.yaml": []byte(validSync + "run_if_parent_failed: ${sm:word}\n"),
	}
	_, err := Parse(context.Background(), "", nil, syncs, WithResolver("sm", sm))
	require.Error(t, err)
	text := err.Error()
	assert.NotContains(t, text, secret)
	assert.NotContains(t, text, "correct-horse-battery")
	assert.Equal(t, []string{
		`a.yaml:12:20: key "records_per_write": number is out of range for an integer`,
		`b.yaml:12:20: key "records_per_write": expected an integer, got a string`,
		`c.yaml:12:34: key "on_failure.max_failed_percent": expected a number, got a string`,
		`d.yaml:12:23: key "run_if_parent_failed": expected true or false, got a string`,
	}, strings.Split(text, "\n"))
}

func TestSecretsInSectionDecodeErrors(t *testing.T) {
	sm := &countingResolver{values: map[string]string{"pw": "tr0ub4dor-and-3"}}
	project := "connections:\n  wh:\n    type: snowflake\n    port: ${sm:pw}\n"
	p, err := Parse(context.Background(), "retl.yaml", []byte(project), nil, WithResolver("sm", sm))
	require.NoError(t, err)
	var conf struct {
		Port int `yaml:"port"`
	}
	err = p.Connections["wh"].Section.Decode(&conf)
	require.Error(t, err)
	assert.Equal(t, `retl.yaml:4:11: key "connections.wh.port": expected an integer, got a string`, err.Error())
	assert.NotContains(t, err.Error(), "tr0ub4dor")
}

func TestSecretsAreResolvedOncePerLoad(t *testing.T) {
	sm := &countingResolver{values: map[string]string{"q": "select 1", "pw": "pa55word-xyz"}}
	lookups := map[string]int{}
	env := WithEnv(func(k string) (string, bool) {
		lookups[k]++
		return "v-" + k, true
	})
	project := "connections:\n  wh: {type: snowflake, password: \"${sm:pw}\", user: \"${USER}\"}\n  other: {type: snowflake, password: \"${sm:pw}\", user: \"${USER}\"}\n"
	syncs := map[string][]byte{
		"a.yaml": []byte(syncWithQuery("${sm:q}")),
		"b.yaml": []byte(syncWithQuery("\"${sm:q} -- ${USER}\"")),
	}
	p, err := Parse(context.Background(), "retl.yaml", []byte(project), syncs, WithResolver("sm", sm), env)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"q": 1, "pw": 1}, sm.calls)
	assert.Equal(t, map[string]int{"USER": 1}, lookups)
	assert.Equal(t, "select 1 -- v-USER", p.Syncs[1].Source.Query)
}

func TestResolverFactory(t *testing.T) {
	project := "secrets:\n  aws: {region: \"${AWS_REGION}\", endpoint: http://localhost:4566}\nconnections:\n  wh: {type: snowflake, password: \"${aws-sm:a}\", token: \"${aws-sm:b}\"}\n"
	var got []SecretsConfig
	factory := func(_ context.Context, cfg SecretsConfig) (SecretResolver, error) {
		got = append(got, cfg)
		return ResolverFunc(func(_ context.Context, ref string) (string, error) { return cfg.AWS.Region + "/" + ref, nil }), nil
	}
	p, err := Parse(context.Background(), "retl.yaml", []byte(project), nil,
		mapEnv(map[string]string{"AWS_REGION": "eu-west-1"}), WithResolverFactory("aws-sm", factory))
	require.NoError(t, err)
	require.Len(t, got, 1, "the factory runs once")
	assert.Equal(t, SecretsConfig{AWS: AWSSecrets{Region: "eu-west-1", Endpoint: "http://localhost:4566"}}, got[0])
	assert.Equal(t, SecretsConfig{AWS: AWSSecrets{Region: "eu-west-1", Endpoint: "http://localhost:4566"}}, p.Secrets)
	var conf map[string]string
	require.NoError(t, p.Connections["wh"].Section.Decode(&conf))
	assert.Equal(t, map[string]string{"password": "eu-west-1/a", "token": "eu-west-1/b"}, conf)

	calls := 0
	failing := func(context.Context, SecretsConfig) (SecretResolver, error) {
		calls++
		return nil, errors.New("no credentials")
	}
	lines := loadErrors(t, project, nil, mapEnv(map[string]string{"AWS_REGION": "x"}), WithResolverFactory("aws-sm", failing))
	assert.Equal(t, []string{
		`retl.yaml:4:35: key "connections.wh.password": creating the secret resolver for "aws-sm": no credentials`,
		`retl.yaml:4:57: key "connections.wh.token": creating the secret resolver for "aws-sm": no credentials`,
	}, lines)
	assert.Equal(t, 1, calls, "a failing factory runs once")

	nilFactory := func(context.Context, SecretsConfig) (SecretResolver, error) { return nil, nil }
	lines = loadErrors(t, project, nil, mapEnv(map[string]string{"AWS_REGION": "x"}), WithResolverFactory("aws-sm", nilFactory))
	require.Len(t, lines, 2)
	assert.Contains(t, lines[0], "the factory returned no resolver")
}

func TestSecretsGoToTheRedactor(t *testing.T) {
	env := map[string]string{
		"SF_PASSWORD": "env-password-1",
		"SF_TOKEN":    "env-token-2",
		"SF_KEY":      "env-private-3",
		"HOOK":        "https://hooks.example.com/T/B/x",
		"SF_USER":     "integration-user",
		"REGION":      "eu-west-1",
	}
	sm := &countingResolver{values: map[string]string{"user": "sm-user-value"}}
	project := `connections:
  crm:
    type: salesforce
    password: ${SF_PASSWORD}
    security_token: ${SF_TOKEN}
    signing_key: ${SF_KEY}
    username: ${SF_USER}
    login: ${sm:user}
alerts:
  webhook: {url: "${HOOK}"}
secrets:
  aws: {region: "${REGION}"}
`
	p, err := Parse(context.Background(), "retl.yaml", []byte(project), nil, mapEnv(env), WithResolver("sm", sm))
	require.NoError(t, err)
	for _, v := range []string{"env-password-1", "env-token-2", "env-private-3", "https://hooks.example.com/T/B/x", "sm-user-value"} {
		assert.Equal(t, "[REDACTED]", p.Redactor.Redact(v), v)
	}
	for _, v := range []string{"integration-user", "eu-west-1"} {
		assert.Equal(t, v, p.Redactor.Redact(v), "an environment value under a plain key stays readable")
	}
}

func TestSecretKey(t *testing.T) {
	tests := map[string]bool{
		"connections.wh.password":         true,
		"connections.wh.PrivateKey":       false,
		"connections.wh.private_key":      true,
		"connections.wh.private_key_pass": true,
		"connections.wh.passphrase":       true,
		"connections.crm.client_secret":   true,
		"connections.crm.security_token":  true,
		"connections.x.api_key":           true,
		"connections.x.signing_key":       true,
		"connections.x.headers[0]":        false,
		"connections.x.tokens[1]":         true,
		"alerts.webhook.url":              true,
		"connections.wh.dsn":              true,
		"connections.x.url":               false,
		"connections.x.account":           false,
		"key":                             false,
		"source.query":                    false,
	}
	for path, want := range tests {
		assert.Equal(t, want, secretKey(path), path)
	}
}

func TestResolutionStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	r := ResolverFunc(func(ctx context.Context, ref string) (string, error) {
		calls++
		cancel()
		return "", ctx.Err()
	})
	syncs := map[string][]byte{}
	for i := range 3 {
		syncs[fmt.Sprintf("s%d.yaml", i)] = []byte(syncWithQuery(fmt.Sprintf("${sm:q%d}", i)))
	}
	_, err := Parse(ctx, "", nil, syncs, WithResolver("sm", r))
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, calls)
}

func TestUnknownSchemeListsFactories(t *testing.T) {
	f := func(context.Context, SecretsConfig) (SecretResolver, error) { return nil, errors.New("unused") }
	lines := loadErrors(t, "reports: {dir: \"${vault:x}\"}\n", nil,
		WithResolver("sm", fakeSM(nil)), WithResolverFactory("aws-sm", f), WithResolverFactory("sm", f))
	assert.Equal(t, []string{`retl.yaml:1:16: key "reports.dir": no secret resolver for scheme "vault" (known: aws-sm, sm)`}, lines)

	lines = loadErrors(t, "reports: {dir: \"${vault:x}\"}\n", nil)
	assert.Equal(t, []string{`retl.yaml:1:16: key "reports.dir": no secret resolver for scheme "vault"`}, lines)
}

func TestReferencesReadTheEnvironment(t *testing.T) {
	t.Setenv("RETL_TEST_TABLE", "accounts")
	p, err := Parse(context.Background(), "", nil, map[string][]byte{"s.yaml": []byte(syncWithQuery("select * from ${RETL_TEST_TABLE}"))})
	require.NoError(t, err)
	assert.Equal(t, "select * from accounts", p.Syncs[0].Source.Query)
}
