// Command retl runs config-driven reverse ETL syncs: rows selected in a
// warehouse are mapped and written into Salesforce.
//
//	retl run      [--configs DIR] [--project FILE] [--only NAME ...] [--parallel N] [--report FILE.json] [--html FILE.html] [--full] [--log-format text|json] [--log-level LEVEL]
//	retl plan     [--configs DIR] [--project FILE] [--only NAME ...] [--parallel N] [--report FILE.json] [--html FILE.html] [--changes N] [--out PLAN.json] [--log-format text|json] [--log-level LEVEL]
//	retl apply    [--configs DIR] [--project FILE] [--max-age D] [--max-drift SHARE] [--parallel N] [--report FILE.json] [--html FILE.html] PLAN.json
//	retl validate [--configs DIR] [--project FILE]
//	retl undo     RUN_ID [--only SYNC ...] [--apply] [--delete-created] [--report FILE.json]
//	retl demo     [--keep] [--configs DIR --project FILE] [--report FILE.json]
//
// Exit codes: 0 every sync succeeded, 1 a sync failed or the run was
// cancelled, 2 the configuration is invalid (or a report path is unusable;
// nothing was written), 3 the syncs succeeded but the warehouse writeback
// failed (the report and failed-rows files have every outcome; the
// warehouse does not), 4 a sync did not run because another run holds its
// lease (see --wait-lock), 5 the syncs succeeded but the report or a
// failed-rows file or the review page (--html) could not be written (the
// previous file is unchanged), 130 a second signal stopped the run at once.
// apply refuses a plan, sending nothing, with 6 (made from other
// configuration), 7 (older than --max-age) or 8 (more records drifted than
// --max-drift).
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
	"time"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/review"
	"github.com/retl-go/retl/reverseetl/sealed"
)

const (
	exitOK      = 0
	exitFailed  = 1
	exitInvalid = 2
	// exitWriteback: the syncs succeeded, the warehouse writeback did not.
	exitWriteback = 3
	// exitLocked: a sync did not run because another run holds its lease.
	exitLocked = 4
	// exitFiles: the syncs succeeded, the report or a failed-rows file
	// could not be written.
	exitFiles = 5
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go handleSignals(sigs, cancel, os.Stderr, os.Exit)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	signal.Stop(sigs)
	cancel()
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
		return cmdRun(ctx, args[1:], stdout, stderr, false)
	case "plan":
		return cmdRun(ctx, args[1:], stdout, stderr, true)
	case "apply":
		return cmdApply(ctx, args[1:], stdout, stderr)
	case "validate":
		return cmdValidate(ctx, args[1:], stdout, stderr)
	case "undo":
		return cmdUndo(ctx, args[1:], stdout, stderr)
	case "demo":
		return cmdDemo(ctx, args[1:], stdout, stderr)
	case "version":
		return cmdVersion(args[1:], stdout, stderr)
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
  plan      show what a run would create, update and leave unchanged; write nothing
  apply     send exactly the records of a plan file made by "retl plan --out"
  validate  check the configuration without reaching any system
  undo      put back what a run changed (prior values kept by keep_prior_values)
  demo      run the example syncs against an embedded warehouse and Salesforce emulator
  version   print the module version and VCS revision of this binary

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

func (c *common) register(fs *flag.FlagSet, defaultLevel string) {
	fs.StringVar(&c.configs, "configs", envOr("RETL_CONFIGS", "configs"), "`directory` of sync files (environment: RETL_CONFIGS)")
	fs.StringVar(&c.project, "project", os.Getenv("RETL_PROJECT"), "project `file` (environment: RETL_PROJECT) (default: retl.yaml beside or inside --configs)")
	c.registerLog(fs, defaultLevel)
}

// registerLog registers the logging flags alone: the demo has --configs
// and --project of its own, with other defaults.
func (c *common) registerLog(fs *flag.FlagSet, defaultLevel string) {
	fs.StringVar(&c.logFormat, "log-format", envOr("RETL_LOG_FORMAT", "text"), "log `format`: text (for people) or json (for CI) (environment: RETL_LOG_FORMAT)")
	fs.StringVar(&c.logLevel, "log-level", envOr("RETL_LOG_LEVEL", defaultLevel), "log `level`: debug, info, warn, error (environment: RETL_LOG_LEVEL)")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// logger builds the run's logger; every record passes the redactor, so a
// secret resolved at load time never reaches a log line, not even one
// printed on Go's standard logger.
func (c *common) logger(w io.Writer, red *config.Redactor) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	h, err := reverseetl.LogHandler(w, c.logFormat, lvl)
	if err != nil {
		return nil, err
	}
	l := slog.New(red.Handler(h))
	reverseetl.CaptureStdLog(l)
	return l, nil
}

// setup loads the project and builds its logger, printing what went wrong;
// ok is false when the configuration is unusable.
func (c *common) setup(ctx context.Context, stderr io.Writer, extra ...config.Option) (*config.Project, *slog.Logger, bool) {
	p, err := c.load(ctx, extra...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, nil, false
	}
	log, err := c.logger(stderr, p.Redactor)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, nil, false
	}
	return p, log, true
}

func (c *common) load(ctx context.Context, extra ...config.Option) (*config.Project, error) {
	opts := extra
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
	var c common
	c.register(fs, "info")
	resolve := fs.Bool("resolve", false, "also resolve ${...} references (environment and secret stores) and check their values")
	h := help{
		synopsis: "retl validate [flags]",
		about: "Check the project and every sync file without reaching any system, and report every error\n" +
			"of every file at once. Exit 0 when valid, 2 otherwise.",
		examples: []string{
			"retl validate --configs examples/configs --project examples/demo/retl.yaml",
			"retl validate --resolve   # also fill ${...} references from the environment and secret stores",
		},
	}
	if code, done := parseFlags(fs, args, h, stdout, stderr); done {
		return code
	}
	var extra []config.Option
	if !*resolve {
		// A merge-request pipeline has no production credentials: check
		// everything but the values that references would fill.
		extra = append(extra, config.WithOffline())
	}
	// Every error of every file in one pass: the syncs whose files parse
	// are built too, so that their sources' and sinks' errors are not
	// left for the next round.
	extra = append(extra, config.WithPartial())
	p, loadErr := c.load(ctx, extra...)
	var fileErrs config.Errors
	if loadErr != nil && (p == nil || !errors.As(loadErr, &fileErrs)) {
		fmt.Fprintln(stderr, loadErr)
		return exitInvalid
	}
	log, err := c.logger(stderr, p.Redactor)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	if loadErr != nil {
		fmt.Fprintln(stderr, loadErr)
		if _, err := newRunner(log, "").Validate(ctx, p); err != nil {
			fmt.Fprintln(stderr, err)
		}
		return exitInvalid
	}
	return validate(ctx, p, log, stdout, stderr)
}

func validate(ctx context.Context, p *config.Project, log *slog.Logger, stdout, stderr io.Writer) int {
	v, err := newRunner(log, "").Validate(ctx, p)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	fmt.Fprintf(stdout, "%d syncs valid", v.Syncs)
	for _, s := range v.Summaries {
		fmt.Fprintf(stdout, ", %s", s)
	}
	fmt.Fprintln(stdout)
	return exitOK
}

// runFlags are the flags of run and plan.
type runFlags struct {
	only     []string
	parallel int
	report   string
	html     string
	plan     bool
	changes  int
	full     bool
	waitLock time.Duration
	shard    string
	// out is where a plan is sealed (plan --out); engine are options
	// for the run's Engine (apply).
	out    string
	engine []reverseetl.Option
}

func (f *runFlags) register(fs *flag.FlagSet, plan bool) {
	fs.Var((*stringList)(&f.only), "only", "run only the sync of this `name` (repeatable)")
	fs.IntVar(&f.parallel, "parallel", 0, "syncs to run at once (default: the project's defaults.parallel, else 4)")
	fs.StringVar(&f.report, "report", "", "write the JSON report to this `file`")
	fs.StringVar(&f.html, "html", "", "write a review page to this `file`: one self-contained HTML page for a merge request's artifacts")
	fs.StringVar(&f.shard, "shard", shardFromEnv(os.Getenv), "run the K-th of N shares of the syncs, each depends_on group whole in one share, for N parallel CI jobs: `K/N` "+
		"(default: $CI_NODE_INDEX/$CI_NODE_TOTAL when both are set, else every sync)")
	if plan {
		fs.IntVar(&f.changes, "changes", 5, "sample field changes to print per sync")
		fs.StringVar(&f.out, "out", "", "seal the plan in this `file` (JSON): what \"retl apply\" will send, record by record")
	} else {
		fs.BoolVar(&f.full, "full", false, "send every row, ignoring change detection's state (the state is still saved)")
		fs.DurationVar(&f.waitLock, "wait-lock", 0, "when another run holds a sync's lease, wait this long for it (default: skip the sync at once, exit 4)")
	}
	f.plan = plan
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer, plan bool) int {
	name := "run"
	if plan {
		name = "plan"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var c common
	c.register(fs, "info")
	var f runFlags
	f.register(fs, plan)
	h := help{
		synopsis: "retl run [flags]",
		about: "Run the syncs: read each query's rows, map them and write them into Salesforce.\n" +
			"Exit codes: 0 ok, 1 a sync failed, 2 invalid configuration, 3 writeback failed,\n" +
			"4 a sync's lease is held by another run, 5 a report file or the review page could not be written.",
		examples: []string{
			"retl run --configs configs --report run.json",
			"retl run --only accounts --only contacts --log-format json",
			"retl run --shard 2/4   # the second of four parallel CI jobs",
			"retl run --html run.html   # a page of what the run did, for the people who review it",
		},
	}
	if plan {
		h = help{
			synopsis: "retl plan [flags]",
			about: "Show what a run would create, update and leave unchanged, read from Salesforce;\n" +
				"write nothing. With --out, also seal the plan in a file for \"retl apply\" (written only\n" +
				"when every sync planned). Exit codes as for run.",
			examples: []string{
				"retl plan --configs configs",
				"retl plan --only accounts --changes 20 --report plan.json",
				"retl plan --html plan.html   # a page to review in the merge request",
				"retl plan --out plan.json   # seal it: retl apply plan.json sends exactly this",
			},
		}
	}
	if code, done := parseFlags(fs, args, h, stdout, stderr); done {
		return code
	}
	var k, n int
	if f.shard != "" {
		explicit := false
		fs.Visit(func(fl *flag.Flag) { explicit = explicit || fl.Name == "shard" })
		switch {
		case len(f.only) > 0 && explicit:
			fmt.Fprintf(stderr, "retl %s: --shard and --only cannot be used together\n", name)
			return exitInvalid
		case len(f.only) == 0:
			// From CI_NODE_INDEX/CI_NODE_TOTAL unless --only names the syncs.
			var err error
			if k, n, err = reverseetl.ParseShard(f.shard); err != nil {
				fmt.Fprintf(stderr, "retl %s: --%v\n", name, err)
				return exitInvalid
			}
		}
	}
	p, log, ok := c.setup(ctx, stderr)
	if !ok {
		return exitInvalid
	}
	if n > 0 {
		sh := fmt.Sprintf("%d/%d", k, n)
		names, err := reverseetl.Shard(p.Syncs, k, n)
		if errors.Is(err, reverseetl.ErrEmptyShard) {
			// More parallel jobs than groups of syncs: nothing to do is a success.
			fmt.Fprintf(stdout, "shard %s holds no sync: the project has fewer depends_on groups than shards\n", sh)
			return exitOK
		}
		f.only = names
		fmt.Fprintf(stdout, "shard %s: %s\n", sh, strings.Join(names, ", "))
	}
	code, _ := execute(ctx, p, log, f, stdout, stderr)
	return code
}

// writeHTMLFile writes the review page; a test replaces it to fail as a
// full disk would.
var writeHTMLFile = review.WriteHTMLFile

// newRunner is the library's Runner over every type this binary knows,
// logging through log.
func newRunner(log *slog.Logger, report string) *reverseetl.Runner {
	return &reverseetl.Runner{Registry: newRegistry(), Handler: log.Handler(), ReportFile: report}
}

// execute runs (or plans) a loaded project, prints its summary and writes
// its report. The report is nil when the run could not start.
func execute(ctx context.Context, p *config.Project, log *slog.Logger, f runFlags, stdout, stderr io.Writer) (int, *reverseetl.Report) {
	if f.html != "" {
		// Checked before anything is written, as the report's path is.
		if err := reverseetl.CheckReportPath(f.html); err != nil {
			fmt.Fprintf(stderr, "--html: %v\n", err)
			return exitInvalid, nil
		}
	}
	var seal *sealed.Sealer
	if f.out != "" {
		if err := reverseetl.CheckReportPath(f.out); err != nil {
			fmt.Fprintf(stderr, "--out: %v\n", err)
			return exitInvalid, nil
		}
		seal = sealed.NewSealer(p)
		f.engine = append(f.engine, reverseetl.WithInterceptor(seal))
	}
	r := newRunner(log, f.report)
	r.Parallel = f.parallel
	r.EngineOptions = append(r.EngineOptions, f.engine...)
	setActive(r, log)
	defer setActive(nil, nil)
	res, err := r.Run(ctx, p, reverseetl.RunOptions{Only: f.only, Plan: f.plan, Full: f.full, WaitLock: f.waitLock})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid, nil
	}
	rep := res.Report
	fmt.Fprintln(stdout)
	if err := review.Text(stdout, rep, review.Options{Plan: f.plan, Changes: f.changes}); err != nil {
		fmt.Fprintln(stderr, err)
	}
	for _, s := range rep.Syncs {
		if path, ok := res.FailedRowFiles[s.Name]; ok {
			fmt.Fprintf(stdout, "%s: failed rows written to %s\n", s.Name, path)
		}
		if err, ok := res.FailedRowErrors[s.Name]; ok {
			fmt.Fprintf(stdout, "%s: failed rows NOT written: %s\n", s.Name, err)
		}
	}
	if res.ReportFileErr != nil {
		fmt.Fprintln(stderr, res.ReportFileErr)
	}
	pageFailed := false
	if f.html != "" {
		if err := writeHTMLFile(f.html, rep, review.Options{Plan: f.plan}); err != nil {
			fmt.Fprintln(stderr, err)
			pageFailed = true
		} else {
			fmt.Fprintf(stdout, "review page written to %s\n", f.html)
		}
	}
	code := exitOK
	switch {
	case errors.Is(ctx.Err(), context.Canceled) || rep.Failed():
		code = exitFailed
	case rep.Locked():
		code = exitLocked
	case !rep.OK():
		// A sync skipped for a reason other than a failed or locked parent.
		code = exitFailed
	case res.FilesFailed() || pageFailed:
		code = exitFiles
	case rep.WritebackFailed():
		code = exitWriteback
	}
	if seal != nil {
		code = writeSealed(seal, rep, f.out, code, stdout, stderr)
	}
	return code, rep
}
