package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/retl-go/retl/examples/demo"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// demoOptions are where the demo reads its files; tests swap in broken
// copies.
var demoOptions demo.Options

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("demo", flag.ContinueOnError)
	var c common
	// The demo runs the embedded syncs unless --configs says otherwise
	// (RETL_CONFIGS is for run and validate).
	flags.StringVar(&c.configs, "configs", "", "`directory` of sync files to run instead of the embedded example syncs (default: the embedded examples/configs)")
	flags.StringVar(&c.project, "project", "", "project `file` for --configs (default: the embedded demo project)")
	c.registerLog(flags, "warn")
	keep := flags.Bool("keep", false, "keep the emulator and the warehouse file until interrupted, and print how to reach them")
	report := flags.String("report", "", "write the run's JSON report to this `file`")
	h := help{
		synopsis: "retl demo [flags]",
		about: "Plan and run the example syncs against an embedded SQLite warehouse and a Salesforce\n" +
			"emulator, both in a temporary directory: needs nothing but Go.",
		examples: []string{
			"retl demo",
			"retl demo --keep   # leave the emulator up until Ctrl-C, to plan and run by hand",
		},
	}
	if code, done := parseFlags(flags, args, h, stdout, stderr); done {
		return code
	}

	dir, err := os.MkdirTemp("", "retl-demo-")
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return exitFailed
	}
	// --keep keeps the directory until the demo is interrupted, not after:
	// the emulator and the warehouse file go together.
	defer os.RemoveAll(dir)
	env, err := demo.Start(ctx, dir, demoOptions)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	defer env.Close()

	p, err := env.Project(ctx, c.configs, c.project, loadOptions()...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	log, err := c.logger(stderr, p.Redactor)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	if *keep && p.Reports.Dir == "" {
		p.Reports.Dir = filepath.Join(dir, "reports")
	}

	warehouse, seeded := env.Summary()
	fmt.Fprintf(stdout, "retl demo\n\nWarehouse: SQLite file %s (%s).\n", env.DBPath(), warehouse)
	fmt.Fprintf(stdout, "Salesforce: emulator at %s, holding %s entered by hand before the first sync.\n", env.URL(), seeded)
	fmt.Fprintf(stdout, "Syncs: %s.\n", demo.SyncNames(p))

	fmt.Fprintf(stdout, "\n== retl plan: what a run would do, read from Salesforce; nothing is written ==\n")
	code, _ := execute(ctx, p, log, runFlags{plan: true, changes: 3}, stdout, stderr)
	if code == exitInvalid || ctx.Err() != nil {
		return code
	}

	fmt.Fprintf(stdout, "\n== retl run ==\n")
	code, rep := execute(ctx, p, log, runFlags{report: *report}, stdout, stderr)
	if rep == nil {
		return code
	}

	fmt.Fprintf(stdout, "\n== What Salesforce holds now ==\n")
	env.WriteRecords(stdout, p)

	// Change detection: the second run sends only what changed since the
	// first (here nothing but the rows Salesforce rejected).
	fmt.Fprintf(stdout, "\n== retl run, again: only rows that changed since Salesforce accepted them are sent ==\n")
	code2, rep2 := execute(ctx, p, log, runFlags{}, stdout, stderr)
	if rep2 == nil {
		return code2
	}
	if err := env.WriteRunLog(ctx, stdout); err != nil {
		fmt.Fprintln(stderr, "demo: reading the run log:", err)
	}

	if !*keep {
		if c.configs == "" {
			fmt.Fprintln(stdout, "\nThe sync files are in examples/configs. With --keep the emulator stays up, to plan and run them yourself.")
		}
		return code
	}
	projectPath, err := env.WriteProjectFile()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "\nThe emulator keeps running at %s until Ctrl-C (user %s, password %s, client id and secret %s).\n",
		env.URL(), sftest.DefaultUsername, sftest.DefaultPassword, sftest.DefaultClientID)
	fmt.Fprintf(stdout, "Its records: %s/__sftest/records/Account\n", env.URL())
	fmt.Fprintf(stdout, "Plan the example syncs again against it:\n  %s=%s %s=%s \\\n    go run ./examples/retl plan --configs examples/configs --project %s\n",
		demo.EnvURL, env.URL(), demo.EnvDSN, env.DSN(), projectPath)
	<-ctx.Done()
	return code
}
