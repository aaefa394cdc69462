package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/state"
)

// warehouseState opens the store the project file's writeback section
// names, if any: change detection compares against its state, and a run
// (not a plan) writes its log and row outcomes to it. The tables are
// readied, and old rows deleted, before any sync reads; a failure there is
// logged, and reported again on every sync it affects. A plan opens the
// store read-only: it reads the state if there is one and writes nothing.
func warehouseState(ctx context.Context, p *config.Project, runID string, plan bool, log *slog.Logger) ([]reverseetl.Option, io.Closer, error) {
	openStore := state.Open
	if plan {
		openStore = state.OpenReadOnly
	}
	st, err := openStore(p)
	if err == nil && st == nil && !plan {
		log.Warn("no writeback section: nothing stops two runs of a sync at once; let the scheduler run one at a time (GitLab resource_group)")
	}
	if err != nil || st == nil {
		return nil, io.NopCloser(nil), err
	}
	opts := []reverseetl.Option{reverseetl.WithState(st)}
	prepare := st.Prepare
	if !plan {
		wb := st.Writeback(runID)
		opts = append(opts, reverseetl.WithObserver(wb))
		prepare = wb.Prepare
	}
	if err := prepare(ctx); err != nil {
		log.Warn("warehouse writeback", "error", p.Redactor.Redact(err.Error()))
	}
	return opts, st, nil
}
