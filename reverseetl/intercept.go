package reverseetl

import (
	"context"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
)

// WriteFunc is a sink's Write, or its Plan in a plan.
type WriteFunc func(ctx context.Context, records []sink.Record) ([]sink.Result, error)

// Interceptor changes what a sync reads and how its records reach the
// sink, for a program that runs something other than the sync's query: a
// sealed plan (package sealed) is written from what the sink planned, and
// applied from the plan's records instead of the query's rows. Everything
// else (preflight, screening, outcomes, writeback, reports) stays the
// Engine's.
type Interceptor interface {
	// Parts is called once per sync after its parts are built and before
	// anything is read; it returns the parts to run, closing those it
	// replaces. An error fails the sync before it reads or writes.
	Parts(ctx context.Context, s *config.Sync, parts Parts) (Parts, error)
	// Write wraps the sink's Write (Plan when plan is set). k is the
	// sync's sink, for the optional abilities the wrapper needs.
	Write(s *config.Sync, k sink.Sink, plan bool, write WriteFunc) WriteFunc
}

// WithInterceptor sets the run's Interceptor.
func WithInterceptor(i Interceptor) Option { return func(e *Engine) { e.intercept = i } }
