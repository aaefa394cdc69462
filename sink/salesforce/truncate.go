package salesforce

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/retl-go/retl/sink"
)

// truncTypes are the field types whose text Salesforce cut to length
// itself before API 15.0 and still does under the SOAP API's
// AllowFieldTruncationHeader; Bulk and REST refuse such text
// (STRING_TOO_LONG), so truncate: true cuts it before sending.
var truncTypes = map[string]bool{
	"string": true, "textarea": true, "email": true, "phone": true,
	"picklist": true, "multipicklist": true, "encryptedstring": true,
}

// cutField is a field of a layout whose text is cut to length.
type cutField struct {
	index, length int
}

// truncStats counts the values cut, by field, for Stats and Warnings.
type truncStats struct {
	mu      sync.Mutex
	total   int64
	byField map[string]int64
	length  map[string]int
}

// truncPlan lists the fields of l marked truncate whose describe gives a
// text type and a length.
func truncPlan(desc *objectDescribe, l *sink.Layout) []cutField {
	var out []cutField
	for i, name := range l.Fields {
		if !l.Truncated(i) {
			continue
		}
		if f := desc.Field(name); f != nil && truncTypes[f.Type] && f.Length > 0 {
			out = append(out, cutField{index: i, length: f.Length})
		}
	}
	return out
}

// sfLen counts the characters of s as Salesforce counts them: in UTF-16
// code units, so a character outside the Basic Multilingual Plane (an
// emoji, a rare kanji) counts twice (help article 005166849).
func sfLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r > 0xFFFF {
			n += 2
		} else {
			n++
		}
		i += size
	}
	return n
}

// cutText cuts s to at most n characters as sfLen counts them, never
// within a character.
func cutText(s string, n int) string {
	k := 0
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		w := 1
		if r > 0xFFFF {
			w = 2
		}
		if k+w > n {
			return s[:i]
		}
		k += w
		i += size
	}
	return s
}

// cut shortens the text of a record's truncated fields to their length,
// and counts each value cut.
func (s *sfSink) cut(cuts []cutField, r *sink.Record) {
	for _, c := range cuts {
		if c.index >= len(r.Values) {
			continue
		}
		v := r.Values[c.index]
		// A value of no more bytes than the length has no more characters.
		if v.Kind != sink.Text || len(v.S) <= c.length || sfLen(v.S) <= c.length {
			continue
		}
		r.Values[c.index] = sink.TextValue(cutText(v.S, c.length))
		s.noteCut(r.Layout.Fields[c.index], c.length)
	}
}

func (s *sfSink) noteCut(field string, length int) {
	t := &s.trunc
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byField == nil {
		t.byField, t.length = map[string]int64{}, map[string]int{}
	}
	t.total++
	t.byField[field]++
	t.length[field] = length
}

// truncStats adds the values cut to a sink's stats.
func (s *sfSink) truncStats(st *sink.Statistics) {
	t := &s.trunc
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.total == 0 {
		return
	}
	st.Count("truncated_values", t.total)
	if st.ByField == nil {
		st.ByField = map[string]map[string]int64{}
	}
	st.ByField["truncated"] = maps.Clone(t.byField)
}

// truncWarnings says, per field, how many values were cut.
func (s *sfSink) truncWarnings() []string {
	t := &s.trunc
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for f, n := range t.byField {
		out = append(out, fmt.Sprintf("truncate: %d value(s) of %s were cut to its %d characters", n, f, t.length[f]))
	}
	slices.Sort(out)
	return out
}
