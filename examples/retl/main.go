// Command retl runs config-driven reverse ETL syncs: rows selected in a
// warehouse are mapped and written into Salesforce.
//
//	retl run      [--configs DIR] [--project FILE] [--only NAME ...] [--parallel N] [--report FILE.json] [--log-format text|json]
//	retl validate [--configs DIR] [--project FILE]
//
// Exit codes: 0 every sync succeeded, 1 a sync failed or the run was
// cancelled, 2 the configuration is invalid.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
)

const (
	exitOK      = 0
	exitFailed  = 1
	exitInvalid = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitInvalid
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "validate":
		return cmdValidate(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "retl: unknown command %q\n", args[0])
		usage(stderr)
		return exitInvalid
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: retl <command> [flags]

commands:
  run       run the syncs
  validate  check the configuration without reaching any system

run "retl <command> -h" for the flags of a command.
`)
}

// common are the flags every command shares.
type common struct {
	configs   string
	project   string
	logFormat string
	logLevel  string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.configs, "configs", envOr("RETL_CONFIGS", "configs"), "directory of sync files")
	fs.StringVar(&c.project, "project", os.Getenv("RETL_PROJECT"), "project file (default: retl.yaml beside or inside --configs)")
	fs.StringVar(&c.logFormat, "log-format", envOr("RETL_LOG_FORMAT", "text"), "log format: text or json")
	fs.StringVar(&c.logLevel, "log-level", envOr("RETL_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// logger builds the run's logger; every record passes the redactor, so a
// secret resolved at load time never reaches a log line.
func (c *common) logger(w io.Writer, red *config.Redactor) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch c.logFormat {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("--log-format must be text or json, not %q", c.logFormat)
	}
	return slog.New(red.Handler(h)), nil
}

func (c *common) load(ctx context.Context) (*config.Project, error) {
	var opts []config.Option
	if c.project != "" {
		opts = append(opts, config.WithProjectFile(c.project))
	}
	opts = append(opts, loadOptions()...)
	return config.Load(ctx, c.configs, opts...)
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return exitInvalid
	}
	p, err := c.load(ctx)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	log, err := c.logger(stderr, p.Redactor)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	eng := reverseetl.New(newRegistry(), reverseetl.WithLogger(log))
	if err := eng.Validate(ctx, p); err != nil {
		fmt.Fprintln(stderr, p.Redactor.Redact(err.Error()))
		return exitInvalid
	}
	fmt.Fprintf(stdout, "%d syncs valid\n", len(p.Syncs))
	return exitOK
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	var only stringList
	fs.Var(&only, "only", "run only this sync (repeatable)")
	parallel := fs.Int("parallel", 0, "syncs to run at once (default: the project's defaults.parallel, else 4)")
	reportPath := fs.String("report", "", "write the JSON report to this file")
	if err := fs.Parse(args); err != nil {
		return exitInvalid
	}
	p, err := c.load(ctx)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	log, err := c.logger(stderr, p.Redactor)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	return execute(ctx, p, log, runFlags{only: only, parallel: *parallel, report: *reportPath}, stdout, stderr)
}

type runFlags struct {
	only     []string
	parallel int
	report   string
}

// execute runs a loaded project and prints its summary.
func execute(ctx context.Context, p *config.Project, log *slog.Logger, f runFlags, stdout, stderr io.Writer) int {
	runID := reverseetl.NewRunID()
	opts := []reverseetl.Option{reverseetl.WithLogger(log), reverseetl.WithParallel(f.parallel), reverseetl.WithRunID(runID)}
	var failed *reverseetl.FailedRowsCSV
	if p.Reports.Dir != "" {
		failed = &reverseetl.FailedRowsCSV{Dir: p.Reports.Dir, RunID: runID}
		opts = append(opts, reverseetl.WithObserver(failed))
	}
	eng := reverseetl.New(newRegistry(), opts...)
	if err := eng.Validate(ctx, p); err != nil {
		fmt.Fprintln(stderr, p.Redactor.Redact(err.Error()))
		return exitInvalid
	}
	rep, err := eng.Run(ctx, p, reverseetl.RunOptions{Only: f.only})
	if err != nil {
		fmt.Fprintln(stderr, p.Redactor.Redact(err.Error()))
		return exitInvalid
	}
	fmt.Fprintln(stdout)
	if err := reverseetl.WriteSummary(stdout, rep, 20); err != nil {
		fmt.Fprintln(stderr, err)
	}
	if failed != nil {
		for name, path := range failed.Paths() {
			fmt.Fprintf(stdout, "%s: failed rows written to %s\n", name, path)
		}
	}
	if f.report != "" {
		if err := reverseetl.WriteJSONFile(f.report, rep); err != nil {
			fmt.Fprintln(stderr, err)
			return exitFailed
		}
	}
	if errors.Is(ctx.Err(), context.Canceled) || !rep.OK() {
		return exitFailed
	}
	return exitOK
}
