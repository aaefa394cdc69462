package salesforce

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/retl-go/retl/sink"
)

// keep_prior_values: before an update or upsert batch is sent, the sink
// reads the current values of the fields the batch sends, by IN lists
// (CurrentValues), and gives each record the write changed the values its
// changed fields held before (Result.Prior) with a token of the value
// written. The Engine keeps them in the warehouse, so that `retl undo`
// can put them back (sink.Undoer). The read is its own: one query per few
// hundred keys per batch, besides what only_if_different or
// keep_human_edits read. A lookup by external id (Account.External_Id__c)
// is not kept: its prior parent may have no external id to name it by.

// priors returns, by record, the fields whose value sending the record
// would change, with their current values. Records without a key, or not
// found (an upsert that will create), get none.
func (s *sfSink) priors(ctx context.Context, layout *sink.Layout, records []sink.Record) ([][]sink.PriorValue, error) {
	keyField := s.dest.keyField()
	ki := layout.Index(keyField)
	if ki < 0 {
		return nil, fmt.Errorf("keep_prior_values: the records have no %s field to find current values by", keyField)
	}
	desc, err := s.c.Describe(ctx, s.dest.Object)
	if err != nil {
		return nil, errorf("keep_prior_values: %w", err)
	}
	cols := planColumns(desc, layout)
	var sel []string
	for j, c := range cols {
		if j != ki && c.soql != "" && c.parent == "" {
			sel = append(sel, c.soql)
		}
	}
	keys := s.queryKeys(records, ki, keyField)
	if len(sel) == 0 || len(keys) == 0 {
		return nil, nil
	}
	rows, err := s.c.CurrentValues(ctx, s.dest.Object, keyField, keys, sel)
	if err != nil {
		return nil, errorf("keep_prior_values: reading current values: %w", err)
	}
	byKey := make(map[string]currentRow, len(rows))
	for k, r := range rows {
		byKey[s.normKey(k)] = r
	}
	out := make([][]sink.PriorValue, len(records))
	for i := range records {
		k := s.recordKey(&records[i], ki)
		row, ok := byKey[s.normKey(k)]
		if k == "" || !ok {
			continue
		}
		for j, c := range cols {
			if j == ki || j >= len(records[i].Values) || c.soql == "" || c.parent != "" {
				continue
			}
			v := records[i].Values[j]
			if v.Kind == sink.Absent {
				continue
			}
			cur, _ := row.Get(c.soql)
			if planSame(c, v, cur) {
				continue
			}
			out[i] = append(out[i], sink.PriorValue{Field: c.name, Prior: priorValue(c.field, cur), Wrote: editToken(c, v), Written: v.S})
		}
	}
	return out, nil
}

// priorValue is a current value as a sink.Value that writes it back.
func priorValue(f *fieldDescribe, cur any) sink.Value {
	switch x := cur.(type) {
	case nil:
		return sink.NullValue()
	case bool:
		return sink.BoolValue(x)
	case json.Number:
		return sink.NumberValue(x.String())
	case string:
		if x == "" {
			return sink.NullValue()
		}
		switch f.Type {
		case "date":
			return sink.Value{Kind: sink.Date, S: x}
		case "datetime":
			return sink.Value{Kind: sink.DateTime, S: x}
		}
		return sink.TextValue(x)
	}
	return sink.TextValue(valueText(cur))
}

// keepsPriors reports whether the sink keeps prior values: update and
// upsert with keep_prior_values.
func (s *sfSink) keepsPriors() bool {
	return s.dest.Options.KeepPriorValues && (s.dest.Operation == Update || s.dest.Operation == Upsert)
}

var _ sink.Undoer = (*sfSink)(nil)

// Restorer implements sink.Undoer: an update by Id of the sink's object
// that keeps every field changed since (keep_human_edits on each field),
// compares nothing else and keeps no prior values of its own.
func (s *sfSink) Restorer() (sink.Sink, error) {
	return s.undoSink(Update)
}

// Deleter implements sink.Undoer: a delete by Id of the sink's object.
func (s *sfSink) Deleter() (sink.Sink, error) {
	return s.undoSink(Delete)
}

func (s *sfSink) undoSink(op Operation) (sink.Sink, error) {
	o := s.dest.Options
	// Choices that belong to the sync's own writes.
	o.OnlyIfDifferent, o.KeepPriorValues, o.Verify, o.OnAltered = false, false, false, ""
	o.AssignmentRule, o.GroupBy, o.OnDuplicateKey, o.MaxDeletes = "", "", "", DeleteLimit{}
	o.KeepHumanEdits = op == Update
	u, err := buildSink(s.c, Destination{Object: s.dest.Object, Operation: op, Options: o})
	if err != nil {
		return nil, err
	}
	return undoSink{u}, nil
}

// undoSink is a sink of Restorer or Deleter. It shows the Engine no
// Tracker: its expectations come with its records, not from change
// detection's state.
type undoSink struct{ s *sfSink }

var (
	_ sink.Batching    = undoSink{}
	_ sink.Hinter      = undoSink{}
	_ sink.Preflighter = undoSink{}
	_ sink.Stats       = undoSink{}
	_ sink.Describer   = undoSink{}
)

func (u undoSink) Write(ctx context.Context, records []sink.Record) ([]sink.Result, error) {
	return u.s.Write(ctx, records)
}
func (u undoSink) Close(ctx context.Context) error                     { return u.s.Close(ctx) }
func (u undoSink) Batching() (int, int)                                { return u.s.Batching() }
func (u undoSink) Hint(ctx context.Context, h sink.Hint) error         { return u.s.Hint(ctx, h) }
func (u undoSink) Preflight(ctx context.Context, l *sink.Layout) error { return u.s.Preflight(ctx, l) }
func (u undoSink) Stats() sink.Statistics                              { return u.s.Stats() }
func (u undoSink) Describe() sink.Description                          { return u.s.Describe() }
