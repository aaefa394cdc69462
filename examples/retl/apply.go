package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/sealed"
)

// Exit codes of apply's refusals; nothing was sent.
const (
	// exitOtherConfig: the plan was made from other configuration.
	exitOtherConfig = 6
	// exitTooOld: the plan is older than --max-age.
	exitTooOld = 7
	// exitDrifted: more of the plan's records drifted than --max-drift.
	exitDrifted = 8
)

// writeSealed writes the sealed plan of a plan that succeeded; a plan
// that did not writes no file, so that no half plan can be applied.
func writeSealed(seal *sealed.Sealer, rep *reverseetl.Report, path string, code int, stdout, stderr io.Writer) int {
	if code != exitOK {
		fmt.Fprintf(stderr, "plan file %s not written: not every sync planned\n", path)
		return code
	}
	f, err := seal.File(rep.RunID, rep.Started)
	if err == nil {
		err = f.Write(path)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFiles
	}
	fmt.Fprintf(stdout, "plan sealed in %s: %d records to write; apply with: retl apply %s\n", path, f.Records(), path)
	return code
}

func cmdApply(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	var c common
	c.register(fs, "info")
	var f runFlags
	fs.IntVar(&f.parallel, "parallel", 0, "syncs to run at once (default: the project's defaults.parallel, else 4)")
	fs.StringVar(&f.report, "report", "", "write the JSON report to this `file`")
	fs.StringVar(&f.html, "html", "", "write a review page to this `file`")
	maxAge := fs.Duration("max-age", 24*time.Hour, "refuse a plan older than this `duration` (0: any age)")
	maxDrift := fs.Float64("max-drift", 0.05, "refuse the whole plan, sending nothing, when more than this `share` of its records drifted")
	h := help{
		synopsis: "retl apply [flags] PLAN.json",
		about: "Send exactly the records of a plan sealed by \"retl plan --out\": its creates and updates, their\n" +
			"planned fields and nothing else. Before each batch, the current values are read again; a record\n" +
			"whose planned current values no longer hold is not sent and is reported as drifted.\n" +
			"Exit codes: as for run (0 ok, 1 a sync failed, 2 invalid configuration or plan file, 3 writeback\n" +
			"failed, 5 a report file or the review page could not be written), and, with nothing sent:\n" +
			"6 the plan was made from other configuration, 7 it is older than --max-age, 8 more records\n" +
			"drifted than --max-drift.",
		examples: []string{
			"retl apply plan.json",
			"retl apply --max-age 2h --max-drift 0 --report apply.json plan.json",
		},
	}
	// The plan file may stand before, between or after the flags.
	var files []string
	args = positional(fs, args, &files)
	if code, done := parseFlags(fs, args, h, stdout, stderr); done {
		return code
	}
	if len(files) != 1 {
		fmt.Fprintln(stderr, "retl apply: name one plan file (see \"retl apply -h\")")
		return exitInvalid
	}
	file := files[0]
	if *maxDrift < 0 || *maxDrift > 1 {
		fmt.Fprintf(stderr, "retl apply: --max-drift %v: a share from 0 to 1\n", *maxDrift)
		return exitInvalid
	}
	plan, err := sealed.Read(file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	p, log, ok := c.setup(ctx, stderr)
	if !ok {
		return exitInvalid
	}
	if err := plan.Check(p, time.Now(), *maxAge); err != nil {
		fmt.Fprintln(stderr, err)
		if ae := (*sealed.AgeError)(nil); errors.As(err, &ae) {
			return exitTooOld
		}
		// A ConfigError, the only other refusal Check gives.
		return exitOtherConfig
	}
	check := sealed.NewApplier(plan)
	f.only = check.Syncs()
	if len(f.only) == 0 {
		fmt.Fprintf(stdout, "the plan %s holds no record to write\n", file)
		return exitOK
	}
	fmt.Fprintf(stdout, "plan %s (run %s, made %s): %d records in %s\n", file, plan.RunID,
		plan.Created.Format(time.RFC3339), plan.Records(), strings.Join(f.only, ", "))

	// Every record is checked before any is sent, so that --max-drift can
	// refuse the plan whole; each batch is checked again just before it is
	// sent.
	r := newRunner(log, "")
	r.Parallel = f.parallel
	r.EngineOptions = []reverseetl.Option{reverseetl.WithInterceptor(check)}
	res, err := r.Run(ctx, check.Project(p), reverseetl.RunOptions{Only: f.only, Plan: true})
	if err == nil && !res.Report.OK() {
		var errs []error
		for _, s := range res.Report.Syncs {
			if s.Status != reverseetl.Succeeded {
				errs = append(errs, fmt.Errorf("%s: %s", s.Name, s.Error))
			}
		}
		err = errors.Join(errs...)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		fmt.Fprintln(stderr, "retl apply: the current values could not be checked; nothing was sent")
		return exitFailed
	}
	drifted := 0
	for _, n := range check.Drifted() {
		drifted += n
	}
	if float64(drifted) > *maxDrift*float64(plan.Records()) {
		fmt.Fprintf(stderr, "retl apply: %d of %d planned records drifted since the plan, more than --max-drift %v; nothing was sent; make a new plan\n",
			drifted, plan.Records(), *maxDrift)
		printDrift(stderr, check, f.only)
		return exitDrifted
	}
	app := sealed.NewApplier(plan)
	f.engine = []reverseetl.Option{reverseetl.WithInterceptor(app)}
	code, _ := execute(ctx, app.Project(p), log, f, stdout, stderr)
	printDrift(stdout, app, f.only)
	return code
}

// printDrift lists, per sync, the records found drifted.
func printDrift(w io.Writer, a *sealed.Applier, syncs []string) {
	counts, listed := a.Drifted(), a.DriftedRecords()
	for _, name := range syncs {
		n := counts[name]
		if n == 0 {
			continue
		}
		fmt.Fprintf(w, "%s: %d drifted since the plan, not sent:\n", name, n)
		for _, d := range listed[name] {
			fmt.Fprintf(w, "  %s: %s\n", d.Key, d.Why)
		}
		if more := n - len(listed[name]); more > 0 {
			fmt.Fprintf(w, "  and %d more\n", more)
		}
	}
}

// positional moves the arguments that are neither flags nor their values
// from args to out, and returns the flags.
func positional(fs *flag.FlagSet, args []string, out *[]string) []string {
	var flags []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			*out = append(*out, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") || i+1 >= len(args) {
			continue
		}
		if fl := fs.Lookup(name); fl != nil {
			if bf, ok := fl.Value.(interface{ IsBoolFlag() bool }); !ok || !bf.IsBoolFlag() {
				i++
				flags = append(flags, args[i])
			}
		}
	}
	return flags
}
