package salesforce

import (
	"context"
	"strconv"

	"github.com/retl-go/retl/sink"
)

// keep_human_edits: retl overwrites a field only while Salesforce still
// holds the value retl last wrote there. The sink tracks the fields it
// applies to (sink.Tracker): after a write, each result names in Wrote an
// edit token per tracked field sent; the Engine keeps them in the
// warehouse state and hands them back in Record.Expect. Before a later
// write, the sink reads the current values of the records that carry
// expectations, with the reader only_if_different uses (differ: IN lists,
// or one Bulk query job), and withholds each tracked field whose current
// value's token is not the expected one: someone changed it in Salesforce
// since. It is listed in the result's KeptEdits. A field never written
// under tracking has no expectation and is written as before.
//
// A token is 64 bits of a hash of the value's canonical form (canon), so
// that the value written and the value read back compare equal whenever
// only_if_different would call them the same (a number at the field's
// scale, a picklist value in any case, an Id in 15 or 18 characters).

var _ sink.Tracker = (*sfSink)(nil)

// Tracks implements sink.Tracker: for update and upsert, the fields
// keep_human_edits applies to (the destination's setting, or the mapping
// entry's own), except the key. Nil when none.
func (s *sfSink) Tracks(layout *sink.Layout) []bool {
	if layout == nil || (s.dest.Operation != Update && s.dest.Operation != Upsert) {
		return nil
	}
	ki := layout.Index(s.dest.keyField())
	var track []bool
	for i := range layout.Fields {
		if i == ki || !layout.KeepsEdit(i, s.dest.Options.KeepHumanEdits) {
			continue
		}
		if track == nil {
			track = make([]bool, len(layout.Fields))
		}
		track[i] = true
	}
	return track
}

// expects reports whether a record carries an expectation for a tracked
// field: only then are current values read for keep_human_edits.
func expects(records []sink.Record, track []bool) bool {
	if track == nil {
		return false
	}
	for i := range records {
		for j, e := range records[i].Expect {
			if e != "" && j < len(track) && track[j] {
				return true
			}
		}
	}
	return false
}

// editHash is the 64-bit FNV-1a hash of a canonical value: the same in
// every run and process, unlike the seeded hashes that only compare
// within one read.
func editHash(canonical string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(canonical); i++ {
		h ^= uint64(canonical[i])
		h *= prime
	}
	return h
}

// tokenText is how a token travels and is stored: 16 hex digits.
func tokenText(h uint64) string {
	b := strconv.AppendUint(make([]byte, 0, 16), h, 16)
	for len(b) < 16 {
		b = append([]byte{'0'}, b...)
	}
	return string(b)
}

// editToken is the token of a value in column c: a current value as
// Salesforce answers it, or a sink.Value as sent.
func editToken(c planColumn, x any) string { return tokenText(editHash(canon(c, x))) }

// noteWrote gives each result of a record written, or found unchanged, the
// tokens of the tracked fields it sent or found already set: from records
// as sent (after truncation and record type names, which Screen applied),
// not those withheld as set_if_empty or edited.
func (s *sfSink) noteWrote(ctx context.Context, layout *sink.Layout, track []bool, records []sink.Record, kept, edited [][]string, res []sink.Result) error {
	desc, err := s.c.Describe(ctx, s.dest.Object)
	if err != nil {
		return errorf("keep_human_edits: %w", err)
	}
	cols := planColumns(desc, layout)
	for i := range records {
		r := &res[i]
		if r.Err != nil || (r.Skipped != "" && r.Skipped != sink.SkipUnchanged) {
			continue
		}
		var wrote []string
		for j, on := range track {
			if !on || j >= len(records[i].Values) || records[i].Values[j].Kind == sink.Absent || cols[j].soql == "" ||
				listed(kept, i, layout.Fields[j]) || listed(edited, i, layout.Fields[j]) {
				continue
			}
			if wrote == nil {
				wrote = make([]string, len(layout.Fields))
			}
			wrote[j] = editToken(cols[j], records[i].Values[j])
		}
		r.Wrote = wrote
	}
	return nil
}

// listed reports whether field is among lists[i].
func listed(lists [][]string, i int, field string) bool {
	if i >= len(lists) {
		return false
	}
	for _, f := range lists[i] {
		if f == field {
			return true
		}
	}
	return false
}
