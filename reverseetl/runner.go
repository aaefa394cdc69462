package reverseetl

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
)

// Runner runs a project as `retl run` does: it checks everything it will
// write to (the report file, the failed-rows directory, the warehouse
// state) and builds every sync before the first write, keeps change
// detection's state and writes the run back to the warehouse, sends the
// project's alerts, writes failed-row files and the JSON report, and logs
// only through the project's Redactor. What it can use beyond the Engine
// (warehouse state, alerts) is what the program registered on the
// Registry, as a program chooses its database/sql drivers.
//
// A Runner runs one project at a time; its zero fields are defaults.
type Runner struct {
	// Registry builds the syncs' sources and sinks, and names the
	// warehouse state and project observers (RegisterWarehouse,
	// RegisterObserver).
	Registry *Registry
	// Handler receives the log records, always through the project's
	// Redactor, so that a resolved secret never reaches it. Default:
	// slog.Default's handler.
	Handler slog.Handler
	// Parallel bounds the syncs running at once (default: the project's
	// defaults.parallel, else 4).
	Parallel int
	// ReportFile, when set, is where Run writes the JSON report. Its
	// directory is checked before anything is written.
	ReportFile string
	// EngineOptions are added to each run's Engine (WithLeaseTTL,
	// WithExcludeFields, ...).
	EngineOptions []Option

	mu  sync.Mutex
	eng *Engine
}

// RunResult is what a Runner's run did.
type RunResult struct {
	Report *Report
	// FailedRowFiles names, per sync, the file its failed rows were
	// written to (the project's reports.dir).
	FailedRowFiles map[string]string
	// FailedRowErrors says, per sync, why its failed rows could not all be
	// written; redacted.
	FailedRowErrors map[string]error
	// ReportFileErr says the report file could not be written (the
	// previous one is unchanged); redacted.
	ReportFileErr error
}

// FilesFailed reports whether a failed-rows file or the report file could
// not be written.
func (r *RunResult) FilesFailed() bool {
	return len(r.FailedRowErrors) > 0 || r.ReportFileErr != nil
}

// Validation is what Validate found in a valid project.
type Validation struct {
	Syncs int
	// Summaries are what the project observers say of themselves, such as
	// "2 alert notifiers".
	Summaries []string
}

// Logger returns the logger the Runner uses for p: its Handler behind
// p's Redactor.
func (r *Runner) Logger(p *config.Project) *slog.Logger {
	h := r.Handler
	if h == nil {
		h = slog.Default().Handler()
	}
	var red *config.Redactor
	if p != nil {
		red = p.Redactor
	}
	return slog.New(red.Handler(h))
}

// Running returns what each running sync's sink has open (Engine.Running),
// or nil between runs, so that a program being stopped can say so.
func (r *Runner) Running() map[string]sink.Statistics {
	r.mu.Lock()
	eng := r.eng
	r.mu.Unlock()
	if eng == nil {
		return nil
	}
	return eng.Running()
}

func (r *Runner) setEngine(e *Engine) {
	r.mu.Lock()
	r.eng = e
	r.mu.Unlock()
}

// Validate builds every sync and every project observer of p without
// reaching any system, and returns every error found, redacted.
func (r *Runner) Validate(ctx context.Context, p *config.Project) (*Validation, error) {
	log := r.Logger(p)
	eng := New(r.Registry, append([]Option{WithLogger(log)}, r.EngineOptions...)...)
	var errs []error
	if err := eng.Validate(ctx, p); err != nil {
		errs = append(errs, err)
	}
	v := &Validation{Syncs: len(p.Syncs)}
	pos, err := r.projectObservers(ctx, p, log)
	closeAllObservers(pos)
	if err != nil {
		errs = append(errs, err)
	}
	for _, po := range pos {
		if po.Summary != "" {
			v.Summaries = append(v.Summaries, po.Summary)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, redactedErr(p, err)
	}
	return v, nil
}

// Run runs (with opts.Plan, plans) the project. An error means nothing
// was written anywhere: the configuration, the report path, the
// failed-rows directory or the warehouse state could not be used; it is
// redacted. Otherwise the result holds the report, also when syncs failed.
func (r *Runner) Run(ctx context.Context, p *config.Project, opts RunOptions) (*RunResult, error) {
	log := r.Logger(p)
	runID := NewRunID()
	eopts := []Option{WithLogger(log), WithParallel(r.Parallel), WithRunID(runID)}
	var failed *FailedRowsCSV
	var pos []ProjectObserver
	defer func() { closeAllObservers(pos) }()
	if !opts.Plan {
		// A plan writes nothing and sends no alert: its failed rows are
		// predictions.
		if p.Reports.Dir != "" {
			failed = &FailedRowsCSV{Dir: p.Reports.Dir, RunID: runID}
			if p.Writeback != nil {
				failed.ExcludeFields = p.Writeback.ExcludeFields
			}
			eopts = append(eopts, WithObserver(failed))
		}
		var err error
		if pos, err = r.projectObservers(ctx, p, log); err != nil {
			return nil, redactedErr(p, err)
		}
		for _, po := range pos {
			if po.Observer != nil {
				eopts = append(eopts, WithObserver(po.Observer))
			}
		}
	}
	// Files are checked before anything is written anywhere: found after
	// the destination was written, a failure would make a retry send the
	// rows again.
	if r.ReportFile != "" {
		if err := CheckReportPath(r.ReportFile); err != nil {
			return nil, redactedErr(p, err)
		}
	}
	if failed != nil {
		if err := failed.Check(); err != nil {
			return nil, redactedErr(p, err)
		}
	}
	wopts, wclose, err := r.openWarehouse(ctx, p, runID, opts.Plan, log)
	if err != nil {
		return nil, redactedErr(p, err)
	}
	defer func() { _ = wclose.Close() }()
	eopts = append(append(eopts, wopts...), r.EngineOptions...)
	eng := New(r.Registry, eopts...)
	if err := eng.Validate(ctx, p); err != nil {
		return nil, redactedErr(p, err)
	}
	r.setEngine(eng)
	defer r.setEngine(nil)
	rep, err := eng.Run(ctx, p, opts)
	if err != nil {
		return nil, redactedErr(p, err)
	}
	res := &RunResult{Report: rep}
	if failed != nil {
		res.FailedRowFiles = failed.Paths()
		for name, err := range failed.Failures() {
			if res.FailedRowErrors == nil {
				res.FailedRowErrors = map[string]error{}
			}
			res.FailedRowErrors[name] = redactedErr(p, err)
		}
	}
	if r.ReportFile != "" {
		if err := WriteJSONFile(r.ReportFile, rep); err != nil {
			res.ReportFileErr = redactedErr(p, err)
		}
	}
	return res, nil
}

// projectObservers builds the registered project observers; on an error
// it releases those it built.
func (r *Runner) projectObservers(ctx context.Context, p *config.Project, log *slog.Logger) ([]ProjectObserver, error) {
	var out []ProjectObserver
	for _, f := range r.Registry.observerFactories() {
		po, err := f.f(ctx, ObserverContext{Project: p, Logger: log})
		if err != nil {
			closeAllObservers(out)
			if po.Closer != nil {
				_ = po.Closer.Close()
			}
			return nil, err
		}
		out = append(out, po)
	}
	return out, nil
}

// closeAllObservers releases what the observers hold; closing an idle
// pool after the run has nothing to report.
func closeAllObservers(pos []ProjectObserver) {
	for _, po := range pos {
		if po.Closer != nil {
			_ = po.Closer.Close()
		}
	}
}

// openWarehouse opens the store the project file's writeback section
// names, if any: change detection compares against its state, and a run
// (not a plan) writes its log and row outcomes to it. The tables are
// readied, and old rows deleted, before any sync reads; a failure there is
// logged, and reported again on every sync it affects. A plan opens the
// store read-only: it reads the state if there is one and writes nothing.
func (r *Runner) openWarehouse(ctx context.Context, p *config.Project, runID string, plan bool, log *slog.Logger) ([]Option, io.Closer, error) {
	open := r.Registry.warehouseOpener()
	if open == nil {
		if p.Writeback != nil {
			return nil, nil, errors.New("writeback: this program has no warehouse state; remove the writeback section or use a build that has one")
		}
		return r.noWarehouse(plan, log)
	}
	wh, err := open(p, plan)
	if err != nil {
		return nil, nil, err
	}
	if wh == nil {
		return r.noWarehouse(plan, log)
	}
	opts := []Option{WithState(wh.Store())}
	prepare := wh.Prepare
	if !plan {
		obs, prep := wh.Writeback(runID)
		opts = append(opts, WithObserver(obs))
		prepare = prep
	}
	if err := prepare(ctx); err != nil {
		log.Warn("warehouse writeback", "error", redact(p, err.Error()))
	}
	return opts, wh, nil
}

func (r *Runner) noWarehouse(plan bool, log *slog.Logger) ([]Option, io.Closer, error) {
	if !plan {
		log.Warn("no writeback section: nothing stops two runs of a sync at once; let the scheduler run one at a time (GitLab resource_group)")
	}
	return nil, io.NopCloser(nil), nil
}

// redactedError is an error whose text has the project's secrets taken
// out, and which unwraps to its cause for errors.Is and errors.As. Print
// it, not its cause: the cause's own text is not redacted.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redactedErr(p *config.Project, err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: redact(p, err.Error()), err: err}
}
