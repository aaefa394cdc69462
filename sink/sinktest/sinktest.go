// Package sinktest is the conformance suite every sink.Sink runs, ours or
// another team's. It checks the contract the Engine relies on: exactly one
// result per record, in input order; a rejected record fails alone; writes
// may run concurrently; a cancelled context ends a write promptly, with an
// error or with results that report nothing written; no case leaves a
// goroutine behind; a set_if_empty field that holds a value keeps it; a
// sink.Planner writes nothing. Given a Build, it also builds the sink
// through its registered factory from a sync file: with every key, with
// each required key removed in turn, and offline, where the build must do
// no I/O. Ledger checks the outcomes of whole runs through the Engine.
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
//
// The goroutine checks (go.uber.org/goleak) see every goroutine of the test
// binary: a test that runs the suite must not run in parallel with others.
package sinktest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/retl-go/retl/sink"
)

// Target is one fresh sink and ways to read what its destination holds.
type Target struct {
	Sink sink.Sink
	// Count returns how many records the destination holds; nil skips the
	// checks that nothing is lost or duplicated, or written by a plan.
	Count func() (int, error)
	// Lookup returns the fields the destination holds for the record of a
	// key (Record.Key), or nil when it holds none; nil skips the
	// set_if_empty case.
	Lookup func(key string) (map[string]string, error)
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
	// Guard names a field of Good's records, other than the one that finds
	// the record, that takes any short text: the set_if_empty case marks
	// it guarded. "" skips that case.
	Guard string
	// Build builds the sink from a sync file through its factory; nil
	// skips the build cases.
	Build *Build
	// GoleakOptions are passed to every goroutine check, for goroutines a
	// dependency keeps on purpose (goleak.IgnoreTopFunction).
	GoleakOptions []goleak.Option
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
	// build cases start from Harness.Build instead of a Target.
	build bool
	run   func(ctx context.Context, h Harness, tg Target, c *collector)
}

type collector struct {
	mu    sync.Mutex
	fails []string
	skip  string
}

func (c *collector) failf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fails = append(c.fails, fmt.Sprintf(format, args...))
}

// skipf records why a case does not apply to this sink or harness.
func (c *collector) skipf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skip = fmt.Sprintf(format, args...)
}

var checks = []check{
	{name: "empty write", run: checkEmpty},
	{name: "one result per record", run: checkOnePerRecord},
	{name: "results in input order", run: checkOrder},
	{name: "concurrent writes", run: checkConcurrent},
	{name: "cancelled context", run: checkCancelled},
	{name: "close leaves no goroutines", run: checkNoLeak},
	{name: "set_if_empty", run: checkGuard},
	{name: "planner writes nothing", run: checkPlanner},
	{name: "factory builds the sink", build: true, run: checkFactory},
	{name: "required keys", build: true, run: checkRequired},
	{name: "offline build does no I/O", build: true, run: checkOffline},
}

// Cases lists the names of the suite's cases, for Harness.Skip.
func Cases() []string {
	out := make([]string, len(checks))
	for i, c := range checks {
		out[i] = c.name
	}
	return out
}

// Run runs every case as a subtest of t. A case that does not apply (no
// Bad, Guard, Build, or a sink that is not a Planner) is skipped.
func Run(t *testing.T, h Harness) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if slices.Contains(h.Skip, c.name) {
				t.Skipf("skipped by the harness")
			}
			fails, skip := runCheck(t, h, c)
			for _, f := range fails {
				t.Error(f)
			}
			if skip != "" && len(fails) == 0 {
				t.Skip(skip)
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
		fails, _ := runCheck(t, h, c)
		for _, f := range fails {
			out = append(out, Failure{Case: c.name, Msg: f})
		}
	}
	return out
}

func runCheck(t testing.TB, h Harness, c check) (fails []string, skip string) {
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
	if c.build && h.Build == nil {
		return nil, "no Build in the harness"
	}
	var tg Target
	if !c.build {
		tg = h.New(t)
	}
	// Goroutines that exist now (the test's, the destination's server)
	// are not the case's; any other one left when it ends is a leak.
	opts := append(slices.Clone(h.GoleakOptions), goleak.IgnoreCurrent())
	c.run(ctx, h, tg, col)
	if ctx.Err() != nil {
		col.failf("case did not finish within %s", timeout)
	}
	if err := findLeaks(opts); err != nil {
		col.failf("goroutines left behind: %v", err)
	}
	return col.fails, col.skip
}

// leakRounds is how many times goleak looks before a goroutine counts as
// leaked. One look gives up after about half a second, which a loaded
// machine can need to end a finished connection's goroutines.
const leakRounds = 5

func findLeaks(opts []goleak.Option) error {
	var err error
	for range leakRounds {
		if err = goleak.Find(opts...); err == nil {
			return nil
		}
	}
	return err
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
		c.skipf("no Bad records in the harness")
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

// checkNoLeak writes and closes; runCheck then finds what is left.
func checkNoLeak(ctx context.Context, h Harness, tg Target, c *collector) {
	res, err := tg.Sink.Write(ctx, records(h, 30_000, 10))
	if err != nil || len(res) != 10 {
		c.failf("Write: %d results, err %v", len(res), err)
	}
	closeSink(ctx, tg, c)
}

// guardedLayout is a copy of l with field idx guarded by set_if_empty.
func guardedLayout(l *sink.Layout, idx int) *sink.Layout {
	g := make([]bool, len(l.Fields))
	copy(g, l.Guarded)
	g[idx] = true
	return sink.NewLayout(slices.Clone(l.Fields), g)
}

// checkGuard writes one record twice with its Guard field guarded: the
// first write sets the empty field, the second must leave it and say so
// in KeptBack. A sink that cannot do this must refuse guarded fields
// when built (see checkFactory's guarded build).
func checkGuard(ctx context.Context, h Harness, tg Target, c *collector) {
	defer closeSink(ctx, tg, c)
	if h.Guard == "" || tg.Lookup == nil {
		c.skipf("no Guard field or Target.Lookup in the harness")
		return
	}
	if h.Build != nil {
		refused, ok := buildGuarded(ctx, h, c)
		if !ok || refused {
			return
		}
	}
	const i = 50_000
	base := h.Good(i)
	idx := base.Layout.Index(h.Guard)
	if idx < 0 {
		c.failf("Guard %q is not a field of Good's records", h.Guard)
		return
	}
	layout := guardedLayout(base.Layout, idx)
	if p, ok := tg.Sink.(sink.Preflighter); ok {
		// The Engine preflights every layout before its first write.
		if err := p.Preflight(ctx, layout); err != nil {
			c.failf("Preflight of a layout with a guarded field: %v (a sink that cannot guard fields refuses them in its factory)", err)
			return
		}
	}
	write := func(v string) (sink.Result, bool) {
		r := h.Good(i)
		r.Seq, r.Layout = 1, layout
		r.Values = slices.Clone(r.Values)
		r.Values[idx] = sink.TextValue(v)
		res, err := tg.Sink.Write(ctx, []sink.Record{r})
		if err != nil || len(res) != 1 || res[0].Err != nil || res[0].Skipped != "" {
			c.failf("Write with guarded %s=%q: %d results, err %v, %+v", h.Guard, v, len(res), err, res)
			return sink.Result{}, false
		}
		return res[0], true
	}
	held := func() (string, bool) {
		fields, err := tg.Lookup(base.Key)
		if err != nil {
			c.failf("Lookup(%q): %v", base.Key, err)
			return "", false
		}
		for f, v := range fields {
			if strings.EqualFold(f, h.Guard) {
				return v, true
			}
		}
		return "", true
	}
	if _, ok := write("first"); !ok {
		return
	}
	if v, ok := held(); !ok {
		return
	} else if v != "first" {
		c.failf("a guarded field the destination held no value for was not set: holds %q, want %q", v, "first")
		return
	}
	res, ok := write("second")
	if !ok {
		return
	}
	if v, ok := held(); ok && v != "first" {
		c.failf("a guarded field that held %q was overwritten with %q", "first", v)
	}
	if !slices.ContainsFunc(res.KeptBack, func(f string) bool { return strings.EqualFold(f, h.Guard) }) {
		c.failf("the result of a write that kept %s back does not list it in KeptBack (got %v)", h.Guard, res.KeptBack)
	}
}

// checkPlanner plans records one of which the destination holds: one
// result per record, the held one not to be created, and nothing written.
func checkPlanner(ctx context.Context, h Harness, tg Target, c *collector) {
	defer closeSink(ctx, tg, c)
	p, ok := tg.Sink.(sink.Planner)
	if !ok {
		c.skipf("the sink is not a sink.Planner")
		return
	}
	const from, n = 40_000, 5
	res, err := tg.Sink.Write(ctx, records(h, from, 1))
	if err != nil || len(res) != 1 || res[0].Err != nil {
		c.failf("Write of the record the plan finds: %d results, err %v, %+v", len(res), err, res)
		return
	}
	res, err = p.Plan(ctx, records(h, from, n))
	if err != nil {
		c.failf("Plan of %d records: %v", n, err)
		return
	}
	if len(res) != n {
		c.failf("Plan of %d records returned %d results", n, len(res))
		return
	}
	for i, r := range res {
		if r.Err != nil {
			c.failf("Plan: record %d: %v", i, r.Err)
		}
	}
	if res[0].Created {
		c.failf("Plan: the record the destination holds would be created")
	}
	expectCount(tg, 1, c)
}

// SimpleLayout is a two-field layout (Name, External_Id__c) for harnesses
// that have no layout of their own.
var SimpleLayout = sink.NewLayout([]string{"External_Id__c", "Name"}, nil)

// SimpleRecord returns a record of SimpleLayout with external id "K<i>".
func SimpleRecord(i int, name string) sink.Record {
	key := "K" + strconv.Itoa(i)
	return sink.Record{Key: key, Layout: SimpleLayout, Values: []sink.Value{sink.TextValue(key), sink.TextValue(name)}}
}
