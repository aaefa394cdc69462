package main

import (
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// TestSecondSignalQuitsAtOnce stops `retl run` while two Bulk jobs are
// being processed: the first SIGINT is answered at once with what retl is
// doing (the jobs it aborts, named); while the aborts hang, a second
// SIGINT ends the process with 130, naming the jobs that may be left open.
func TestSecondSignalQuitsAtOnce(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	bin := buildRetl(t)
	srv := sftest.NewServer(sftest.WithBulkDelay(time.Hour, 0))
	defer srv.Close()
	dir := t.TempDir()
	configs := project(t, dir, srv, 2000, accountName, "",
		"  api: bulk\n  bulk_batch_size: 1000\n  max_jobs_in_flight: 2\n  poll_max_wait: 50ms")
	report := filepath.Join(dir, "run.json")
	p := startRetl(t, bin, "run", "--configs", configs, "--log-format", "json", "--report", report)
	p.waitFor(t, "sync started")
	processing := func() []string {
		var ids []string
		for _, j := range srv.Jobs() {
			if j.State == sftest.StateUploadComplete || j.State == sftest.StateInProgress {
				ids = append(ids, j.ID)
			}
		}
		sort.Strings(ids)
		return ids
	}
	require.Eventually(t, func() bool { return len(processing()) == 2 }, 2*time.Minute, 10*time.Millisecond, "two jobs processing\nstderr:\n%s", p.stderr())
	jobs := strings.Join(processing(), ",")
	// Aborting hangs, so that the run is still stopping at the second signal.
	srv.Fault(sftest.Fault{Kind: sftest.FaultDelay, Method: "PATCH", Path: "/jobs/ingest/", Delay: time.Hour})

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
	first := p.waitFor(t, "stopping the run: aborting open Bulk jobs, reading the results of every job, then writing the report and the state; send the signal again to quit at once")
	assert.Equal(t, "interrupt", first["signal"])
	assert.Equal(t, "accounts", first["running_syncs"])
	assert.EqualValues(t, 2, first["bulk_jobs"])
	assert.Equal(t, jobs, first["bulk_job_ids"])

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
	assert.Equal(t, exitInterrupted, p.wait(t), p.stderr())
	last := p.waitFor(t, "quitting at once: no report, no state saved for the syncs still running; these Bulk jobs may be left open (abort them in Setup > Bulk Data Load Jobs, or let them finish)")
	assert.Equal(t, jobs, last["bulk_job_ids"])
	assert.Equal(t, "ERROR", last["level"])
	_, err := os.Stat(report)
	assert.ErrorIs(t, err, os.ErrNotExist, "no report")
	t.Logf("first signal answered with %v; second: exit %d naming %s", first["msg"], p.code, jobs)
}

// Before a run has started (the project still loading) the signals are
// answered on stderr as plain lines, and the second still quits with 130.
func TestSignalsBeforeTheRunStarts(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	cancelled := make(chan struct{})
	var out syncBuffer
	codes := make(chan int, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		handleSignals(sigs, func() { close(cancelled) }, &out, func(code int) { codes <- code })
	}()
	sigs <- syscall.SIGTERM
	<-cancelled
	sigs <- syscall.SIGTERM
	<-done
	assert.Equal(t, exitInterrupted, <-codes)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2)
	assert.True(t, strings.HasPrefix(lines[0], "retl: stopping the run: "), lines[0])
	assert.Contains(t, lines[0], "signal=terminated running_syncs= bulk_jobs=0 bulk_job_ids=")
	assert.Equal(t, "retl: quitting at once: no report, no state saved for the syncs still running signal=terminated running_syncs= bulk_job_ids=", lines[1])

	// A closed channel (the run ended first) ends the handler.
	closed := make(chan os.Signal)
	close(closed)
	handleSignals(closed, func() { t.Error("cancelled") }, &out, func(int) { t.Error("exited") })
}
