package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// TestSecurityRunWithResolvedSecrets runs the command's whole run path
// (load, logger, engine, summary, report, failed-rows files, alerts) on a
// project whose credentials come from a secret store and from the
// environment, through a Snowflake login that fails and echoes the
// password, an alert webhook that refuses, rows Salesforce rejects, and
// then a Salesforce login that fails. No secret, raw or encoded, is in
// anything the run prints or writes, and every file it writes is private.
func TestSecurityRunWithResolvedSecrets(t *testing.T) {
	dir := t.TempDir()
	secrets := map[string]string{
		"sf_password":   "Sf-pa55&word<" + randomText(t),
		"client_secret": "cl!ent/sec+" + randomText(t),
		"snow_password": `snow"pw\&` + randomText(t),
		"hook":          "hook" + randomText(t),
	}
	srv := sftest.NewServer(sftest.WithCredentials("etl@example.com", secrets["sf_password"]), sftest.WithClient("retl-app", secrets["client_secret"]))
	defer srv.Close()
	warehouse := sqliteWarehouse(t, dir, 30)
	// Two names longer than Salesforce takes, so that rows fail.
	{
		db, err := sql.Open("sqlite", warehouse)
		require.NoError(t, err)
		_, err = db.Exec("update accounts set name = printf('%.300c', 'x') where account_id in ('A-00003', 'A-00007')")
		require.NoError(t, err)
		require.NoError(t, db.Close())
	}
	// A Snowflake login endpoint that refuses and quotes what it was sent.
	snow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		msg, _ := json.Marshal("Incorrect username or password was specified. Request: " + string(body))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"data":null,"code":"390100","message":%s,"success":false}`, msg)
	}))
	defer snow.Close()
	snowHost, snowPort, err := net.SplitHostPort(snow.Listener.Addr().String())
	require.NoError(t, err)
	hooked := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hooked++
		http.Error(w, "refused: "+r.URL.Path, http.StatusInternalServerError)
	}))
	defer hook.Close()

	reports := filepath.Join(dir, "reports")
	project := filepath.Join(dir, "retl.yaml")
	require.NoError(t, os.WriteFile(project, fmt.Appendf(nil, `connections:
  warehouse:
    type: sql
    driver: sqlite
    dsn: ${WAREHOUSE_DSN}
  crm:
    type: salesforce
    login_url: %s
    auth: password
    client_id: ${SF_CLIENT_ID}
    client_secret: ${vault:crm#client_secret}
    username: etl@example.com
    password: ${vault:crm#password}
    max_retries: 0
  snow:
    type: snowflake
    account: acme
    user: RETL
    password: ${SNOW_PASSWORD}
    host: %s
    port: %s
    protocol: http
alerts:
  on_sync_failure: true
  failed_rows_above: 0
  webhook:
    url: ${vault:alerts#webhook}
reports:
  dir: %s
`, srv.URL(), snowHost, snowPort, reports), 0o600))
	configs := filepath.Join(dir, "configs")
	require.NoError(t, os.MkdirAll(configs, 0o755))
	syncFile := func(name, conn, query string) {
		require.NoError(t, os.WriteFile(filepath.Join(configs, name+".yaml"), fmt.Appendf(nil, `name: %s
key: ACCOUNT_ID
source: {connection: %s, query: %q}
destination: {connection: crm, object: Account, operation: upsert, match_on: External_Id__c, api: rest}
mapping:
  - {from: ACCOUNT_ID, to: External_Id__c}
  - {from: NAME, to: Name}
`, name, conn, query), 0o644))
	}
	syncFile("accounts", "warehouse", "select account_id, name from accounts")
	syncFile("snow_accounts", "snow", "select account_id, name from accounts")

	env := map[string]string{"WAREHOUSE_DSN": warehouse, "SF_CLIENT_ID": "retl-app", "SNOW_PASSWORD": secrets["snow_password"]}
	vault := map[string]string{"crm#client_secret": secrets["client_secret"], "crm#password": secrets["sf_password"],
		"alerts#webhook": hook.URL + "/services/T000/" + secrets["hook"]}
	var outputs []string
	runOnce := func(format, reportName string) *reverseetl.Report {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		p, err := config.Load(ctx, configs, config.WithProjectFile(project),
			config.WithEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }),
			config.WithResolver("vault", config.ResolverFunc(func(_ context.Context, ref string) (string, error) {
				v, ok := vault[ref]
				if !ok {
					return "", fmt.Errorf("no secret %s", ref)
				}
				return v, nil
			})))
		require.NoError(t, err)
		var stdout, stderr bytes.Buffer
		c := common{logFormat: format, logLevel: "debug"}
		log, err := c.logger(&stderr, p.Redactor)
		require.NoError(t, err)
		report := filepath.Join(dir, reportName)
		code, rep := execute(ctx, p, log, runFlags{report: report}, &stdout, &stderr)
		assert.Equal(t, exitFailed, code, "stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
		require.NotNil(t, rep)
		outputs = append(outputs, stdout.String(), stderr.String())
		assert.Contains(t, stderr.String(), "alert not sent")
		return rep
	}

	rep := runOnce("text", "run.json")
	accounts := rep.Sync("accounts")
	assert.EqualValues(t, 28, accounts.Created)
	assert.EqualValues(t, 2, accounts.Failed)
	snowRep := rep.Sync("snow_accounts")
	assert.Equal(t, reverseetl.Failed, snowRep.Status)
	assert.Contains(t, snowRep.Error, "390100")
	assert.Contains(t, snowRep.Error, "[REDACTED]", "the echoed password was there and was taken out")
	t.Logf("snow_accounts: %.300s", snowRep.Error)

	// The password changes in the store; the login fails.
	vault["crm#password"] = "Stale-pa55&" + randomText(t)
	secrets["stale_password"] = vault["crm#password"]
	rep = runOnce("json", "stale.json")
	assert.Contains(t, rep.Sync("accounts").Error, "login")
	assert.Positive(t, hooked)

	// Every file the runs wrote is private; none holds a secret.
	var files int
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case path == dir || path == configs || filepath.Dir(path) == configs || path == project || path == warehouse:
			return nil
		case strings.HasPrefix(filepath.Base(path), "warehouse.db"):
			return nil
		}
		st, err := d.Info()
		require.NoError(t, err)
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			outputs = append(outputs, string(b))
			files++
			t.Logf("wrote %s (%d bytes)", strings.TrimPrefix(path, dir), len(b))
		}
		assert.Equal(t, want, st.Mode().Perm(), path)
		return nil
	}))
	assert.GreaterOrEqual(t, files, 3, "two reports and a failed-rows file")

	all := strings.Join(outputs, "\n")
	for name, v := range secrets {
		j, _ := json.Marshal(v)
		for _, form := range []string{v, url.QueryEscape(v), url.PathEscape(v), strings.Trim(string(j), `"`)} {
			assert.NotContains(t, all, form, "secret %s leaked", name)
		}
	}
}

func randomText(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}
