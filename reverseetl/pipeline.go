package reverseetl

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source"
	"github.com/retl-go/retl/transform"
)

// defaultWriteBatch is the records per Write for sinks that state no preference.
const defaultWriteBatch = 1000

// staggerMin is the smallest batch whose first Write is halved to stagger
// concurrent writes (see transformStage.send); a smaller Write is a few
// quick calls, and halving it would only add one.
const staggerMin = 1000

// run streams one sync: source → transformer → sink, with bounded channels
// between the stages so that reading, mapping and writing overlap and memory
// stays flat. Every row read gets exactly one outcome through rec.
func (e *Engine) run(ctx context.Context, p *config.Project, s *config.Sync, parts Parts, rep *SyncReport, opts RunOptions) *SyncReport {
	log := e.log.With("sync", s.Name)
	desc := describe(parts.Sink)
	log.Info("sync started", "source", s.Source.Type, "destination", s.Destination.Type, "writes", desc.Label)
	rec := newRecorder(ctx, s, rep, e.observers, e.outcomeChunk, func(msg string) string { return redact(p, msg) })
	rec.drain = newDrain(rec.ctx, e.writebackBuffer/max(e.outcomeChunk, 1), e.writebackBase, e.writebackPerRow)
	rec.exclude = e.exclusion(p)

	fatal := newFatal()
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	defer func() {
		if err := parts.close(context.WithoutCancel(ctx)); err != nil {
			log.Warn("closing sync parts", "error", redact(p, err.Error()))
		}
	}()

	write := parts.Sink.Write
	if opts.Plan {
		pl, ok := parts.Sink.(sink.Planner)
		if !ok {
			fatal.set(fmt.Errorf("destination type %q cannot plan", s.Destination.Type))
		} else {
			write = pl.Plan
		}
	}
	if e.intercept != nil {
		write = writeFunc(e.intercept.Write(s, parts.Sink, opts.Plan, WriteFunc(write)))
	}
	if pf, ok := parts.Sink.(sink.Preflighter); ok && fatal.get() == nil {
		if err := safeCall(func() error { return pf.Preflight(pctx, parts.Transformer.Layout()) }); err != nil {
			fatal.set(fmt.Errorf("preflight: %w", err))
		}
	}

	var cd *changeStage
	if fatal.get() == nil {
		var err error
		if cd, err = e.newChangeStage(pctx, s, desc, parts.Source, rec, opts); err != nil {
			fatal.set(err)
		} else if err = e.trackEdits(s, parts.Sink, parts.Transformer.Layout(), cd); err != nil {
			fatal.set(err)
		}
		write = cd.wrap(write)
	}

	if fatal.get() == nil {
		batchSize, conc := writeBatching(s, parts.Sink)
		batches := make(chan source.Batch, 2)
		// Unbuffered: a full batch waits in the transformer for a free
		// writer, so no more than conc+1 batches are held at once; a
		// Bulk-sized batch is tens of megabytes.
		writes := make(chan []sink.Record)
		// free holds a token for each writer that is or will be free for
		// the next batch; the transformer takes one before filling a
		// batch, so it does not hold a full batch nobody can take yet.
		// The first batch needs none.
		free := make(chan struct{}, conc)
		for range conc - 1 {
			free <- struct{}{}
		}
		var wg sync.WaitGroup

		// Reader.
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(batches)
			err := safeCall(func() error {
				return parts.Source.Read(pctx, func(b source.Batch) error {
					select {
					case batches <- b:
						return nil
					case <-pctx.Done():
						return context.Cause(pctx)
					}
				})
			})
			if err != nil && pctx.Err() == nil {
				// Rows already read are still written; the sync fails.
				fatal.setSoft(fmt.Errorf("source: %w", err))
			}
		}()

		// Transformer.
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(writes)
			t := &transformStage{parent: ctx, tr: parts.Transformer, rec: rec, batch: batchSize, stagger: conc > 1 && batchSize >= staggerMin, out: writes, free: free, ctx: pctx, sink: parts.Sink, cd: cd, keyField: desc.KeyField}
			if err := safeCall(func() error { return t.run(batches) }); err != nil {
				fatal.set(err)
				cancel(err)
				// A run cancelled meanwhile is why the stage stopped.
				reason := stopReason(ctx, err)
				t.abandon(reason)
				for b := range batches {
					t.skipRows(b, reason)
				}
			}
		}()

		// Writers.
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for recs := range writes {
					if cause := context.Cause(pctx); cause != nil {
						rec.skipAll(recs, stopReason(ctx, cause))
						continue
					}
					if err := e.write(pctx, write, recs, rec); err != nil {
						fatal.set(err)
						cancel(err)
					}
					select {
					case free <- struct{}{}:
					default:
					}
				}
			}()
		}
		wg.Wait()
		if fatal.get() == nil && ctx.Err() == nil {
			if s.OnRemoved != nil {
				// The state on_removed reads is complete.
				cd.flush()
				rec.drain.wait()
			}
			if err := e.removeStale(pctx, s, parts.Sink, cd, rec, rep); err != nil {
				fatal.set(err)
			}
		}
	}
	cd.flush()
	rec.close()

	if st, ok := parts.Sink.(sink.Stats); ok {
		stats := st.Stats()
		rep.Stats = &stats
	}
	if w, ok := parts.Sink.(sink.Warner); ok {
		for _, msg := range w.Warnings() {
			rec.warn(msg)
		}
	}
	switch err := fatal.get(); {
	case ctx.Err() != nil:
		rep.Status = Cancelled
		rep.setErr(p, &causeError{"run cancelled", context.Cause(ctx)})
	case err != nil:
		rep.Status = Failed
		rep.setErr(p, err)
	default:
		rep.Status = Succeeded
		if err := overLimit(s, rep); err != nil {
			rep.Status = Failed
			rep.setErr(p, err)
		}
	}
	e.finish(ctx, s, rep)
	return rep
}

func stopReason(parent context.Context, cause error) skipWhy {
	if parent.Err() != nil {
		return notSent("run cancelled")
	}
	return errStopped
}

// errStopped is why rows left when a sync stops on an error are not sent.
var errStopped = notSent("sync stopped after an error")

// writeBatching decides the records per Write and how many Writes run at once.
func writeBatching(s *config.Sync, k sink.Sink) (size, conc int) {
	size, conc = defaultWriteBatch, 1
	if b, ok := k.(sink.Batching); ok {
		size, conc = b.Batching()
	}
	if s.RecordsPerWrite > 0 {
		size = s.RecordsPerWrite
	}
	return max(size, 1), max(conc, 1)
}

type writeFunc func(context.Context, []sink.Record) ([]sink.Result, error)

// write calls the sink once and records an outcome for every record. The
// error is a failure of the whole call, which stops the sync.
func (e *Engine) write(ctx context.Context, write writeFunc, recs []sink.Record, rec *recorder) error {
	var res []sink.Result
	err := safeCall(func() error {
		var err error
		res, err = write(ctx, recs)
		return err
	})
	if err != nil {
		code := CodeWrite
		if ctx.Err() != nil {
			code = CodeCancelled
		}
		rec.failAll(recs, code, "outcome unknown: the write failed: "+err.Error())
		return fmt.Errorf("write: %w", err)
	}
	if len(res) != len(recs) {
		rec.failAll(recs, CodeSinkResult, fmt.Sprintf("the sink returned %d results for %d records", len(res), len(recs)))
		return fmt.Errorf("write: the sink returned %d results for %d records", len(res), len(recs))
	}
	rec.results(recs, res)
	return nil
}

type transformStage struct {
	// parent is the run's context: it tells a cancelled run from a sync
	// stopped by its own error.
	parent context.Context
	ctx    context.Context
	tr     transform.Transformer
	rec    *recorder
	sink   sink.Sink
	batch  int
	out    chan<- []sink.Record
	free   <-chan struct{}
	seq    int64
	hinted bool
	// stagger halves the first Write (see send).
	stagger bool
	buf     []sink.Record
	// cur and pos are the batch being transformed and its next row.
	cur [][]any
	pos int
	// cd is change detection, nil when the sync has none.
	cd *changeStage
	// checked is the last column list the transformer accepted.
	checked []string
	// keyField is the field the sink finds records by: a record the
	// transformer gave no key (the sync names no key column) is reported
	// by its value. keyAt caches its index in the last layout.
	keyField string
	keyOf    *sink.Layout
	keyAt    int
}

// fillKey gives r the value of the sink's key field as its key, when the
// transformer gave it none.
func (t *transformStage) fillKey(r *sink.Record) {
	if r.Key != "" || t.keyField == "" || r.Layout == nil {
		return
	}
	if r.Layout != t.keyOf {
		t.keyOf, t.keyAt = r.Layout, r.Layout.Index(t.keyField)
	}
	if t.keyAt >= 0 && t.keyAt < len(r.Values) && !r.Values[t.keyAt].IsEmpty() {
		r.Key = r.Values[t.keyAt].S
	}
}

func (t *transformStage) run(batches <-chan source.Batch) error {
	for b := range batches {
		if cause := context.Cause(t.ctx); cause != nil {
			t.skipRows(b, stopReason(t.parent, cause))
			continue
		}
		b, err := t.cd.prepare(b)
		if err != nil {
			t.skipRows(b, notSent(err.Error()))
			return err
		}
		if cc, ok := t.tr.(transform.ColumnChecker); ok && !slices.Equal(b.Columns, t.checked) {
			// A mapping naming a column the query does not return is a
			// mistake in the sync, not in its rows: stop before any row
			// is transformed or written.
			if err := cc.CheckColumns(b.Columns); err != nil {
				t.skipRows(b, notSent("the sync's configuration does not fit the query"))
				return err
			}
			t.checked = b.Columns
		}
		t.rec.read(len(b.Rows))
		t.cur, t.pos = b.Rows, 0
		for i, row := range b.Rows {
			// seq is committed only once the row has an outcome, so that
			// abandon knows exactly which rows still need one.
			seq := t.seq + 1
			r, err := t.tr.Transform(transform.Row{Columns: b.Columns, Values: row})
			t.seq = seq
			t.pos = i + 1
			if err != nil {
				if code, detail, ok := transform.SkipReason(err); ok {
					t.rec.skip(seq, "", skipWhy{code, detail}, nil)
					continue
				}
				// The layout lets reports name the fields even without
				// values; a transformer that returns the row's key and the
				// values it mapped lets them say which row it was.
				failed := &sink.Record{Seq: seq, Layout: t.tr.Layout()}
				if r.Layout != nil {
					r.Seq = seq
					t.fillKey(&r)
					failed = &r
				}
				code := CodeTransform
				if ve := (*source.ValueError)(nil); errors.As(err, &ve) {
					code = CodeSourceValue
				}
				t.rec.fail(seq, r.Key, code, err.Error(), failed)
				if ce := (*transform.CompileError)(nil); errors.As(err, &ce) {
					// The mapping does not fit the query's columns: every
					// row would fail the same way, so the sync stops.
					return err
				}
				continue
			}
			r.Seq = seq
			t.fillKey(&r)
			if err := t.admit(r, i); err != nil {
				return err
			}
		}
		t.cur = nil
	}
	if err := t.releaseHeld(); err != nil {
		return err
	}
	if len(t.buf) > 0 || !t.hinted {
		return t.send(true)
	}
	return nil
}

// abandon gives an outcome to every row the stage holds when it stops on an
// error: the records not yet sent and the rest of the current batch.
func (t *transformStage) abandon(reason skipWhy) {
	t.rec.skipAll(t.buf, reason)
	t.buf = nil
	t.cd.abandon(t.rec, reason)
	for range t.cur[min(t.pos, len(t.cur)):] {
		t.seq++
		t.rec.skip(t.seq, "", reason, nil)
	}
	t.cur = nil
}

func (t *transformStage) skipRows(b source.Batch, reason skipWhy) {
	t.rec.read(len(b.Rows))
	for range b.Rows {
		t.seq++
		t.rec.skip(t.seq, "", reason, nil)
	}
}

// send hands the buffered records to the writers. Before the first send the
// sink gets a Hint: whether these are all the records, so it can pick an
// API for small or large loads without the whole result in memory.
func (t *transformStage) send(final bool) error {
	if c, ok := t.sink.(sink.Counter); ok && c.CountFirst() {
		return t.sendCounted(final)
	}
	if !t.hinted {
		t.hinted = true
		if h, ok := t.sink.(sink.Hinter); ok {
			if err := h.Hint(t.ctx, sink.Hint{Records: len(t.buf), Final: final}); err != nil {
				t.rec.skipAll(t.buf, notSent(err.Error()))
				t.buf = nil
				return fmt.Errorf("hint: %w", err)
			}
		}
	}
	if len(t.buf) == 0 {
		return nil
	}
	recs := t.buf
	t.buf = make([]sink.Record, 0, t.batch)
	if t.stagger && !final {
		// Equal batches started together end together, and then every
		// writer reads its results and prepares its next batch while the
		// destination has nothing to do. Half the first batch goes now
		// and half waits for the next, which staggers the writes for the
		// rest of the sync and reaches the destination sooner.
		t.stagger = false
		half := len(recs) / 2
		t.buf = append(t.buf, recs[half:]...)
		recs = recs[:half:half]
	}
	recs, err := t.screen(recs)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	select {
	case t.out <- recs:
	case <-t.ctx.Done():
		t.rec.skipAll(recs, stopReason(t.parent, context.Cause(t.ctx)))
		return nil
	}
	if !final && t.free != nil {
		// The next batch is filled once a writer is free to take it.
		select {
		case <-t.free:
		case <-t.ctx.Done():
		}
	}
	return nil
}

// screen asks a sink.Screener which records must not be sent, records
// their outcomes and returns the others. It runs on the transformer's one
// goroutine, batch after batch in input order, so its decisions are the
// same in every run. A Screener's error gives every record of the batch
// an outcome and stops the sync.
func (t *transformStage) screen(recs []sink.Record) ([]sink.Record, error) {
	sc, ok := t.sink.(sink.Screener)
	if !ok || len(recs) == 0 {
		return recs, nil
	}
	var res []sink.Result
	err := safeCall(func() error {
		var err error
		res, err = sc.Screen(t.ctx, recs)
		return err
	})
	switch {
	case err != nil:
		reason := notSent(err.Error())
		if t.ctx.Err() != nil {
			reason = stopReason(t.parent, context.Cause(t.ctx))
		}
		t.rec.skipAll(recs, reason)
		return nil, fmt.Errorf("screen: %w", err)
	case res == nil:
		return recs, nil
	case len(res) != len(recs):
		t.rec.failAll(recs, CodeSinkResult, fmt.Sprintf("the sink screened %d records and returned %d results", len(recs), len(res)))
		return nil, fmt.Errorf("screen: the sink returned %d results for %d records", len(res), len(recs))
	}
	// Held-back records keep their own slice: the recorder may hold
	// pointers to them after this batch is handed on.
	var held []sink.Record
	var heldRes []sink.Result
	send := recs[:0:0]
	for i := range recs {
		if res[i].Err == nil && res[i].Skipped == "" {
			send = append(send, recs[i])
			continue
		}
		held = append(held, recs[i])
		heldRes = append(heldRes, res[i])
	}
	if len(held) == 0 {
		return recs, nil
	}
	t.rec.results(held, heldRes)
	return send, nil
}

// safeCall turns a panic into an error, so a broken plugin fails its sync
// and not the process.
func safeCall(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return f()
}

// fatal keeps the first error that stops a sync.
type fatal struct {
	mu  sync.Mutex
	err error
}

func newFatal() *fatal { return &fatal{} }

func (f *fatal) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

// setSoft records an error that fails the sync without stopping the stages.
func (f *fatal) setSoft(err error) { f.set(err) }

func (f *fatal) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
