package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink/salesforce"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// TestStoppedRunThroughTheCLI stops `retl run` of an insert sync with change
// detection (SIGINT while Salesforce is writing records), as separate
// processes against the emulator, with the state in SQLite and in
// fakesnow, through Bulk and REST: the report says written exactly what
// Salesforce holds (at most the unknowns more), the state keeps it, and
// the next run inserts the rest once, so each row ends as one record.
func TestStoppedRunThroughTheCLI(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	bin := buildRetl(t)
	const rows = 2000
	for _, kind := range []string{"sqlite", "fakesnow"} {
		for _, api := range []string{"bulk", "rest"} {
			t.Run(kind+"/"+api, func(t *testing.T) {
				srv := sftest.NewServer(sftest.WithBulkDelay(0, 2*time.Millisecond))
				defer srv.Close()
				if api == "rest" {
					srv.Fault(sftest.Fault{Kind: sftest.FaultDelay, Method: "POST", Path: "/composite/sobjects", Delay: 300 * time.Millisecond})
				}
				dir := t.TempDir()
				st := map[string]func() *leaseState{"sqlite": func() *leaseState { return sqliteLeaseState(t, dir) }, "fakesnow": func() *leaseState { return fakesnowLeaseState(t) }}[kind]()
				configs := project(t, dir, srv, rows, accountName, "",
					"  operation: insert\n  api: "+api+"\n  bulk_batch_size: 500\n  max_jobs_in_flight: 2\n  rest_concurrency: 2\n  poll_max_wait: 50ms")
				path := filepath.Join(configs, "accounts.yaml")
				b, err := os.ReadFile(path)
				require.NoError(t, err)
				b = bytes.Replace(b, []byte("  operation: upsert\n  match_on: External_Id__c\n  operation: insert"), []byte("  operation: insert"), 1)
				b = append(b, "change_detection: true\n"...)
				require.NoError(t, os.WriteFile(path, b, 0o644))
				proj := filepath.Join(dir, "retl.yaml")
				pb, err := os.ReadFile(proj)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(proj, append(pb, st.extra...), 0o600))
				report := filepath.Join(dir, "run.json")
				args := []string{"run", "--configs", configs, "--log-format", "json", "--report", report}

				p := startRetl(t, bin, args...)
				require.Eventually(t, func() bool { return len(liveAccounts(srv)) > 0 }, 2*time.Minute, 5*time.Millisecond,
					"Salesforce is writing\nstderr:\n%s", p.stderr())
				require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
				code := p.wait(t)
				assert.NotEqual(t, exitOK, code, "a stopped run is not a success")

				rep := readReport(t, report)
				s := rep.Sync("accounts")
				require.NotNil(t, s, p.stderr())
				assert.True(t, s.Accounted(), "%+v", s)
				unknown := 0
				for _, o := range s.FailedRows {
					if o.Err.Code == salesforce.CodeOutcomeUnknown {
						unknown++
					}
				}
				held := len(liveAccounts(srv))
				assert.GreaterOrEqual(t, held, int(s.Created), "every row reported written is in Salesforce")
				assert.LessOrEqual(t, held, int(s.Created)+unknown, "Salesforce holds what was reported written, plus at most the unknowns")
				assert.Less(t, held, rows, "the stop came before the end")

				again := startRetl(t, bin, args...)
				assert.Equal(t, exitOK, again.wait(t), again.stderr()+again.stdout.String())
				assert.Len(t, liveAccounts(srv), rows, "each row is one record: nothing inserted twice, nothing lost")
				t.Logf("error %q; %s/%s: stopped with %d records held, %d reported created (%d unknown), skipped %v; the next run completed %d", s.Error, kind, api, held, s.Created, unknown, s.SkipReasons, rows)
			})
		}
	}
}
