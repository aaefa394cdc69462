package salesforce

import (
	"context"
	"fmt"
	"strings"

	"github.com/retl-go/retl/sink"
)

// guard applies set_if_empty: it reads the current values of the guarded
// fields for the records' keys and withholds each guarded value whose field
// already holds one, so it is not sent (an empty Bulk cell, an absent JSON
// key). Records that do not exist yet keep their values. The records are
// copied where changed, never modified in place. kept lists, per record,
// the fields withheld; it is nil when none was.
func (s *sfSink) guard(ctx context.Context, layout *sink.Layout, records []sink.Record) ([]sink.Record, [][]string, error) {
	var kept [][]string
	if !layout.HasGuarded() {
		return records, kept, nil
	}
	switch s.dest.Operation {
	case Update, Upsert:
	default:
		// Inserted records are new, and deleted ones take no values.
		return records, kept, nil
	}
	keyField := s.dest.keyField()
	ki := layout.Index(keyField)
	if ki < 0 {
		return nil, nil, fmt.Errorf("set_if_empty: the records have no %s field to find current values by", keyField)
	}
	var guarded []int
	var names []string
	for i, g := range layout.Guarded {
		if g && i < len(layout.Fields) {
			guarded = append(guarded, i)
			name, err := s.guardedField(ctx, layout.Fields[i])
			if err != nil {
				return nil, nil, err
			}
			names = append(names, name)
		}
	}
	keys := make([]string, 0, len(records))
	for i := range records {
		if k := s.recordKey(&records[i], ki); k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return records, kept, nil
	}
	// has(k) says whether a record with key k exists and, if so, which
	// guarded fields (by their place in names) hold a value.
	var has func(k string) (func(g int) bool, bool)
	if f, ok := s.currentByJob(ctx, keyField, keys, names); ok {
		has = func(k string) (func(int) bool, bool) {
			m, ok := f.find(k)
			return func(g int) bool { return m&(1<<g) != 0 }, ok
		}
	} else {
		rows, err := s.c.CurrentValues(ctx, s.dest.Object, keyField, keys, names)
		if err != nil {
			return nil, nil, errorf("set_if_empty: reading current values: %w", err)
		}
		folded := make(map[string]currentRow, len(rows))
		for k, r := range rows {
			folded[s.normKey(k)] = r
		}
		has = func(k string) (func(int) bool, bool) {
			row, ok := rows[k]
			if !ok {
				row, ok = folded[s.normKey(k)]
			}
			return func(g int) bool {
				cur, _ := row.Get(names[g])
				return !isEmptyValue(cur)
			}, ok
		}
	}
	out := records
	copied := false
	for i := range records {
		k := s.recordKey(&records[i], ki)
		if k == "" {
			continue
		}
		filled, ok := has(k)
		if !ok {
			continue // a new record gets every field
		}
		var vals []sink.Value
		for g, gi := range guarded {
			if gi >= len(records[i].Values) || records[i].Values[gi].Kind == sink.Absent {
				continue
			}
			if !filled(g) {
				continue
			}
			if vals == nil {
				vals = append([]sink.Value(nil), records[i].Values...)
			}
			vals[gi] = sink.Value{Kind: sink.Absent}
			if kept == nil {
				kept = make([][]string, len(records))
			}
			kept[i] = append(kept[i], layout.Fields[gi])
		}
		if vals != nil {
			if !copied {
				out = append([]sink.Record(nil), records...)
				copied = true
			}
			out[i].Values = vals
		}
	}
	return out, kept, nil
}

// guardedField is the field whose current value decides whether a
// guarded target is empty: the field itself, or for a lookup by external
// id (Account.External_Id__c) the reference field it sets (AccountId). A
// record whose parent has no external id value still has a parent.
func (s *sfSink) guardedField(ctx context.Context, target string) (string, error) {
	rel, _, ok := cutPath(target)
	if !ok {
		return target, nil
	}
	desc, err := s.c.Describe(ctx, s.dest.Object)
	if err != nil {
		return "", errorf("set_if_empty: %w", err)
	}
	ref := desc.lookup(rel)
	if ref == nil {
		return "", fmt.Errorf("set_if_empty: %s is not a relationship of %s", rel, s.dest.Object)
	}
	return ref.Name, nil
}

// recordKey is the record's key value as Salesforce would hold it.
func (s *sfSink) recordKey(r *sink.Record, ki int) string {
	if ki >= len(r.Values) || r.Values[ki].IsEmpty() {
		return ""
	}
	v := r.Values[ki].S
	if s.dest.Operation == Update || s.dest.upsertByID() {
		return toID18(v)
	}
	return v
}

// isEmptyValue: Salesforce returns an empty field as null; an empty
// string is treated the same. false and 0 are values.
func isEmptyValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case currentRow:
		return len(x) == 0
	}
	return false
}
