package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/retl-go/retl/reverseetl"
)

// exitInterrupted is the exit code of a run stopped at once by a second
// signal, as shells report a process ended by SIGINT.
const exitInterrupted = 130

// active is the run in progress, for the signal handler to describe.
var active struct {
	mu     sync.Mutex
	runner *reverseetl.Runner
	log    *slog.Logger
}

func setActive(r *reverseetl.Runner, log *slog.Logger) {
	active.mu.Lock()
	active.runner, active.log = r, log
	active.mu.Unlock()
}

// inFlight lists, per running sync, the Bulk jobs its sink opened; those
// of a sync that has not finished may still be open.
func inFlight() (jobs []string, syncs []string) {
	active.mu.Lock()
	r := active.runner
	active.mu.Unlock()
	if r == nil {
		return nil, nil
	}
	for name, st := range r.Running() {
		syncs = append(syncs, name)
		jobs = append(jobs, st.Jobs...)
	}
	sort.Strings(jobs)
	sort.Strings(syncs)
	return jobs, syncs
}

// say logs through the run's logger when there is one (so that JSON logs
// stay JSON), else writes a line to stderr.
func say(stderr io.Writer, level slog.Level, msg string, attrs ...any) {
	active.mu.Lock()
	log := active.log
	active.mu.Unlock()
	if log != nil {
		log.Log(context.Background(), level, msg, attrs...)
		return
	}
	var b strings.Builder
	b.WriteString("retl: " + msg)
	for i := 0; i+1 < len(attrs); i += 2 {
		fmt.Fprintf(&b, " %v=%v", attrs[i], attrs[i+1])
	}
	fmt.Fprintln(stderr, b.String())
}

// handleSignals cancels the run at the first signal, saying what retl
// does while it stops, and at the second ends the process at once with
// exitInterrupted, naming the Bulk jobs that may be left open.
func handleSignals(sigs <-chan os.Signal, cancel context.CancelFunc, stderr io.Writer, exit func(int)) {
	sig, ok := <-sigs
	if !ok {
		return
	}
	jobs, syncs := inFlight()
	say(stderr, slog.LevelWarn, "stopping the run: aborting open Bulk jobs, reading the results of every job, then writing the report and the state; send the signal again to quit at once",
		"signal", sig.String(), "running_syncs", strings.Join(syncs, ","), "bulk_jobs", len(jobs), "bulk_job_ids", strings.Join(jobs, ","))
	cancel()
	sig, ok = <-sigs
	if !ok {
		return
	}
	jobs, syncs = inFlight()
	msg := "quitting at once: no report, no state saved for the syncs still running"
	if len(jobs) > 0 {
		msg += "; these Bulk jobs may be left open (abort them in Setup > Bulk Data Load Jobs, or let them finish)"
	}
	say(stderr, slog.LevelError, msg, "signal", sig.String(), "running_syncs", strings.Join(syncs, ","), "bulk_job_ids", strings.Join(jobs, ","))
	exit(exitInterrupted)
}
