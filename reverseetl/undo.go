package reverseetl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source/memory"
	"github.com/retl-go/retl/transform"
)

// Undo puts back what a run wrote: the prior values of the fields it
// changed (kept by a sink with keep_prior_values, see sink.Undoer) and,
// when asked, deletes the records it created (their Ids are in the run's
// row outcomes). A field changed again since, by a person or a later run,
// is kept: the value it is expected to hold is the one the undone run
// wrote, and the keep_human_edits rule withholds it and reports it. The
// undo is a run of its own, with its own run id, report and writeback.

// UndoStore is optionally implemented by a StateStore that keeps what an
// undo needs.
type UndoStore interface {
	// RunSyncs returns the syncs a run wrote to the run log; none when the
	// store knows no such run.
	RunSyncs(ctx context.Context, runID string) ([]string, error)
	// PriorValues returns the records of a run's sync whose prior values
	// were kept, in the order the run wrote them.
	PriorValues(ctx context.Context, runID, sync string) ([]PriorRecord, error)
	// CreatedRecords returns the records a run's sync created.
	CreatedRecords(ctx context.Context, runID, sync string) ([]CreatedRecord, error)
}

// PriorRecord is one record an update changed, with the fields it changed.
type PriorRecord struct {
	Seq    int64
	Key    string
	ID     string
	Fields []sink.PriorValue
}

// CreatedRecord is one record a run created.
type CreatedRecord struct {
	Seq int64
	Key string
	ID  string
}

// UnknownRunError: the warehouse has no run of that id.
type UnknownRunError struct{ RunID string }

func (e *UnknownRunError) Error() string {
	return fmt.Sprintf("undo: the warehouse's run log has no run %q", e.RunID)
}

// NoPriorValuesError: the run kept no prior values to put back (its syncs
// had no keep_prior_values, or it changed nothing), and there is no
// created record to delete either.
type NoPriorValuesError struct {
	RunID string
	// Created counts the records the run created, which --delete-created
	// would delete.
	Created int
}

func (e *NoPriorValuesError) Error() string {
	msg := fmt.Sprintf("undo: run %q kept no prior values to put back (keep_prior_values was off, or it changed no field)", e.RunID)
	if e.Created > 0 {
		msg += fmt.Sprintf("; it created %d records, which DeleteCreated (--delete-created) deletes", e.Created)
	}
	return msg
}

// ErrUndoNeedsWarehouse: undo reads what it puts back from the warehouse
// state, and the project has none.
var ErrUndoNeedsWarehouse = errors.New("undo: the project has no writeback section, so no run kept anything to undo")

// UndoOptions say what Runner.Undo does.
type UndoOptions struct {
	// Only undoes these syncs of the run; all of them when empty.
	Only []string
	// Apply writes: without it Undo only says what it would put back.
	Apply bool
	// DeleteCreated also deletes the records the run created.
	DeleteCreated bool
	// Sample bounds the changes listed per sync (default 5).
	Sample int
}

// UndoPlan is what an undo puts back, read from the warehouse.
type UndoPlan struct {
	RunID string
	Syncs []UndoSyncPlan
}

// UndoSyncPlan is one sync's part of an UndoPlan.
type UndoSyncPlan struct {
	Name string
	// Records and Fields count what would be put back; Created the
	// records the run created (deleted only with DeleteCreated).
	Records, Fields, Created int
	// Sample lists the first field changes: Written is what the run
	// wrote, Prior what goes back.
	Sample []UndoChange

	priors  []PriorRecord
	created []CreatedRecord
}

// UndoChange is one field an undo puts back.
type UndoChange struct {
	Key, ID, Field string
	Written, Prior string
}

// UndoResult is what Runner.Undo did.
type UndoResult struct {
	Plan *UndoPlan
	// Run is the undo's run (its report, run id, files); nil without
	// Apply.
	Run *RunResult
}

// Undo undoes the run runID of p (see UndoStore). An error means nothing
// was written: an unknown run (*UnknownRunError), nothing kept
// (*NoPriorValuesError), a sync the run does not have, or a warehouse that
// cannot be read; redacted. A sync whose undo fails, or that the project
// no longer has, is a failed sync of the result's report.
func (r *Runner) Undo(ctx context.Context, p *config.Project, runID string, opts UndoOptions) (*UndoResult, error) {
	res, err := r.undo(ctx, p, runID, opts)
	return res, redactedErr(p, err)
}

func (r *Runner) undo(ctx context.Context, p *config.Project, runID string, opts UndoOptions) (*UndoResult, error) {
	log := r.Logger(p)
	open := r.Registry.warehouseOpener()
	if open == nil || p.Writeback == nil {
		return nil, ErrUndoNeedsWarehouse
	}
	wh, err := open(p, !opts.Apply)
	if err != nil {
		return nil, err
	}
	if wh == nil {
		return nil, ErrUndoNeedsWarehouse
	}
	defer func() { _ = wh.Close() }()
	us, ok := wh.Store().(UndoStore)
	if !ok {
		return nil, errors.New("undo: this program's warehouse state keeps nothing to undo")
	}
	if err := wh.Prepare(ctx); err != nil {
		return nil, err
	}
	plan, err := undoPlan(ctx, us, runID, opts)
	if err != nil {
		return nil, err
	}
	if r.ReportFile != "" && opts.Apply {
		if err := CheckReportPath(r.ReportFile); err != nil {
			return nil, err
		}
	}
	if !opts.Apply {
		return &UndoResult{Plan: plan}, nil
	}
	undoID := NewRunID()
	obs, prepare := wh.Writeback(undoID)
	if err := prepare(ctx); err != nil {
		// An undo the warehouse does not record could not be undone or
		// audited in turn.
		return nil, fmt.Errorf("undo: warehouse writeback: %w", err)
	}
	// The state's leases keep a run of the same sync from overlapping
	// the undo.
	eng := New(r.Registry, WithLogger(log), WithRunID(undoID), WithObserver(obs), WithState(wh.Store()))
	r.setEngine(eng)
	defer r.setEngine(nil)
	rep := &Report{RunID: undoID, Started: time.Now(), Undoes: runID}
	log.Info("undo started", "run_id", undoID, "undoes", runID, "syncs", len(plan.Syncs))
	shared := NewShared()
	defer func() { _ = shared.Close() }()
	for i := range plan.Syncs {
		rep.Syncs = append(rep.Syncs, eng.undoSync(ctx, p, &plan.Syncs[i], opts.DeleteCreated, shared))
	}
	rep.Duration = time.Since(rep.Started)
	for _, o := range eng.observers {
		eng.observe("RunFinished", func() { o.RunFinished(context.WithoutCancel(ctx), rep) })
	}
	log.Info("undo finished", "run_id", undoID, "undoes", runID, "ok", rep.OK(), "duration", rep.Duration.Round(time.Millisecond))
	out := &UndoResult{Plan: plan, Run: &RunResult{Report: rep}}
	if r.ReportFile != "" {
		if err := WriteJSONFile(r.ReportFile, rep); err != nil {
			out.Run.ReportFileErr = redactedErr(p, err)
		}
	}
	return out, nil
}

// undoPlan reads what undoing runID puts back.
func undoPlan(ctx context.Context, us UndoStore, runID string, opts UndoOptions) (*UndoPlan, error) {
	names, err := us.RunSyncs(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("undo: reading the run log: %w", err)
	}
	if len(names) == 0 {
		return nil, &UnknownRunError{RunID: runID}
	}
	if len(opts.Only) > 0 {
		var only []string
		for _, n := range opts.Only {
			if !slices.Contains(names, n) {
				return nil, fmt.Errorf("undo: run %q wrote no sync named %q (it wrote %v)", runID, n, names)
			}
			if !slices.Contains(only, n) {
				only = append(only, n)
			}
		}
		names = only
	}
	sample := opts.Sample
	if sample <= 0 {
		sample = 5
	}
	plan := &UndoPlan{RunID: runID}
	fields, created := 0, 0
	for _, name := range names {
		sp := UndoSyncPlan{Name: name}
		if sp.priors, err = us.PriorValues(ctx, runID, name); err != nil {
			return nil, fmt.Errorf("undo: %s: reading prior values: %w", name, err)
		}
		if sp.created, err = us.CreatedRecords(ctx, runID, name); err != nil {
			return nil, fmt.Errorf("undo: %s: reading the records the run created: %w", name, err)
		}
		sp.Records, sp.Created = len(sp.priors), len(sp.created)
		for _, pr := range sp.priors {
			sp.Fields += len(pr.Fields)
			for _, f := range pr.Fields {
				if len(sp.Sample) < sample {
					sp.Sample = append(sp.Sample, UndoChange{Key: pr.Key, ID: pr.ID, Field: f.Field, Written: f.Written, Prior: f.Prior.S})
				}
			}
		}
		fields += sp.Fields
		created += sp.Created
		plan.Syncs = append(plan.Syncs, sp)
	}
	if fields == 0 && (!opts.DeleteCreated || created == 0) {
		return nil, &NoPriorValuesError{RunID: runID, Created: created}
	}
	return plan, nil
}

// undoSync puts one sync's prior values back, and deletes its created
// records when asked, as one sync of the undo's run, holding the sync's
// lease as a run does.
func (e *Engine) undoSync(ctx context.Context, p *config.Project, sp *UndoSyncPlan, del bool, shared *Shared) *SyncReport {
	orig := p.Sync(sp.Name)
	if orig == nil {
		rep := &SyncReport{Name: sp.Name, Status: Failed, Started: time.Now()}
		rep.setErr(p, fmt.Errorf("undo: the project has no sync %q any more: its destination is unknown", sp.Name))
		e.finish(ctx, &config.Sync{Name: sp.Name}, rep)
		return rep
	}
	// The undo writes the sync's destination, with no source of its own.
	s := &config.Sync{Name: orig.Name, File: orig.File, Pos: orig.Pos, Destination: orig.Destination}
	rep := &SyncReport{Name: s.Name, File: s.File, Started: time.Now()}
	release, stop := e.lease(ctx, p, s, RunOptions{}, rep)
	if stop != nil {
		e.finish(ctx, s, stop)
		return stop
	}
	defer release()
	parts, err := e.undoParts(ctx, p, s, sp, del, shared)
	if err != nil {
		rep.Status = Failed
		rep.setErr(p, err)
		e.finish(ctx, s, rep)
		return rep
	}
	return e.run(ctx, p, s, parts, rep, RunOptions{})
}

// undoParts builds the undo of one sync: a source of the records to put
// back (and to delete), and the destination's Undoer sinks.
func (e *Engine) undoParts(ctx context.Context, p *config.Project, s *config.Sync, sp *UndoSyncPlan, del bool, shared *Shared) (Parts, error) {
	kf, ok := e.reg.Sink(s.Destination.Type)
	if !ok {
		return Parts{}, fmt.Errorf("undo: destination type %q is not registered", s.Destination.Type)
	}
	k, err := kf(ctx, BuildContext{RunID: e.runID, Sync: s, Connection: connection(p, s.Destination.Connection),
		Logger: e.log.With("sync", s.Name), Redactor: p.Redactor, Shared: shared})
	if err != nil {
		return Parts{}, &BuildError{Part: "destination", Err: err}
	}
	defer func() { _ = k.Close(context.WithoutCancel(ctx)) }()
	u, ok := k.(sink.Undoer)
	if !ok {
		return Parts{}, fmt.Errorf("undo: destination type %q cannot undo its writes", s.Destination.Type)
	}
	tr := newUndoRecords(sp, del)
	us := &undoSink{restoreLayout: tr.layout}
	if us.restore, err = u.Restorer(); err != nil {
		return Parts{}, err
	}
	if del && len(sp.created) > 0 {
		if us.del, err = u.Deleter(); err != nil {
			_ = us.restore.Close(ctx)
			return Parts{}, err
		}
	}
	rows := make([][]any, len(tr.recs))
	for i := range rows {
		rows[i] = []any{int64(i)}
	}
	return Parts{Source: memory.New([]string{"I"}, rows), Transformer: tr, Sink: us}, nil
}

// undoRecords is the undo's transformer: its source's rows are the
// positions of records made beforehand.
type undoRecords struct {
	layout *sink.Layout
	recs   []sink.Record
}

var deleteLayout = sink.NewLayout([]string{"Id"}, nil)

// newUndoRecords makes the records of an undo: one layout of Id and every
// field put back (Absent where a record has none), each field's Expect the
// token of the value the undone run wrote; then the created records to
// delete, in a layout of Id alone.
func newUndoRecords(sp *UndoSyncPlan, del bool) *undoRecords {
	fields := []string{"Id"}
	for _, pr := range sp.priors {
		for _, f := range pr.Fields {
			if !slices.Contains(fields, f.Field) {
				fields = append(fields, f.Field)
			}
		}
	}
	l := sink.NewLayout(fields, nil)
	out := &undoRecords{layout: l}
	for _, pr := range sp.priors {
		vals := make([]sink.Value, len(fields))
		exp := make([]string, len(fields))
		vals[0] = sink.TextValue(pr.ID)
		for _, f := range pr.Fields {
			j := l.Index(f.Field)
			vals[j], exp[j] = f.Prior, f.Wrote
		}
		out.recs = append(out.recs, sink.Record{Key: undoKey(pr.Key, pr.Seq), Layout: l, Values: vals, Expect: exp})
	}
	if del {
		for _, c := range sp.created {
			out.recs = append(out.recs, sink.Record{Key: undoKey(c.Key, c.Seq), Layout: deleteLayout, Values: []sink.Value{sink.TextValue(c.ID)}})
		}
	}
	return out
}

// undoKey is the key the undone run reported the row by.
func undoKey(key string, seq int64) string {
	if key != "" {
		return key
	}
	return "row " + strconv.FormatInt(seq, 10)
}

func (u *undoRecords) Layout() *sink.Layout { return u.layout }

func (u *undoRecords) Transform(row transform.Row) (sink.Record, error) {
	i, ok := row.Values[0].(int64)
	if !ok || i < 0 || int(i) >= len(u.recs) {
		return sink.Record{}, fmt.Errorf("undo: no record %v", row.Values[0])
	}
	return u.recs[i], nil
}

// undoSink writes the records to put back through the Restorer and those
// to delete through the Deleter, each with its layout.
type undoSink struct {
	restoreLayout *sink.Layout
	restore, del  sink.Sink
}

var (
	_ sink.Batching    = (*undoSink)(nil)
	_ sink.Hinter      = (*undoSink)(nil)
	_ sink.Preflighter = (*undoSink)(nil)
	_ sink.Stats       = (*undoSink)(nil)
)

func (u *undoSink) Write(ctx context.Context, records []sink.Record) ([]sink.Result, error) {
	res := make([]sink.Result, len(records))
	for _, part := range []struct {
		k      sink.Sink
		delete bool
	}{{u.restore, false}, {u.del, true}} {
		var at []int
		var recs []sink.Record
		for i := range records {
			if (records[i].Layout == deleteLayout) == part.delete {
				at, recs = append(at, i), append(recs, records[i])
			}
		}
		if len(recs) == 0 {
			continue
		}
		got, err := part.k.Write(ctx, recs)
		if err != nil {
			return nil, err
		}
		if len(got) != len(recs) {
			return nil, fmt.Errorf("undo: the destination answered %d results for %d records", len(got), len(recs))
		}
		for k, i := range at {
			res[i] = got[k]
		}
	}
	return res, nil
}

func (u *undoSink) Close(ctx context.Context) error {
	var errs []error
	for _, k := range []sink.Sink{u.restore, u.del} {
		if k != nil {
			errs = append(errs, k.Close(ctx))
		}
	}
	return errors.Join(errs...)
}

func (u *undoSink) Batching() (int, int) {
	if b, ok := u.restore.(sink.Batching); ok {
		return b.Batching()
	}
	return 0, 0
}

func (u *undoSink) Hint(ctx context.Context, h sink.Hint) error {
	for _, k := range []sink.Sink{u.restore, u.del} {
		if hk, ok := k.(sink.Hinter); ok {
			if err := hk.Hint(ctx, h); err != nil {
				return err
			}
		}
	}
	return nil
}

// Preflight checks that the fields put back can be updated; the deletes
// name the Id alone.
func (u *undoSink) Preflight(ctx context.Context, l *sink.Layout) error {
	if pf, ok := u.restore.(sink.Preflighter); ok && len(u.restoreLayout.Fields) > 1 {
		if err := pf.Preflight(ctx, u.restoreLayout); err != nil {
			return err
		}
	}
	if pf, ok := u.del.(sink.Preflighter); ok {
		return pf.Preflight(ctx, deleteLayout)
	}
	return nil
}

// Stats adds the two sinks' statistics.
func (u *undoSink) Stats() sink.Statistics {
	var st sink.Statistics
	for _, k := range []sink.Sink{u.restore, u.del} {
		s, ok := k.(sink.Stats)
		if !ok {
			continue
		}
		x := s.Stats()
		switch {
		case st.API == "":
			st.API = x.API
		case x.API != "" && x.API != st.API:
			st.API += "+" + x.API
		}
		st.Jobs = append(st.Jobs, x.Jobs...)
		st.Calls += x.Calls
	}
	return st
}
