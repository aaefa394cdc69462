package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// buildRetl builds this command into a temporary directory.
func buildRetl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "retl")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// sqliteWarehouse writes a SQLite database of n accounts and returns its path.
func sqliteWarehouse(t *testing.T, dir string, n int) string {
	t.Helper()
	path := filepath.Join(dir, "warehouse.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec("create table accounts (account_id text, name text)")
	require.NoError(t, err)
	tx, err := db.Begin()
	require.NoError(t, err)
	for i := range n {
		_, err := tx.Exec("insert into accounts values (?, ?)", fmt.Sprintf("A-%05d", i), fmt.Sprintf("Account %d", i))
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
	return path
}

// TestReliabilitySignalStopsTheRun sends SIGINT, then in a second run
// SIGTERM, to `retl run` while its Bulk jobs are being processed: the
// process aborts its open jobs, writes the partial report (mode 0600) in
// which every row read has its one outcome, and exits 1 within seconds.
func TestReliabilitySignalStopsTheRun(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	bin := buildRetl(t)
	const rows = 3000
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			// Jobs take a minute to process: the signal comes while they do.
			srv := sftest.NewServer(sftest.WithBulkDelay(time.Minute, 0))
			defer srv.Close()
			dir := t.TempDir()
			warehouse := sqliteWarehouse(t, dir, rows)
			configs := filepath.Join(dir, "configs")
			require.NoError(t, os.MkdirAll(configs, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "retl.yaml"), fmt.Appendf(nil, `connections:
  warehouse:
    type: sql
    driver: sqlite
    dsn: %s
  crm:
    type: salesforce
    login_url: %s
    auth: password
    client_id: %s
    client_secret: %s
    username: %s
    password: %s
`, warehouse, srv.URL(), sftest.DefaultClientID, sftest.DefaultClientSecret, sftest.DefaultUsername, sftest.DefaultPassword), 0o600))
			require.NoError(t, os.WriteFile(filepath.Join(configs, "accounts.yaml"), []byte(`name: accounts
key: ACCOUNT_ID
source:
  connection: warehouse
  query: select account_id, name from accounts
destination:
  connection: crm
  object: Account
  operation: upsert
  match_on: External_Id__c
  api: bulk
  bulk_batch_size: 1000
  max_jobs_in_flight: 2
  poll_max_wait: 50ms
mapping:
  - {from: ACCOUNT_ID, to: External_Id__c}
  - {from: NAME, to: Name}
`), 0o644))
			report := filepath.Join(dir, "run.json")
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, "run", "--configs", configs, "--report", report, "--log-format", "json")
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Env = append(os.Environ(), "RETL_CONFIGS=", "RETL_PROJECT=")
			require.NoError(t, cmd.Start())
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			t.Cleanup(func() {
				if cmd.ProcessState == nil {
					_ = cmd.Process.Kill()
					<-done
				}
			})

			inFlight := func() int {
				n := 0
				for _, j := range srv.Jobs() {
					if j.State == sftest.StateUploadComplete || j.State == sftest.StateInProgress {
						n++
					}
				}
				return n
			}
			require.Eventually(t, func() bool { return inFlight() == 2 }, 60*time.Second, 10*time.Millisecond,
				"two jobs processing\nstderr:\n%s", &stderr)

			sent := time.Now()
			require.NoError(t, cmd.Process.Signal(sig))
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				t.Fatalf("retl did not exit after %s\nstderr:\n%s", sig, stderr.String())
			}
			took := time.Since(sent)
			assert.Equal(t, exitFailed, cmd.ProcessState.ExitCode(), "stderr:\n%s", stderr.String())

			jobs := srv.Jobs()
			require.Len(t, jobs, 2)
			for _, j := range jobs {
				assert.Equal(t, sftest.StateAborted, j.State, "job %s", j.ID)
			}
			assert.Empty(t, liveAccounts(srv), "an aborted job writes nothing")

			st, err := os.Stat(report)
			require.NoError(t, err, "the partial report is written")
			assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
			rep := readReport(t, report)
			s := rep.Sync("accounts")
			require.NotNil(t, s)
			assert.Equal(t, reverseetl.Cancelled, s.Status)
			assert.True(t, s.Accounted(), "%+v", s)
			assert.EqualValues(t, rows, s.Read)
			assert.Zero(t, s.Written())
			assert.Contains(t, stdout.String(), "cancelled")
			t.Logf("%s: exit %d after %s; jobs %d aborted; report: read %d, failed %d, skipped %d %v",
				sig, cmd.ProcessState.ExitCode(), took.Round(time.Millisecond), len(jobs), s.Read, s.Failed, s.Skipped, s.SkipReasons)
			codes := map[string]int{}
			for _, o := range s.FailedRows {
				codes[o.Err.Code]++
			}
			for code := range codes {
				assert.Equal(t, reverseetl.CodeCancelled, code)
			}
			assert.False(t, strings.Contains(stderr.String(), "panic"), stderr.String())
		})
	}
}

// liveAccounts is the emulator's Account records that are not deleted.
func liveAccounts(srv *sftest.Server) []map[string]any {
	var out []map[string]any
	for _, r := range srv.Records("Account") {
		if r["IsDeleted"] != true {
			out = append(out, r)
		}
	}
	return out
}
