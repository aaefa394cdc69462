package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A SOAP login server that answers 400 and echoes the request makes
// simpleforce print the request, password included, on Go's standard
// logger. In the process's stderr that line is a redacted debug record in
// the chosen format: JSON lines stay JSON, and the password never shows.
func TestLibraryLogLinesGoThroughTheRedactingLogger(t *testing.T) {
	bin := buildRetl(t)
	const password = "Soap-Pa55word-xyz"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The password, as the request carried it, first in the answer.
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusBadRequest)
		if bytes.Contains(b, []byte(password)) {
			_, _ = w.Write([]byte("INVALID_LOGIN: you sent " + password + " in " + string(b)))
		}
	}))
	defer echo.Close()
	dir := t.TempDir()
	warehouse := sqliteWarehouse(t, dir, 3)
	configs := filepath.Join(dir, "configs")
	require.NoError(t, os.MkdirAll(configs, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "retl.yaml"), fmt.Appendf(nil, `connections:
  warehouse: {type: sql, driver: sqlite, dsn: %s}
  crm:
    type: salesforce
    login_url: %s
    auth: soap
    username: someone@example.com
    password: ${SF_PASSWORD}
`, warehouse, echo.URL), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(configs, "accounts.yaml"), []byte(`name: accounts
source: {connection: warehouse, query: "select account_id, name from accounts"}
destination: {connection: crm, object: Account, operation: upsert, match_on: External_Id__c}
mapping:
  - {from: ACCOUNT_ID, to: External_Id__c}
  - {from: NAME, to: Name}
`), 0o644))
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, "run", "--configs", configs, "--log-format", format, "--log-level", "debug")
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Env = append(os.Environ(), "RETL_CONFIGS=", "RETL_PROJECT=", "SF_PASSWORD="+password)
			err := cmd.Run()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit)
			assert.Equal(t, exitFailed, exit.ExitCode(), stderr.String())
			out := stderr.String() + stdout.String()
			assert.NotContains(t, out, password)
			assert.Contains(t, stderr.String(), "[simpleforce]", "simpleforce's line is there, as a record")
			assert.Contains(t, stderr.String(), "[REDACTED]")
			for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				if format == "json" {
					assert.True(t, json.Valid([]byte(line)), "not JSON: %s", line)
				} else {
					assert.True(t, strings.HasPrefix(line, "time="), "not a text record: %s", line)
				}
			}
		})
	}
}
