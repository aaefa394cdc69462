package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/state"
	"github.com/retl-go/retl/sink/salesforce"
)

// job is one load a worker process runs.
type job struct {
	URL    string `json:"url"`
	API    string `json:"api"`
	Rows   int    `json:"rows"`
	Prefix string `json:"prefix"`
	Dest   string `json:"dest,omitempty"`
	// Project and Sync, when set, are the production path's files (see
	// prod.go) instead of the generated rows.
	Project string `json:"project,omitempty"`
	Sync    string `json:"sync,omitempty"`
}

// workerResult is what a worker measured of itself.
type workerResult struct {
	Wall     float64  `json:"wall"`
	User     float64  `json:"user"`
	Sys      float64  `json:"sys"`
	PeakHeap uint64   `json:"peak_heap"`
	PeakRSS  uint64   `json:"peak_rss"`
	Wchar    uint64   `json:"wchar"`
	Rchar    uint64   `json:"rchar"`
	Written  int64    `json:"written"`
	Failed   int64    `json:"failed"`
	Calls    int64    `json:"calls"`
	Jobs     []string `json:"jobs"`
	Error    string   `json:"error,omitempty"`
	// Statements and WhBytes are the writeback's, on the production path.
	Statements int64   `json:"statements,omitempty"`
	WhBytes    int64   `json:"warehouse_bytes,omitempty"`
	WhBusy     float64 `json:"warehouse_busy,omitempty"`
}

// runWorker runs one load through the Engine, as `retl run` would, in a
// process of its own so that its CPU time and peak memory are the load's.
func runWorker(spec string, out io.Writer) error {
	var j job
	if err := json.Unmarshal([]byte(spec), &j); err != nil {
		return err
	}
	var profile func()
	if f := os.Getenv("BENCH_MEMPROFILE"); f != "" {
		// The live heap near its peak, for finding what holds memory:
		// collected first, so that the profile is the heap of this moment
		// rather than of the last collection (this costs the run time and
		// lowers its peak).
		profile = func() {
			runtime.GC()
			if w, err := os.Create(f); err == nil {
				_ = pprof.WriteHeapProfile(w)
				w.Close()
			}
		}
	}
	hp := startHeapPeak(5*time.Millisecond, profile)
	if f := os.Getenv("BENCH_CPUPROFILE"); f != "" {
		// A profile of the load, for finding where its CPU time goes.
		w, err := os.Create(f)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(w); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	var rep *reverseetl.Report
	var stats state.Stats
	var wall time.Duration
	if j.Project != "" {
		start := time.Now()
		var err error
		rep, stats, err = runProdWorker(ctx, j)
		wall = time.Since(start)
		if err != nil {
			return err
		}
	} else {
		p, err := loadProject(ctx, j.URL, j.API, j.Rows, j.Prefix, j.Dest)
		if err != nil {
			return err
		}
		reg := reverseetl.NewRegistry()
		reg.RegisterSource("bench", newGenSource)
		registerSinks(reg)
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		eng := reverseetl.New(reg, reverseetl.WithLogger(log))

		start := time.Now()
		rep, err = eng.Run(ctx, p, reverseetl.RunOptions{})
		wall = time.Since(start)
		if err != nil {
			return err
		}
	}
	res := workerResult{Wall: wall.Seconds(), PeakHeap: hp.Stop(), PeakRSS: procStatus("VmHWM"),
		Statements: stats.Statements, WhBytes: stats.Bytes, WhBusy: stats.Busy.Seconds()}
	res.User, res.Sys = cpuSeconds()
	res.Wchar, res.Rchar = ioCounts()
	s := rep.Syncs[0]
	res.Written, res.Failed = s.Written(), s.Failed
	if s.Status != reverseetl.Succeeded || s.WritebackFailed {
		res.Error = fmt.Sprintf("sync %s: %s %v", s.Status, s.Error, s.Warnings)
	}
	if s.Stats != nil {
		res.Calls, res.Jobs = s.Stats.Calls, s.Stats.Jobs
	}
	return json.NewEncoder(out).Encode(res)
}

func registerSinks(reg *reverseetl.Registry) { salesforce.Register(reg) }
