package salesforce

import (
	"context"
	"fmt"

	"github.com/retl-go/retl/sink"
)

// differ applies only_if_different to an update or upsert: it reads the
// current values of the mapped fields for the records' keys and withholds
// every value Salesforce already holds, compared as Plan compares them
// (numbers at the field's scale, dates, booleans, picklists without regard
// to case, null and "" alike). A record left with nothing to change is not
// sent: same[i] is true. It also applies set_if_empty from the same read,
// so the records need no second one. Records not found keep every value.
// The records are copied where changed, never modified in place.
func (s *Sink) differ(ctx context.Context, layout *sink.Layout, records []sink.Record) (out []sink.Record, kept [][]string, same []bool, ids []string, err error) {
	keyField := s.dest.keyField()
	ki := layout.Index(keyField)
	if ki < 0 {
		return nil, nil, nil, nil, fmt.Errorf("only_if_different: the records have no %s field to find current values by", keyField)
	}
	desc, err := s.c.Describe(ctx, s.dest.Object)
	if err != nil {
		return nil, nil, nil, nil, errorf("only_if_different: %w", err)
	}
	cols := planColumns(desc, layout)
	keys := make([]string, 0, len(records))
	for i := range records {
		k := s.recordKey(&records[i], ki)
		if k == "" {
			continue
		}
		if keyField == "Id" {
			if _, ok := planIDShape(k); !ok {
				// Salesforce refuses a whole query for one malformed Id;
				// the record is sent and fails on its own.
				continue
			}
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return records, nil, nil, nil, nil
	}
	rows, err := s.c.CurrentValues(ctx, s.dest.Object, keyField, keys, planSelect(cols, layout, ki))
	if err != nil {
		return nil, nil, nil, nil, errorf("only_if_different: reading current values: %w", err)
	}
	current := make(map[string]Row, len(rows))
	for k, r := range rows {
		current[s.normKey(k)] = r
	}
	out = records
	copied := false
	for i := range records {
		k := s.recordKey(&records[i], ki)
		if k == "" {
			continue
		}
		row, ok := current[s.normKey(k)]
		if !ok {
			continue // a new record, or one Salesforce will refuse: sent as is
		}
		vals, held, changed := diffRecord(&records[i], cols, ki, row)
		if len(held) > 0 {
			if kept == nil {
				kept = make([][]string, len(records))
			}
			kept[i] = held
		}
		if !changed {
			if same == nil {
				same = make([]bool, len(records))
				ids = make([]string, len(records))
			}
			same[i], ids[i] = true, row.String("Id")
			continue
		}
		if vals != nil {
			if !copied {
				out = append([]sink.Record(nil), records...)
				copied = true
			}
			out[i].Values = vals
		}
	}
	return out, kept, same, ids, nil
}

// diffRecord compares one record with its current row. vals, when not
// nil, is the record's values with every field that would not change made
// Absent; held lists the set_if_empty fields withheld because they hold a
// value; changed says whether any field would change. A field Plan cannot
// read (not in the describe) counts as changed: it is sent.
func diffRecord(rec *sink.Record, cols []planColumn, ki int, row Row) (vals []sink.Value, held []string, changed bool) {
	for j, c := range cols {
		if j == ki || j >= len(rec.Values) || rec.Values[j].Kind == sink.Absent {
			continue
		}
		if c.soql == "" {
			changed = true
			continue
		}
		cur, _ := row.Get(c.soql)
		keep := false
		if rec.Layout.Guarded[j] {
			have := cur
			if c.guardSOQL != "" {
				have, _ = row.Get(c.guardSOQL)
			}
			if !isEmptyValue(have) {
				held = append(held, c.name)
				keep = true
			}
		}
		if !keep && !planSame(c, rec.Values[j], cur) {
			changed = true
			continue
		}
		if vals == nil {
			vals = append([]sink.Value(nil), rec.Values...)
		}
		vals[j] = sink.Value{Kind: sink.Absent}
	}
	return vals, held, changed
}
