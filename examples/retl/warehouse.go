package main

import (
	"io"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/state"
)

// warehouseState opens the store the project file's writeback section
// names, if any: change detection compares against its state, and a run
// (not a plan) writes its log and row outcomes to it.
func warehouseState(p *config.Project, runID string, plan bool) ([]reverseetl.Option, io.Closer, error) {
	st, err := state.Open(p)
	if err != nil || st == nil {
		return nil, io.NopCloser(nil), err
	}
	opts := []reverseetl.Option{reverseetl.WithState(st)}
	if !plan {
		opts = append(opts, reverseetl.WithObserver(st.Writeback(runID)))
	}
	return opts, st, nil
}
