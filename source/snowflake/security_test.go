package snowflake

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	sf "github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	"github.com/retl-go/retl/sink/sinktest"
)

// Plain http and insecure_mode only reach this machine: a host that merely
// looks like loopback is refused, and no key turns TLS verification off.
func TestSecurityEmulatorModeOnlyOnLoopback(t *testing.T) {
	base := "account: acme\nuser: RETL\npassword: pw\n"
	for _, host := range []string{"127.0.0.1", "127.8.0.1", "localhost", "LocalHost", "::1"} {
		for _, mode := range []string{"protocol: http", "insecure_mode: true"} {
			_, err := SettingsFromConnection(connectionOf(t, Type, base+mode+"\nhost: \""+host+"\"\n"))
			assert.NoError(t, err, "%s %s", mode, host)
		}
	}
	for _, host := range []string{"", "acme.snowflakecomputing.com", "localhost.evil.example", "127.0.0.1.nip.io", "0.0.0.0",
		"127.1", "[::1]", "::", "10.0.0.1", "127.0.0.1:443", " 127.0.0.1"} {
		for _, mode := range []string{"protocol: http", "insecure_mode: true"} {
			_, err := SettingsFromConnection(connectionOf(t, Type, base+mode+"\nhost: \""+host+"\"\n"))
			assert.Error(t, err, "%s %q", mode, host)
		}
	}
	for _, key := range []string{"insecure_skip_verify: true", "disable_ocsp_checks: true", "ocsp_fail_open: true", "tls_config: custom", "insecure: true"} {
		_, err := SettingsFromConnection(connectionOf(t, Type, base+key+"\n"))
		assert.ErrorContains(t, err, "unknown key", key)
	}
}

// insecure_mode turns off certificate revocation checks only: a server
// whose certificate is not trusted is refused, on loopback too.
func TestSecurityInsecureModeStillVerifiesTLS(t *testing.T) {
	QuietDriverLogs()
	hits := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	defer srv.Close()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	s := Settings{Account: "acme", User: "RETL", Password: "pw", Host: "127.0.0.1", Port: p, Protocol: "https", InsecureMode: true}
	open := func() (*Source, error) {
		return New(s, "select 1", withDB(func() (*sql.DB, bool, error) {
			cfg, err := s.driverConfig()
			if err != nil {
				return nil, false, err
			}
			// Fail at once instead of after the driver's login retries.
			//lint:ignore SA1019 gosnowflake 1.19 has no replacement for its deprecated timeout fields.
			cfg.LoginTimeout, cfg.MaxRetryCount = 2*time.Second, 1
			return sql.OpenDB(sf.NewConnector(sf.SnowflakeDriver{}, *cfg)), true, nil
		}))
	}
	src, err := open()
	require.NoError(t, err)
	defer src.Close()
	err = src.Read(context.Background(), noEmit)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")
	assert.Zero(t, hits, "no request was answered over an untrusted connection")
}

// A Snowflake login that fails with an answer echoing the credentials, in
// a whole run whose password comes from a secret store: neither the
// sync's error, nor the logs, nor the summary hold it, raw or as the
// request encoded it.
func TestSecurityAuthErrorThroughTheEngine(t *testing.T) {
	QuietDriverLogs()
	const password = `pw&<"Snow\flake>-8812`
	login := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		msg, _ := json.Marshal("Incorrect username or password was specified: " + password + " in " + string(body))
		fmt.Fprintf(w, `{"data":null,"code":"390100","message":%s,"success":false}`, msg)
	}))
	defer login.Close()
	host, port, err := net.SplitHostPort(login.Listener.Addr().String())
	require.NoError(t, err)

	project := fmt.Sprintf(`connections:
  warehouse:
    type: snowflake
    account: acme
    user: RETL
    password: ${vault:warehouse#password}
    host: %s
    port: %s
    protocol: http
`, host, port)
	syncYAML := `name: accounts
key: ID
source: {type: snowflake_bounded, connection: warehouse, query: select 1 as ID}
destination: {type: memory, object: Thing, operation: upsert, match_on: Key__c}
mapping:
  - {from: ID, to: Key__c}
`
	ctx := context.Background()
	p, err := config.Parse(ctx, "retl.yaml", []byte(project), map[string][]byte{"accounts.yaml": []byte(syncYAML)},
		config.WithResolver("vault", config.ResolverFunc(func(context.Context, string) (string, error) { return password, nil })))
	require.NoError(t, err)
	reg := reverseetl.NewRegistry()
	relSources(reg, nil)
	reg.RegisterSink("memory", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) { return memory.New(""), nil })
	var logs bytes.Buffer
	log := slog.New(p.Redactor.Handler(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ledger := sinktest.NewLedger()
	rep, err := reverseetl.New(reg, reverseetl.WithLogger(log), reverseetl.WithObserver(ledger)).Run(ctx, p, reverseetl.RunOptions{})
	require.NoError(t, err)
	s := rep.Sync("accounts")
	ledger.Check(t, s)
	assert.Equal(t, reverseetl.Failed, s.Status)
	assert.Contains(t, s.Error, "sync accounts: snowflake connect: ")
	assert.Contains(t, s.Error, "390100")
	assert.Contains(t, s.Error, "[REDACTED]", "the echo was there and was taken out")
	var summary bytes.Buffer
	require.NoError(t, reverseetl.WriteSummary(&summary, rep, 20))
	escaped, _ := json.Marshal(password)
	for where, text := range map[string]string{"error": s.Error, "logs": logs.String(), "summary": summary.String()} {
		for _, form := range []string{password, strings.Trim(string(escaped), `"`), strings.Trim(strings.ReplaceAll(string(escaped), `\u0026`, "&"), `"`)} {
			assert.NotContains(t, text, form, where)
		}
	}
}
