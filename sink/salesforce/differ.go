package salesforce

import (
	"context"
	"fmt"
	"strings"

	"github.com/retl-go/retl/sink"
)

// unchangedDetail says why a record only_if_different (or a plan) finds
// already held is not sent.
const unchangedDetail = "unchanged in Salesforce"

// queryKeys are the records' keys to read current values by: not empty,
// and for Id, of an Id's shape. Salesforce refuses a whole query for one
// malformed Id; such a record is sent and fails on its own.
func (s *sfSink) queryKeys(records []sink.Record, ki int, keyField string) []string {
	keys := make([]string, 0, len(records))
	for i := range records {
		k := s.recordKey(&records[i], ki)
		if k == "" {
			continue
		}
		if keyField == "Id" {
			if _, ok := planIDShape(k); !ok {
				continue
			}
		}
		keys = append(keys, k)
	}
	return keys
}

// differ applies only_if_different to an update or upsert: it reads the
// current values of the mapped fields for the records' keys and withholds
// every value Salesforce already holds, compared as Plan compares them
// (numbers at the field's scale, dates, booleans, picklists without regard
// to case, null and "" alike). A record left with nothing to change is not
// sent: same[i] is true. It also applies set_if_empty from the same read,
// so the records need no second one. Records not found keep every value.
// The records are copied where changed, never modified in place.
//
// With track (keep_human_edits, see edits.go) it also withholds each
// tracked field whose current value is not the one the record's Expect
// names, listing it in edited. Without only_if_different it reads for
// that alone: values Salesforce holds are sent again and no record is
// marked same.
func (s *sfSink) differ(ctx context.Context, layout *sink.Layout, records []sink.Record, track []bool) (out []sink.Record, kept, edited [][]string, same []bool, ids []string, err error) {
	keyField := s.dest.keyField()
	ki := layout.Index(keyField)
	if ki < 0 {
		return nil, nil, nil, nil, nil, fmt.Errorf("only_if_different: the records have no %s field to find current values by", keyField)
	}
	desc, err := s.c.Describe(ctx, s.dest.Object)
	if err != nil {
		return nil, nil, nil, nil, nil, errorf("only_if_different: %w", err)
	}
	cols := planColumns(desc, layout)
	keys := s.queryKeys(records, ki, keyField)
	if len(keys) == 0 {
		return records, nil, nil, nil, nil, nil
	}
	diff := s.differs()
	sel, at := diffSelect(cols, layout, ki)
	var find func(k string) (current, bool)
	if f, ok := s.heldByJob(ctx, keyField, keys, sel, at.cols, track != nil); ok {
		find = func(k string) (current, bool) {
			vals, id, ok := f.find(k)
			return &heldCurrent{f: f, at: at, vals: vals, rid: id}, ok
		}
	} else {
		rows, err := s.c.CurrentValues(ctx, s.dest.Object, keyField, keys, sel)
		if err != nil {
			return nil, nil, nil, nil, nil, errorf("only_if_different: reading current values: %w", err)
		}
		byKey := make(map[string]currentRow, len(rows))
		for k, r := range rows {
			byKey[s.normKey(k)] = r
		}
		find = func(k string) (current, bool) {
			row, ok := byKey[s.normKey(k)]
			return rowCurrent{row: row, cols: cols}, ok
		}
	}
	out = records
	copied := false
	for i := range records {
		k := s.recordKey(&records[i], ki)
		if k == "" {
			continue
		}
		cur, ok := find(k)
		if !ok {
			continue // a new record, or one Salesforce will refuse: sent as is
		}
		var expect []string
		if track != nil {
			expect = records[i].Expect
		}
		vals, held, edits, changed := diffRecord(&records[i], cols, ki, cur, diff, track, expect)
		if len(held) > 0 {
			if kept == nil {
				kept = make([][]string, len(records))
			}
			kept[i] = held
		}
		if len(edits) > 0 {
			if edited == nil {
				edited = make([][]string, len(records))
			}
			edited[i] = edits
		}
		if diff && !changed {
			if same == nil {
				same = make([]bool, len(records))
				ids = make([]string, len(records))
			}
			same[i], ids[i] = true, cur.id()
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
	return out, kept, edited, same, ids, nil
}

// current is a record as Salesforce holds it, as only_if_different reads it.
type current interface {
	// same reports whether sending v to column j would leave it as it is.
	same(j int, v sink.Value) bool
	// filled reports whether column j, or the reference field of its
	// lookup, holds a value (set_if_empty).
	filled(j int) bool
	// token is the edit token of column j's value (keep_human_edits).
	token(j int) string
	id() string
}

// rowCurrent is a record read by IN lists.
type rowCurrent struct {
	row  currentRow
	cols []planColumn
}

func (r rowCurrent) same(j int, v sink.Value) bool {
	cur, _ := r.row.Get(r.cols[j].soql)
	return planSame(r.cols[j], v, cur)
}

func (r rowCurrent) filled(j int) bool {
	c := r.cols[j]
	name := c.soql
	if c.guardSOQL != "" {
		name = c.guardSOQL
	}
	v, _ := r.row.Get(name)
	return !isEmptyValue(v)
}

func (r rowCurrent) token(j int) string {
	cur, _ := r.row.Get(r.cols[j].soql)
	return editToken(r.cols[j], cur)
}

func (r rowCurrent) id() string { return r.row.String("Id") }

// heldCurrent is a record read by the query job: hashes of canonical values.
type heldCurrent struct {
	f    *heldSet
	at   diffPlaces
	vals []uint64
	rid  string
}

func (h *heldCurrent) same(j int, v sink.Value) bool {
	return h.vals[h.at.soql[j]] == h.f.hash(canon(h.at.cols[h.at.soql[j]], v))
}

func (h *heldCurrent) filled(j int) bool {
	p := h.at.soql[j]
	if g := h.at.guard[j]; g >= 0 {
		p = g
	}
	return h.vals[p] != h.f.hash(emptyCanon)
}

// token is only asked of a set read for keep_human_edits, whose hashes
// are edit tokens (heldSet.stable).
func (h *heldCurrent) token(j int) string { return tokenText(h.vals[h.at.soql[j]]) }

func (h *heldCurrent) id() string { return h.rid }

// diffPlaces says where each layout column's value is among the fields
// read (-1: not read), and which column each read field belongs to.
type diffPlaces struct {
	soql, guard []int
	cols        []planColumn
}

// diffSelect is planSelect without a field named twice, with the places.
func diffSelect(cols []planColumn, layout *sink.Layout, ki int) ([]string, diffPlaces) {
	at := diffPlaces{soql: make([]int, len(cols)), guard: make([]int, len(cols))}
	var sel []string
	pos := map[string]int{}
	place := func(name string, c planColumn) int {
		k := strings.ToLower(name)
		if p, ok := pos[k]; ok {
			return p
		}
		pos[k] = len(sel)
		sel = append(sel, name)
		at.cols = append(at.cols, c)
		return len(sel) - 1
	}
	for j, c := range cols {
		at.soql[j], at.guard[j] = -1, -1
		if j == ki {
			continue
		}
		if c.soql != "" {
			at.soql[j] = place(c.soql, c)
		}
		if c.guardSOQL != "" && layout.Guarded[j] {
			at.guard[j] = place(c.guardSOQL, c)
		}
	}
	return sel, at
}

// diffRecord compares one record with its current values. vals, when not
// nil, is the record's values with every field withheld made Absent: with
// diff, those that would not change; the set_if_empty fields that hold a
// value (held); the tracked fields whose current value is not the one
// expect names (edits). changed says whether any field sent would change.
// A field that cannot be read (not in the describe) counts as changed: it
// is sent.
func diffRecord(rec *sink.Record, cols []planColumn, ki int, cur current, diff bool, track []bool, expect []string) (vals []sink.Value, held, edits []string, changed bool) {
	withhold := func(j int) {
		if vals == nil {
			vals = append([]sink.Value(nil), rec.Values...)
		}
		vals[j] = sink.Value{Kind: sink.Absent}
	}
	for j, c := range cols {
		if j == ki || j >= len(rec.Values) || rec.Values[j].Kind == sink.Absent {
			continue
		}
		if c.soql == "" {
			changed = true
			continue
		}
		if rec.Layout.Guarded[j] && cur.filled(j) {
			held = append(held, c.name)
			withhold(j)
			continue
		}
		if j < len(track) && track[j] && j < len(expect) && expect[j] != "" && cur.token(j) != expect[j] {
			edits = append(edits, c.name)
			withhold(j)
			continue
		}
		if !cur.same(j, rec.Values[j]) {
			changed = true
			continue
		}
		if diff {
			withhold(j)
		}
	}
	return vals, held, edits, changed
}
