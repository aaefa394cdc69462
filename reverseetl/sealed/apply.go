package sealed

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source"
	"github.com/retl-go/retl/transform"
)

// Applier runs a sealed plan: give it to the Engine
// (reverseetl.WithInterceptor) and run the project Project returns, with
// the syncs Syncs names. Each sync then reads the plan's records instead of
// its query, and each batch is planned again just before it is sent: a
// record whose planned current values no longer hold is skipped
// (SkipDrifted) and not sent. Run as a plan (reverseetl.RunOptions.Plan),
// it sends nothing and counts the records that drifted (Drifted), so that
// a program can refuse the whole plan before anything is sent.
type Applier struct {
	file *File

	mu      sync.Mutex
	drifted map[string]int
	listed  map[string][]Drift
}

// Drift is a planned record that no longer holds.
type Drift struct {
	Key string
	// Why says what moved, in the words of the record's skip detail.
	Why string
}

// MaxDriftListed bounds the drifted records DriftedRecords keeps per sync.
const MaxDriftListed = 20

var _ reverseetl.Interceptor = (*Applier)(nil)

// NewApplier returns an Applier of f.
func NewApplier(f *File) *Applier {
	return &Applier{file: f, drifted: map[string]int{}, listed: map[string][]Drift{}}
}

// Syncs names the syncs with planned records, in the plan's order.
func (a *Applier) Syncs() []string {
	var out []string
	for _, s := range a.file.Syncs {
		if len(s.Records) > 0 {
			out = append(out, s.Name)
		}
	}
	return out
}

// Project returns p with on_removed turned off in its syncs: the plan
// holds no removal. p itself is not changed. Change detection stays: it
// keeps, as after a run, the keys apply inserted and the tokens of what it
// wrote (keep_human_edits); it compares each planned record with the
// state as it compares a row, so a plan applied twice sends nothing the
// second time.
func (a *Applier) Project(p *config.Project) *config.Project {
	cp := *p
	cp.Syncs = make([]*config.Sync, len(p.Syncs))
	for i, s := range p.Syncs {
		sc := *s
		sc.OnRemoved = nil
		cp.Syncs[i] = &sc
	}
	return &cp
}

// Drifted returns the records found drifted so far, by sync.
func (a *Applier) Drifted() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]int, len(a.drifted))
	for k, v := range a.drifted {
		out[k] = v
	}
	return out
}

// DriftedRecords returns, by sync, the first MaxDriftListed records found
// drifted, in the order they were found.
func (a *Applier) DriftedRecords() map[string][]Drift {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string][]Drift, len(a.listed))
	for k, v := range a.listed {
		out[k] = slices.Clone(v)
	}
	return out
}

// Parts implements reverseetl.Interceptor: the sync reads the plan's
// records. Its layout is the key field and the fields the plan changes,
// each with the sync's own set_if_empty, truncate and keep_human_edits
// choices; a record's other fields are Absent, so they are not sent.
func (a *Applier) Parts(ctx context.Context, s *config.Sync, parts reverseetl.Parts) (reverseetl.Parts, error) {
	ps := a.file.Sync(s.Name)
	if ps == nil {
		return parts, fmt.Errorf("the plan holds no sync %s", s.Name)
	}
	orig := parts.Transformer.Layout()
	var names []string
	add := func(f string) {
		if f != "" && !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, f) }) {
			names = append(names, f)
		}
	}
	add(ps.KeyField)
	for _, r := range ps.Records {
		for _, f := range r.Fields {
			add(f.Name)
		}
	}
	layout := sink.NewLayout(names, nil)
	layout.Truncate = make([]bool, len(names))
	layout.KeepEdits = make([]sink.Choice, len(names))
	for i, n := range names {
		if j := orig.Index(n); j >= 0 {
			layout.Guarded[i] = orig.Guarded[j]
			layout.Truncate[i] = orig.Truncated(j)
			if j < len(orig.KeepEdits) {
				layout.KeepEdits[i] = orig.KeepEdits[j]
			}
		}
	}
	recs := make([]sink.Record, len(ps.Records))
	for i, r := range ps.Records {
		vals := make([]sink.Value, len(names))
		set := func(field string, v Value) error {
			sv, err := v.sinkValue()
			if err != nil {
				return fmt.Errorf("record %s: %w", r.Key, err)
			}
			vals[layout.Index(field)] = sv
			return nil
		}
		if r.KeyValue != nil {
			if err := set(ps.KeyField, *r.KeyValue); err != nil {
				return parts, err
			}
		}
		for _, f := range r.Fields {
			if err := set(f.Name, f.New); err != nil {
				return parts, err
			}
		}
		recs[i] = sink.Record{Key: r.Key, Layout: layout, Values: vals}
	}
	if parts.Source != nil {
		if err := parts.Source.Close(); err != nil {
			return parts, fmt.Errorf("close source: %w", err)
		}
	}
	src := &planSource{n: len(recs)}
	if s.ChangeDetection != nil {
		// Change detection finds a row's key in its key column.
		src.keyCol = s.ChangeDetection.Key
		src.keys = make([]string, len(recs))
		for i, r := range ps.Records {
			src.keys[i] = r.Key
		}
	}
	parts.Source = src
	parts.Transformer = &planTransformer{layout: layout, recs: recs}
	return parts, nil
}

// planColumn is the column of planSource's rows that holds the record's
// index.
const planColumn = "__RETL_PLAN_RECORD"

// planSource emits the indexes of the plan's records, in order, and with
// keyCol set their keys in that column.
type planSource struct {
	n      int
	keyCol string
	keys   []string
}

func (s *planSource) Read(ctx context.Context, emit func(source.Batch) error) error {
	const batch = 1000
	for from := 0; from < s.n; from += batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := source.Batch{Columns: []string{planColumn}}
		if s.keyCol != "" {
			b.Columns = append(b.Columns, s.keyCol)
		}
		for i := from; i < min(from+batch, s.n); i++ {
			row := []any{int64(i)}
			if s.keyCol != "" {
				row = append(row, s.keys[i])
			}
			b.Rows = append(b.Rows, row)
		}
		if err := emit(b); err != nil {
			return err
		}
	}
	return nil
}

func (s *planSource) Close() error { return nil }

// planTransformer returns the plan's record a row names.
type planTransformer struct {
	layout *sink.Layout
	recs   []sink.Record
}

func (t *planTransformer) Layout() *sink.Layout { return t.layout }

func (t *planTransformer) Transform(row transform.Row) (sink.Record, error) {
	i, ok := row.Values[0].(int64)
	if !ok || i < 0 || int(i) >= len(t.recs) {
		return sink.Record{}, fmt.Errorf("no planned record %v", row.Values[0])
	}
	r := t.recs[i]
	r.Values = slices.Clone(r.Values)
	return r, nil
}

// Write implements reverseetl.Interceptor: each batch is planned again
// and the records that drifted are skipped; in a run the others are sent.
func (a *Applier) Write(s *config.Sync, k sink.Sink, plan bool, write reverseetl.WriteFunc) reverseetl.WriteFunc {
	ps := a.file.Sync(s.Name)
	return func(ctx context.Context, recs []sink.Record) ([]sink.Result, error) {
		pl, ok := k.(sink.Planner)
		if !ok {
			return nil, fmt.Errorf("destination type %q cannot plan, so apply cannot tell which records drifted", s.Destination.Type)
		}
		now, err := pl.Plan(ctx, recs)
		if err != nil {
			return nil, fmt.Errorf("reading current values before apply: %w", err)
		}
		if len(now) != len(recs) {
			return nil, fmt.Errorf("the sink planned %d results for %d records", len(now), len(recs))
		}
		out := make([]sink.Result, len(recs))
		var send []sink.Record
		var at []int
		var found []Drift
		for i := range recs {
			// planSource emits the plan's records in order, one row
			// each, and the Engine numbers rows from 1.
			seq := recs[i].Seq
			if ps == nil || seq < 1 || seq > int64(len(ps.Records)) || ps.Records[seq-1].Key != recs[i].Key {
				return nil, fmt.Errorf("record %s (row %d) is not the plan's", recs[i].Key, seq)
			}
			pr := &ps.Records[seq-1]
			if why := drift(pr, &now[i]); why != "" {
				out[i] = sink.Result{ID: pr.ID, Skipped: SkipDrifted, SkipDetail: why}
				found = append(found, Drift{Key: pr.Key, Why: why})
				continue
			}
			send = append(send, recs[i])
			at = append(at, i)
		}
		if len(found) > 0 {
			a.mu.Lock()
			a.drifted[s.Name] += len(found)
			room := MaxDriftListed - len(a.listed[s.Name])
			a.listed[s.Name] = append(a.listed[s.Name], found[:max(0, min(room, len(found)))]...)
			a.mu.Unlock()
		}
		if plan {
			// A check sends nothing: the records that still hold are
			// what the sink plans for them.
			for _, i := range at {
				out[i] = now[i]
			}
			return out, nil
		}
		if len(send) == 0 {
			return out, nil
		}
		res, err := write(ctx, send)
		if err != nil {
			return nil, err
		}
		if len(res) != len(send) {
			return nil, fmt.Errorf("the sink returned %d results for %d records", len(res), len(send))
		}
		for j, i := range at {
			out[i] = res[j]
		}
		return out, nil
	}
}

// drift says why a planned record no longer holds, given what the sink
// plans for it now; "" when it holds.
func drift(pr *Record, now *sink.Result) string {
	switch {
	case now.Err != nil:
		return "Salesforce would now refuse it: " + now.Err.Code
	case pr.Op == OpCreate && !now.Created:
		return "planned as a create; the record exists now"
	case pr.Op == OpUpdate && now.Created:
		return "planned as an update; the record no longer exists"
	case pr.Op == OpUpdate && pr.ID != "" && now.ID != "" && pr.ID != now.ID:
		return "planned as an update of another record (Id " + pr.ID + ")"
	}
	if pr.Op == OpCreate {
		return ""
	}
	var moved []string
	for _, f := range pr.Fields {
		i := slices.IndexFunc(now.Changes, func(c sink.FieldChange) bool { return strings.EqualFold(c.Field, f.Name) })
		if i < 0 || now.Changes[i].From != f.Old {
			moved = append(moved, f.Name)
		}
	}
	if len(moved) > 0 {
		return "changed in Salesforce since the plan: " + strings.Join(moved, ", ")
	}
	return ""
}
