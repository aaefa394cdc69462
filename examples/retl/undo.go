package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/review"
)

// cmdUndo is `retl undo RUN_ID`: what the run changed, read from the
// warehouse, and with --apply put back.
func cmdUndo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("undo", flag.ContinueOnError)
	var c common
	c.register(fs, "info")
	var only stringList
	fs.Var(&only, "only", "undo only this `sync` of the run (repeatable)")
	apply := fs.Bool("apply", false, "put the prior values back (without it, only print what would be put back)")
	deleteCreated := fs.Bool("delete-created", false, "with --apply, also delete the records the run created")
	report := fs.String("report", "", "write the undo's JSON report to this `file`")
	sample := fs.Int("changes", 5, "sample field changes to print per sync")
	h := help{
		synopsis: "retl undo RUN_ID [flags]",
		about: "Put back what a run changed: the prior value of every field its updates changed (kept by\n" +
			"keep_prior_values) and, with --delete-created, delete the records it created. A field changed\n" +
			"again since the run is kept and reported. Without --apply, print what would be put back.\n" +
			"The undo is a run of its own, with a report and a writeback.\n" +
			"Exit codes: 0 ok, 1 a sync failed, 2 invalid configuration, unknown run or nothing kept\n" +
			"(nothing was written), 3 writeback failed, 4 a run of the sync holds its lease,\n" +
			"5 the report file could not be written.",
		examples: []string{
			"retl undo 20260105T101500Z-3f2a1b   # what would be put back",
			"retl undo 20260105T101500Z-3f2a1b --only accounts --apply",
			"retl undo 20260105T101500Z-3f2a1b --apply --delete-created --report undo.json",
		},
	}
	// The run id may come first, before the flags.
	var runID string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		runID, args = args[0], args[1:]
	}
	if code, done := parseFlags(fs, args, h, stdout, stderr); done {
		return code
	}
	if runID == "" {
		fmt.Fprintln(stderr, "retl undo: name the run to undo: retl undo RUN_ID (its RUN_ID in the warehouse's RUNS table or a run report)")
		return exitInvalid
	}
	if *deleteCreated && !*apply {
		fmt.Fprintln(stdout, "(--delete-created takes effect with --apply)")
	}
	p, log, ok := c.setup(ctx, stderr)
	if !ok {
		return exitInvalid
	}
	r := newRunner(log, *report)
	setActive(r, log)
	defer setActive(nil, nil)
	res, err := r.Undo(ctx, p, runID, reverseetl.UndoOptions{Only: only, Apply: *apply, DeleteCreated: *deleteCreated, Sample: *sample})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	printUndoPlan(stdout, res.Plan, *apply, *deleteCreated)
	if res.Run == nil {
		return exitOK
	}
	rep := res.Run.Report
	fmt.Fprintf(stdout, "\nundo run %s of run %s:\n", rep.RunID, runID)
	if err := review.Text(stdout, rep, review.Options{}); err != nil {
		fmt.Fprintln(stderr, err)
	}
	if res.Run.ReportFileErr != nil {
		fmt.Fprintln(stderr, res.Run.ReportFileErr)
	}
	switch {
	case errors.Is(ctx.Err(), context.Canceled) || rep.Failed():
		return exitFailed
	case rep.Locked():
		return exitLocked
	case !rep.OK():
		return exitFailed
	case res.Run.FilesFailed():
		return exitFiles
	case rep.WritebackFailed():
		return exitWriteback
	}
	return exitOK
}

// printUndoPlan prints, per sync, what the undo puts back and a sample.
func printUndoPlan(w io.Writer, plan *reverseetl.UndoPlan, apply, del bool) {
	verb := "would put back"
	if apply {
		verb = "putting back"
	}
	fmt.Fprintf(w, "run %s:\n", plan.RunID)
	for _, s := range plan.Syncs {
		fmt.Fprintf(w, "%s: %s %d fields of %d records", s.Name, verb, s.Fields, s.Records)
		switch {
		case s.Created == 0:
		case del && apply:
			fmt.Fprintf(w, "; deleting the %d records the run created", s.Created)
		case del:
			fmt.Fprintf(w, "; would delete the %d records the run created", s.Created)
		default:
			fmt.Fprintf(w, "; the run created %d records (--delete-created deletes them)", s.Created)
		}
		fmt.Fprintln(w)
		for _, c := range s.Sample {
			fmt.Fprintf(w, "  %s %s: %s → %s\n", c.Key, c.Field, shown(c.Written), shown(c.Prior))
		}
	}
	if !apply {
		fmt.Fprintln(w, "nothing written: add --apply to put these values back (a field changed since the run is kept)")
	}
}

// shown is a value as the sample prints it.
func shown(v string) string {
	if v == "" {
		return "(empty)"
	}
	return fmt.Sprintf("%q", v)
}
