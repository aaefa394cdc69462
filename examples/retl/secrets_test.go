package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/examples/demo"
	"github.com/retl-go/retl/internal/standin"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

func token(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return prefix + hex.EncodeToString(b)
}

// TestSecretsNeverLeak runs whole syncs whose every credential comes from
// AWS Secrets Manager (moto), against an emulator that requires those
// credentials, through success, failed rows, a failed alert and a failed
// login, and then looks for the secret values in everything the binary
// wrote: stdout and stderr with text and JSON logs at debug level, the
// JSON reports and the failed-rows files.
func TestSecretsNeverLeak(t *testing.T) {
	m := standin.Moto(t)
	// Dummy AWS credentials from the environment; the endpoint comes from
	// the project file's secrets.aws.endpoint, as a private endpoint would.
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": m.AccessKeyID, "AWS_SECRET_ACCESS_KEY": m.SecretAccessKey, "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_ENDPOINT_URL": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	dir := t.TempDir()

	secrets := map[string]string{
		"client_id":     token(t, "cid"),
		"client_secret": token(t, "csec"),
		"username":      token(t, "svc") + "@example.com",
		"password":      token(t, "pw"),
		"old_password":  token(t, "oldpw"),
		"hook":          token(t, "hook"),
	}
	env, err := demo.Start(context.Background(), dir, demo.Options{Server: []sftest.Option{
		sftest.WithCredentials(secrets["username"], secrets["password"]),
		sftest.WithClient(secrets["client_id"], secrets["client_secret"])}})
	require.NoError(t, err)
	defer env.Close()
	secrets["dsn"] = env.DSN() + "?_dsn=" + token(t, "dsn")

	// Alerts go to a webhook that refuses them, so that the failure is logged.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer hook.Close()
	secrets["webhook_url"] = hook.URL + "/services/" + secrets["hook"]

	admin := secretsmanager.NewFromConfig(m.Config())
	put := func(name string, v map[string]string) {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		_, err = admin.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(string(b))})
		require.NoError(t, err)
	}
	put("prod/retl/salesforce", map[string]string{"client_id": secrets["client_id"], "client_secret": secrets["client_secret"],
		"username": secrets["username"], "password": secrets["password"]})
	put("prod/retl/salesforce-stale", map[string]string{"password": secrets["old_password"]})
	put("prod/retl/warehouse", map[string]string{"dsn": secrets["dsn"]})
	put("prod/retl/alerts", map[string]string{"webhook_url": secrets["webhook_url"]})

	project := func(passwordRef string) string {
		return fmt.Sprintf(`connections:
  warehouse:
    type: sql
    driver: sqlite
    dsn: ${aws-sm:prod/retl/warehouse#dsn}
  crm:
    type: salesforce
    login_url: %s
    auth: password
    client_id: ${aws-sm:prod/retl/salesforce#client_id}
    client_secret: ${aws-sm:prod/retl/salesforce#client_secret}
    username: ${aws-sm:prod/retl/salesforce#username}
    password: ${aws-sm:%s}
    max_retries: 0
alerts:
  on_sync_failure: true
  failed_rows_above: 0
  webhook:
    url: ${aws-sm:prod/retl/alerts#webhook_url}
writeback:
  connection: warehouse
reports:
  dir: %s
secrets:
  aws:
    region: %s
    endpoint: %s
`, env.URL(), passwordRef, filepath.Join(dir, "reports"), m.Region, m.Endpoint)
	}
	configs := copyConfigs(t, dir, nil)
	good := filepath.Join(dir, "good.yaml")
	stale := filepath.Join(dir, "stale.yaml")
	require.NoError(t, os.WriteFile(good, []byte(project("prod/retl/salesforce#password")), 0o600))
	require.NoError(t, os.WriteFile(stale, []byte(project("prod/retl/salesforce-stale#password")), 0o600))

	var outputs []string
	do := func(wantCode int, args ...string) result {
		t.Helper()
		r := retl(t, args...)
		require.Equal(t, wantCode, r.code, "%v\nstdout:\n%s\nstderr:\n%s", args, r.stdout, r.stderr)
		outputs = append(outputs, r.stdout, r.stderr)
		return r
	}
	base := []string{"--configs", configs, "--log-level", "debug"}
	do(exitOK, append([]string{"validate", "--project", good}, base...)...)
	do(exitOK, append([]string{"plan", "--project", good, "--log-format", "json", "--report", filepath.Join(dir, "plan.json")}, base...)...)
	r := do(exitOK, append([]string{"run", "--project", good, "--report", filepath.Join(dir, "run.json")}, base...)...)
	// The credentials worked: the syncs wrote, and the alert was tried.
	assert.Regexp(t, `(?m)^accounts\s+succeeded\s+50\s+40\s+10\s`, r.stdout)
	assert.Contains(t, r.stderr, `msg="alert not sent" notifier="webhook 127.0.0.1" error="webhook to 127.0.0.1: HTTP 500 Internal Server Error"`)
	assert.Contains(t, r.stdout, "failed rows written to")
	do(exitOK, append([]string{"run", "--project", good, "--log-format", "json", "--report", filepath.Join(dir, "run2.json")}, base...)...)

	// A stale password: the login fails, every sync with it fails.
	r = do(exitFailed, append([]string{"run", "--project", stale, "--report", filepath.Join(dir, "stale.json")}, base...)...)
	assert.Contains(t, r.stderr, "invalid_grant")
	do(exitFailed, append([]string{"run", "--project", stale, "--log-format", "json", "--report", filepath.Join(dir, "stale2.json")}, base...)...)
	staleRep := readReport(t, filepath.Join(dir, "stale.json"))
	assert.Contains(t, staleRep.Sync("accounts").Error, "login")

	// Everything written to disk: reports and failed-rows files.
	var files []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(path) {
		case ".json", ".csv":
			files = append(files, path)
			b, err := os.ReadFile(path)
			outputs = append(outputs, string(b))
			return err
		}
		return nil
	}))
	assert.GreaterOrEqual(t, len(files), 6, "reports and failed-rows files: %v", files)

	all := strings.Join(outputs, "\n")
	for name, v := range secrets {
		for _, form := range []string{v, url.QueryEscape(v), strings.TrimPrefix(v, "file:")} {
			assert.NotContains(t, all, form, "secret %s leaked", name)
		}
	}
}

// TestValidateShippedProject validates the deployment's project file,
// examples/retl.yaml, with the shipped syncs: its secrets come from
// Secrets Manager (moto, through the endpoint the environment names) and
// its other references from the environment.
func TestValidateShippedProject(t *testing.T) {
	m := standin.Moto(t)
	m.Setenv(t)
	t.Setenv("SNOWFLAKE_ACCOUNT", "acme-eu")
	t.Setenv("SALESFORCE_LOGIN_URL", "https://acme.my.salesforce.com")

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))

	// The project file's region, not moto's default.
	cfg := m.Config()
	cfg.Region = "eu-west-1"
	admin := secretsmanager.NewFromConfig(cfg)
	for name, v := range map[string]map[string]string{
		"prod/retl/snowflake":  {"private_key": pemKey},
		"prod/retl/salesforce": {"client_id": "3MVG9-example", "username": "retl@acme.example", "private_key": pemKey},
		"prod/retl/alerts":     {"slack_webhook_url": "https://hooks.slack.com/services/T0/B0/" + token(t, "x")},
	} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		_, err = admin.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(string(b))})
		require.NoError(t, err)
	}

	r := retl(t, "validate", "--configs", filepath.Join("..", "configs"))
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "4 syncs valid, 2 alert notifiers\n", r.stdout)
	assert.NotContains(t, r.stderr, "PRIVATE KEY")
}
