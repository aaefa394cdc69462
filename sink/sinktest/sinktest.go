// Package sinktest is the conformance suite every sink.Sink runs, ours or
// another team's. It checks the contract the Engine relies on: exactly one
// result per record, in input order; a rejected record fails alone; writes
// may run concurrently; a cancelled context ends a write promptly, with an
// error or with results that report nothing written; and Close leaves no
// goroutine behind.
//
// A sink's test runs it with one call:
//
//	func TestConformance(t *testing.T) {
//		sinktest.Run(t, sinktest.Harness{
//			New:  func(t testing.TB) sinktest.Target { s := mysink.New(...); return sinktest.Target{Sink: s, Count: s.Count} },
//			Good: func(i int) sink.Record { return sinktest.SimpleRecord(i, "ok") },
//			Bad:  func(i int) sink.Record { ... a record the destination rejects ... },
//		})
//	}
package sinktest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/retl-go/retl/sink"
)

// Target is one fresh sink and a way to count what its destination holds.
type Target struct {
	Sink sink.Sink
	// Count returns how many records the destination holds; nil skips the
	// checks that nothing is lost or duplicated.
	Count func() (int, error)
}

// Harness says how to build the sink under test and its records.
type Harness struct {
	// New returns a fresh sink writing to a fresh (or empty) destination.
	New func(t testing.TB) Target
	// Good returns a record the destination accepts; records for distinct
	// i must be distinct records at the destination.
	Good func(i int) sink.Record
	// Bad returns a record the destination rejects; nil skips the cases
	// that need one.
	Bad func(i int) sink.Record
	// Skip names cases not to run (see Cases).
	Skip []string
	// Timeout bounds each case; default 60s.
	Timeout time.Duration
}

// Failure is one broken promise found by Check.
type Failure struct {
	Case string
	Msg  string
}

func (f Failure) String() string { return f.Case + ": " + f.Msg }

type check struct {
	name string
	run  func(ctx context.Context, h Harness, tg Target, c *collector)
}

type collector struct {
	mu    sync.Mutex
	fails []string
}

func (c *collector) failf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fails = append(c.fails, fmt.Sprintf(format, args...))
}

var checks = []check{
	{"empty write", checkEmpty},
	{"one result per record", checkOnePerRecord},
	{"results in input order", checkOrder},
	{"concurrent writes", checkConcurrent},
	{"cancelled context", checkCancelled},
	{"close leaves no goroutines", checkNoLeak},
}

// Cases lists the names of the suite's cases, for Harness.Skip.
func Cases() []string {
	out := make([]string, len(checks))
	for i, c := range checks {
		out[i] = c.name
	}
	return out
}

// Run runs every case as a subtest of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if slices.Contains(h.Skip, c.name) {
				t.Skipf("skipped by the harness")
			}
			for _, f := range runCheck(t, h, c) {
				t.Error(f)
			}
		})
	}
}

// Check runs every case and returns what failed, without a testing.T of its
// own; it is how the suite's own tests show that it catches broken sinks.
func Check(t testing.TB, h Harness) []Failure {
	var out []Failure
	for _, c := range checks {
		if slices.Contains(h.Skip, c.name) {
			continue
		}
		for _, f := range runCheck(t, h, c) {
			out = append(out, Failure{Case: c.name, Msg: f})
		}
	}
	return out
}

func runCheck(t testing.TB, h Harness, c check) (fails []string) {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	col := &collector{}
	defer func() {
		if p := recover(); p != nil {
			fails = append(col.fails, fmt.Sprintf("panic: %v", p))
		}
	}()
	tg := h.New(t)
	c.run(ctx, h, tg, col)
	if ctx.Err() != nil {
		col.failf("case did not finish within %s", timeout)
	}
	return col.fails
}

func closeSink(ctx context.Context, tg Target, c *collector) {
	if err := tg.Sink.Close(ctx); err != nil {
		c.failf("Close: %v", err)
	}
}

func checkEmpty(ctx context.Context, _ Harness, tg Target, c *collector) {
	defer closeSink(ctx, tg, c)
	res, err := tg.Sink.Write(ctx, nil)
	if err != nil {
		c.failf("Write(nil) returned error %v", err)
	}
	if len(res) != 0 {
		c.failf("Write(nil) returned %d results, want 0", len(res))
	}
}

func batchSize(s sink.Sink) (int, int) {
	if b, ok := s.(sink.Batching); ok {
		n, conc := b.Batching()
		return max(n, 1), max(conc, 1)
	}
	return 100, 1
}

func records(h Harness, from, n int) []sink.Record {
	out := make([]sink.Record, n)
	for i := range out {
		out[i] = h.Good(from + i)
		out[i].Seq = int64(from + i + 1)
	}
	return out
}

func expectCount(tg Target, want int, c *collector) {
	if tg.Count == nil {
		return
	}
	got, err := tg.Count()
	if err != nil {
		c.failf("Count: %v", err)
		return
	}
	if got != want {
		c.failf("destination holds %d records, want %d (lost or duplicated)", got, want)
	}
}

func checkOnePerRecord(ctx context.Context, h Harness, tg Target, c *collector) {
	defer closeSink(ctx, tg, c)
	bs, _ := batchSize(tg.Sink)
	total := 0
	for _, n := range []int{1, 3, min(bs+1, 1001)} {
		recs := records(h, total, n)
		total += n
		res, err := tg.Sink.Write(ctx, recs)
		if err != nil {
			c.failf("Write of %d records: %v", n, err)
			return
		}
		if len(res) != n {
			c.failf("Write of %d records returned %d results", n, len(res))
			return
		}
		for i, r := range res {
			if r.Err != nil || r.Skipped != "" {
				c.failf("record %d of %d: want success, got err=%v skipped=%q", i, n, r.Err, r.Skipped)
			}
		}
	}
	expectCount(tg, total, c)
}

func checkOrder(ctx context.Context, h Harness, tg Target, c *collector) {
	defer closeSink(ctx, tg, c)
	if h.Bad == nil {
		return
	}
	const n = 9
	// Asymmetric positions, so reversed or shifted results are caught too.
	bad := map[int]bool{1: true, 3: true, n - 1: true}
	recs := make([]sink.Record, n)
	for i := range recs {
		if bad[i] {
			recs[i] = h.Bad(i)
		} else {
			recs[i] = h.Good(i)
		}
		recs[i].Seq = int64(i + 1)
	}
	res, err := tg.Sink.Write(ctx, recs)
	if err != nil {
		c.failf("a rejected record failed the whole Write: %v", err)
		return
	}
	if len(res) != n {
		c.failf("Write of %d records returned %d results", n, len(res))
		return
	}
	for i, r := range res {
		switch {
		case bad[i] && r.Err == nil:
			c.failf("record %d should be rejected, got success (results out of order?)", i)
		case bad[i] && r.Err.Code == "":
			c.failf("record %d rejected without the destination's error code", i)
		case !bad[i] && r.Err != nil:
			c.failf("record %d should succeed, got %v (results out of order?)", i, r.Err)
		}
	}
	expectCount(tg, n-len(bad), c)
}

func checkConcurrent(ctx context.Context, h Harness, tg Target, c *collector) {
	defer closeSink(ctx, tg, c)
	_, conc := batchSize(tg.Sink)
	conc = max(conc, 2)
	const per = 20
	var wg sync.WaitGroup
	for g := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs := records(h, 10_000+g*per, per)
			res, err := tg.Sink.Write(ctx, recs)
			if err != nil {
				c.failf("concurrent Write %d: %v", g, err)
				return
			}
			if len(res) != per {
				c.failf("concurrent Write %d returned %d results, want %d", g, len(res), per)
				return
			}
			for i, r := range res {
				if r.Err != nil {
					c.failf("concurrent Write %d record %d: %v", g, i, r.Err)
				}
			}
		}()
	}
	wg.Wait()
	expectCount(tg, conc*per, c)
}

func checkCancelled(ctx context.Context, h Harness, tg Target, c *collector) {
	defer closeSink(ctx, tg, c)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	done := make(chan struct{})
	var err error
	var res []sink.Result
	go func() {
		defer close(done)
		res, err = tg.Sink.Write(cctx, records(h, 20_000, 5))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.failf("Write with a cancelled context did not return within 10s")
		return
	}
	if err == nil {
		// A sink may answer a stopped write with what it knows: then one
		// result per record, and none written, since nothing was sent.
		if len(res) != 5 {
			c.failf("Write with a cancelled context returned %d results for 5 records and no error", len(res))
			return
		}
		for i, r := range res {
			if r.Err == nil && r.Skipped == "" {
				c.failf("Write with a cancelled context reported record %d written", i)
				return
			}
		}
		return
	}
	if !errors.Is(err, context.Canceled) {
		c.failf("Write with a cancelled context: error %v does not wrap context.Canceled", err)
	}
}

func checkNoLeak(ctx context.Context, h Harness, tg Target, c *collector) {
	before := settledGoroutines()
	res, err := tg.Sink.Write(ctx, records(h, 30_000, 10))
	if err != nil || len(res) != 10 {
		c.failf("Write: %d results, err %v", len(res), err)
	}
	closeSink(ctx, tg, c)
	deadline := time.Now().Add(3 * time.Second)
	for {
		after := runtime.NumGoroutine()
		if after <= before {
			return
		}
		if time.Now().After(deadline) {
			c.failf("%d goroutines after Close, %d before Write", after, before)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settledGoroutines waits briefly for goroutines of earlier work (test
// runners, finished writes) to end, so that only this case's are counted.
func settledGoroutines() int {
	last := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(10 * time.Millisecond)
		n := runtime.NumGoroutine()
		if n == last {
			return n
		}
		last = n
	}
	return last
}

// SimpleLayout is a two-field layout (Name, External_Id__c) for harnesses
// that have no layout of their own.
var SimpleLayout = sink.NewLayout([]string{"External_Id__c", "Name"}, nil)

// SimpleRecord returns a record of SimpleLayout with external id "K<i>".
func SimpleRecord(i int, name string) sink.Record {
	key := "K" + strconv.Itoa(i)
	return sink.Record{Key: key, Layout: SimpleLayout, Values: []sink.Value{sink.TextValue(key), sink.TextValue(name)}}
}
