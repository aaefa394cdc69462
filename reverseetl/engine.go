// Package reverseetl runs syncs: it builds each sync's source, transformer
// and sink from its spec through a Registry, runs the syncs concurrently and
// in dependency order, isolates their failures from each other, and returns
// a Report in which every row read has exactly one outcome.
package reverseetl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source"
	"github.com/retl-go/retl/transform"
)

// TransformerFactory builds a sync's transformer from its spec.
type TransformerFactory func(s *config.Sync) (transform.Transformer, error)

// Observer is told about outcomes as they are decided, and about the end of
// each sync and of the run. Calls for one sync come from one goroutine at a
// time; calls for different syncs may be concurrent. Outcomes are handed
// over from a queue of the sync's own (see WithWritebackBuffer), so a slow
// observer holds the sync back only when that queue is full; SyncFinished
// comes after every outcome of the sync was handed over.
type Observer interface {
	// Outcomes receives outcomes in chunks while the sync runs. An error is
	// reported on the sync's report (Warnings) and never loses an outcome.
	Outcomes(ctx context.Context, s *config.Sync, outs []Outcome) error
	// SyncFinished is called once per sync with its final report.
	SyncFinished(ctx context.Context, s *config.Sync, rep *SyncReport)
	// RunFinished is called once at the end of the run.
	RunFinished(ctx context.Context, rep *Report)
}

// NopObserver implements Observer with no-ops, for embedding.
type NopObserver struct{}

func (NopObserver) Outcomes(context.Context, *config.Sync, []Outcome) error { return nil }
func (NopObserver) SyncFinished(context.Context, *config.Sync, *SyncReport) {}
func (NopObserver) RunFinished(context.Context, *Report)                    {}

// Engine runs syncs.
type Engine struct {
	reg            *Registry
	log            *slog.Logger
	parallel       int
	observers      []Observer
	newTransformer TransformerFactory
	runID          string
	outcomeChunk   int
	state          StateStore
	exclude        []string
	leaseTTL       time.Duration
	intercept      Interceptor

	writebackBuffer                int
	writebackBase, writebackPerRow time.Duration

	runningMu sync.Mutex
	running   map[string]sink.Sink
}

// Option tunes an Engine.
type Option func(*Engine)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// WithParallel bounds how many syncs run at once (default: the project's
// defaults.parallel, else 4).
func WithParallel(n int) Option { return func(e *Engine) { e.parallel = n } }

// WithObserver adds an observer of outcomes and reports.
func WithObserver(o Observer) Option { return func(e *Engine) { e.observers = append(e.observers, o) } }

// WithTransformerFactory replaces the mapping transformer.
func WithTransformerFactory(f TransformerFactory) Option {
	return func(e *Engine) { e.newTransformer = f }
}

// WithState sets the store of change detection's state; syncs with
// change_detection need one.
func WithState(st StateStore) Option { return func(e *Engine) { e.state = st } }

// WithRunID sets the run id (default: random).
func WithRunID(id string) Option { return func(e *Engine) { e.runID = id } }

// New returns an Engine that builds sources and sinks through reg.
func New(reg *Registry, opts ...Option) *Engine {
	e := &Engine{reg: reg, log: slog.Default(), newTransformer: defaultTransformer, outcomeChunk: 500,
		writebackBuffer: DefaultWritebackBuffer, writebackBase: DefaultWritebackTimeout, writebackPerRow: DefaultWritebackPerRow}
	for _, o := range opts {
		o(e)
	}
	if e.runID == "" {
		e.runID = NewRunID()
	}
	return e
}

// RunID returns the id of the Engine's runs.
func (e *Engine) RunID() string { return e.runID }

// NewRunID returns a random run id: a UTC timestamp and 6 random hex digits,
// so ids sort by time and stay unique across machines.
func NewRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

func defaultTransformer(s *config.Sync) (transform.Transformer, error) {
	m, err := transform.Compile(s)
	if err != nil {
		// A nil *Mapping in a non-nil interface would pass nil checks.
		return nil, err
	}
	return m, nil
}

// Parts are the built pieces of one sync.
type Parts struct {
	Source      source.Source
	Transformer transform.Transformer
	Sink        sink.Sink
}

func (p Parts) close(ctx context.Context) error {
	var errs []error
	if p.Source != nil {
		if err := p.Source.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close source: %w", err))
		}
	}
	if p.Sink != nil {
		if err := p.Sink.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close sink: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Build builds one sync's parts through the registry. It does no I/O.
func (e *Engine) Build(ctx context.Context, p *config.Project, s *config.Sync, shared *Shared) (parts Parts, err error) {
	defer func() {
		if err != nil {
			_ = parts.close(ctx)
			parts = Parts{}
		}
	}()
	if shared == nil {
		shared = NewShared()
	}
	log := e.log.With("sync", s.Name)
	sf, ok := e.reg.Source(s.Source.Type)
	if !ok {
		return parts, fmt.Errorf("%s: source type %q is not registered (registered: %v)", posString(s.Source.Pos, s.File), s.Source.Type, e.reg.SourceTypes())
	}
	kf, ok := e.reg.Sink(s.Destination.Type)
	if !ok {
		return parts, fmt.Errorf("%s: destination type %q is not registered (registered: %v)", posString(s.Destination.Pos, s.File), s.Destination.Type, e.reg.SinkTypes())
	}
	tr, err := e.newTransformer(s)
	if err != nil {
		return parts, err
	}
	parts.Transformer = tr
	base := BuildContext{RunID: e.runID, Sync: s, Logger: log, Redactor: p.Redactor, Shared: shared, Offline: p.Offline}
	sb := base
	sb.Connection = connection(p, s.Source.Connection)
	if parts.Source, err = sf(ctx, sb); err != nil {
		return parts, &BuildError{Part: "source", Err: err}
	}
	kb := base
	kb.Connection = connection(p, s.Destination.Connection)
	if parts.Sink, err = kf(ctx, kb); err != nil {
		return parts, &BuildError{Part: "destination", Err: err}
	}
	return parts, nil
}

// BuildError is why a plugin could not build a sync's source or sink.
// A plugin that found the problem in a file returns a *config.Error (or
// config.Errors), whose text leads with the file, line and key; this
// error then adds nothing before it.
type BuildError struct {
	Part string // "source" or "destination"
	Err  error
}

func (e *BuildError) Error() string {
	if located(e.Err) {
		return e.Err.Error()
	}
	return e.Part + ": " + e.Err.Error()
}

func (e *BuildError) Unwrap() error { return e.Err }

// located reports whether err is itself a configuration error with a
// position, not one wrapped in other words.
func located(err error) bool {
	switch err.(type) {
	case *config.Error, config.Errors:
		return true
	}
	return false
}

func connection(p *config.Project, name string) *config.Connection {
	if name == "" || p == nil {
		return nil
	}
	return p.Connections[name]
}

func posString(p config.Pos, file string) string {
	if p.File == "" {
		p.File = file
	}
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Validate builds every sync of the project without running it and returns
// every error found.
func (e *Engine) Validate(ctx context.Context, p *config.Project) error {
	shared := NewShared()
	defer shared.Close()
	var errs []error
	// Syncs sharing a connection share its build error: it is reported
	// once, at its place in the project file.
	type place struct {
		pos      config.Pos
		key, msg string
	}
	seen := map[place]bool{}
	for _, s := range p.Syncs {
		parts, err := e.Build(ctx, p, s, shared)
		if err != nil {
			if be := (*BuildError)(nil); errors.As(err, &be) && located(be.Err) {
				if ce, ok := be.Err.(*config.Error); ok {
					at := place{ce.Pos, ce.Key, ce.Msg}
					if seen[at] {
						continue
					}
					seen[at] = true
				}
				errs = append(errs, err)
				continue
			}
			errs = append(errs, fmt.Errorf("sync %q: %w", s.Name, err))
			continue
		}
		_ = parts.close(ctx)
	}
	return errors.Join(errs...)
}

// RunOptions select what a run does.
type RunOptions struct {
	// Only runs just these syncs (all when empty).
	Only []string
	// Plan runs extract, transform and preflight and asks each sink what it
	// would do (sink.Planner), writing nothing.
	Plan bool
	// Full sends every row, ignoring change detection's state; the state
	// of the rows written is still saved.
	Full bool
	// WaitLock is how long a sync waits for its lease while another run
	// holds it (see Leaser); 0 skips the sync at once, with status Locked.
	WaitLock time.Duration
}

// Run runs the project's syncs, independent ones in parallel up to the
// bound, each after the syncs it depends on. A sync that fails, errors or
// panics is reported and the others go on. Cancelling ctx stops the run
// promptly; the report then says which syncs were cancelled.
func (e *Engine) Run(ctx context.Context, p *config.Project, opts RunOptions) (*Report, error) {
	if p.Offline {
		return nil, errors.New("the project was loaded offline (config.WithOffline): it can be validated, not run")
	}
	selected, err := selectSyncs(p, opts.Only)
	if err != nil {
		return nil, err
	}
	parallel := e.parallel
	if parallel <= 0 {
		parallel = p.Defaults.Parallel
	}
	if parallel <= 0 {
		parallel = 4
	}
	rep := &Report{RunID: e.runID, Started: time.Now()}
	e.log.Info("run started", "run_id", e.runID, "syncs", len(selected), "parallel", parallel)

	shared := NewShared()
	defer func() {
		if err := shared.Close(); err != nil {
			e.log.Warn("closing shared connections", "error", redact(p, err.Error()))
		}
	}()

	type node struct {
		sync *config.Sync
		done chan struct{}
		rep  *SyncReport
	}
	nodes := make(map[string]*node, len(selected))
	for _, s := range selected {
		nodes[s.Name] = &node{sync: s, done: make(chan struct{})}
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, s := range selected {
		n := nodes[s.Name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(n.done)
			// Parents that are part of this run finish first.
			for _, dep := range n.sync.DependsOn {
				pn, ok := nodes[dep]
				if !ok {
					continue
				}
				select {
				case <-pn.done:
				case <-ctx.Done():
				}
				if ctx.Err() == nil && pn.rep.Status != Succeeded && !n.sync.RunIfParentFailed {
					n.rep = e.skippedSync(ctx, p, n.sync, &ParentError{Parent: dep, Status: pn.rep.Status})
					return
				}
			}
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
			}
			n.rep = e.runOne(ctx, p, n.sync, shared, opts)
		}()
	}
	wg.Wait()
	for _, s := range selected {
		rep.Syncs = append(rep.Syncs, nodes[s.Name].rep)
	}
	rep.Duration = time.Since(rep.Started)
	for _, o := range e.observers {
		e.observe("RunFinished", func() { o.RunFinished(context.WithoutCancel(ctx), rep) })
	}
	e.log.Info("run finished", "run_id", e.runID, "ok", rep.OK(), "duration", rep.Duration.Round(time.Millisecond))
	return rep, nil
}

func selectSyncs(p *config.Project, only []string) ([]*config.Sync, error) {
	if len(only) == 0 {
		return p.Syncs, nil
	}
	var out []*config.Sync
	for _, name := range only {
		s := p.Sync(name)
		if s == nil {
			return nil, fmt.Errorf("no sync named %q", name)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (e *Engine) skippedSync(ctx context.Context, p *config.Project, s *config.Sync, reason error) *SyncReport {
	rep := &SyncReport{Name: s.Name, File: s.File, Status: SkippedSync, Started: time.Now()}
	rep.setErr(p, reason)
	e.log.Warn("sync skipped", "sync", s.Name, "reason", rep.Error)
	for _, o := range e.observers {
		e.observe("SyncFinished", func() { o.SyncFinished(context.WithoutCancel(ctx), s, rep) })
	}
	return rep
}

func (e *Engine) runOne(ctx context.Context, p *config.Project, s *config.Sync, shared *Shared, opts RunOptions) (rep *SyncReport) {
	rep = &SyncReport{Name: s.Name, File: s.File, Started: time.Now()}
	defer func() {
		if r := recover(); r != nil {
			rep.Status = Failed
			rep.setErr(p, fmt.Errorf("panic: %v", r))
			e.log.Error("sync panicked", "sync", s.Name, "panic", redact(p, fmt.Sprint(r)))
		}
	}()
	if err := ctx.Err(); err != nil {
		rep.Status = Cancelled
		rep.setErr(p, &causeError{"run cancelled before the sync started", context.Cause(ctx)})
		e.finish(ctx, s, rep)
		return rep
	}
	release, stop := e.lease(ctx, p, s, opts, rep)
	if stop != nil {
		e.finish(ctx, s, stop)
		return stop
	}
	defer release()
	defer e.track(s.Name, nil)
	var parts Parts
	err := func() (err error) {
		// A factory that panics fails its sync like one that errs, so
		// that observers (alerts, report files) still hear of the sync.
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		parts, err = e.Build(ctx, p, s, shared)
		if err == nil && e.intercept != nil {
			var replaced Parts
			if replaced, err = e.intercept.Parts(ctx, s, parts); err != nil {
				_ = parts.close(context.WithoutCancel(ctx))
				parts = Parts{}
			} else {
				parts = replaced
			}
		}
		return err
	}()
	e.track(s.Name, parts.Sink)
	if err != nil {
		rep.Status = Failed
		rep.setErr(p, err)
		e.log.Error("sync failed to build", "sync", s.Name, "error", rep.Error)
		e.finish(ctx, s, rep)
		return rep
	}
	return e.run(ctx, p, s, parts, rep, opts)
}

// RunSync runs one sync from parts the caller built, as an embedding
// service does with its own source and sink. It closes the parts.
func (e *Engine) RunSync(ctx context.Context, s *config.Sync, parts Parts) *SyncReport {
	rep := &SyncReport{Name: s.Name, File: s.File, Started: time.Now()}
	return e.run(ctx, nil, s, parts, rep, RunOptions{})
}

// track notes the sink of a running sync, or forgets it (k nil).
func (e *Engine) track(name string, k sink.Sink) {
	e.runningMu.Lock()
	defer e.runningMu.Unlock()
	if k == nil {
		delete(e.running, name)
		return
	}
	if e.running == nil {
		e.running = map[string]sink.Sink{}
	}
	e.running[name] = k
}

// Running returns, for each sync running now, what its sink says about
// itself (sink.Stats: for Salesforce the API and the Bulk jobs it
// opened), so that a program being stopped can say what is in flight.
// A sink without Stats has zero Statistics.
func (e *Engine) Running() map[string]sink.Statistics {
	e.runningMu.Lock()
	sinks := make(map[string]sink.Sink, len(e.running))
	for k, v := range e.running {
		sinks[k] = v
	}
	e.runningMu.Unlock()
	out := make(map[string]sink.Statistics, len(sinks))
	for name, k := range sinks {
		var st sink.Statistics
		if s, ok := k.(sink.Stats); ok {
			st = s.Stats()
		}
		out[name] = st
	}
	return out
}

func (e *Engine) finish(ctx context.Context, s *config.Sync, rep *SyncReport) {
	rep.Duration = time.Since(rep.Started)
	for _, o := range e.observers {
		e.observe("SyncFinished", func() { o.SyncFinished(context.WithoutCancel(ctx), s, rep) })
	}
	attrs := []any{"sync", s.Name, "status", rep.Status, "read", rep.Read, "created", rep.Created,
		"updated", rep.Updated, "failed", rep.Failed, "skipped", rep.Skipped, "kept_back", rep.KeptBack,
		"kept_edits", rep.KeptEdits, "duration", rep.Duration.Round(time.Millisecond)}
	if rep.Altered > 0 {
		attrs = append(attrs, "altered", rep.Altered)
	}
	if rep.Error != "" {
		attrs = append(attrs, "error", rep.Error)
	}
	if rep.Status == Succeeded {
		e.log.Info("sync finished", attrs...)
	} else {
		e.log.Error("sync finished", attrs...)
	}
}

// observe calls an observer and logs a panic instead of passing it on: an
// observer's bug (an alert, a report file) must not fail a sync that
// succeeded, nor cost the run its report.
func (e *Engine) observe(call string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("observer panicked", "call", call, "panic", fmt.Sprint(r))
		}
	}()
	f()
}

func redact(p *config.Project, s string) string {
	if p == nil || p.Redactor == nil {
		return s
	}
	return p.Redactor.Redact(s)
}
