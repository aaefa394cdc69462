package salesforce

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/retl-go/retl/sink"
)

// Outcomes of records found through match_on.
const (
	// CodeNotFound fails a record whose match_on value matches no record
	// (on_not_found: fail).
	CodeNotFound = "RETL_NOT_FOUND"
	// CodeMultipleMatches fails a record whose match_on value matches
	// several records; none of them is written.
	CodeMultipleMatches = "RETL_MULTIPLE_MATCHES"
	// CodeNoMatchValue fails a record whose match_on field is empty.
	CodeNoMatchValue = "RETL_NO_MATCH_VALUE"
)

// On not found choices.
const (
	NotFoundSkip = "skip"
	NotFoundFail = "fail"
)

// checkMatch checks match_on and max_deletes against the operation.
func (d *Destination) checkMatch() error {
	if d.MatchOn != "" {
		switch d.Operation {
		case Update, Delete, HardDelete:
		case Insert:
			return keyErrorf("match_on", "insert finds no record: remove match_on, or use upsert")
		default:
			return keyErrorf("match_on", "match_on applies to update, delete and hard_delete, not %s (an upsert's ExternalID is its match_on)", d.Operation)
		}
		if !identRe.MatchString(d.MatchOn) {
			return keyErrorf("match_on", "match_on %q is not a field name", d.MatchOn)
		}
	}
	if d.Options.MaxDeletes.Set && (d.Operation == Insert || d.Operation == Update) {
		return keyErrorf("max_deletes", "max_deletes applies to delete, hard_delete and upserts with on_removed, not %s", d.Operation)
	}
	return nil
}

// matching reports whether records name their target through match_on
// rather than by Id.
func (d *Destination) matching() bool {
	return d.MatchOn != "" && !strings.EqualFold(d.MatchOn, "Id")
}

// matchLayout is how the records of one layout are written once their Ids
// are found: Id first, then every field but match_on (a delete sends Id
// alone).
type matchLayout struct {
	layout *sink.Layout
	from   []int // per field after Id, its index in the source layout
	key    int   // match_on in the source layout
}

// matchLayoutFor returns the layout records of l are written with, the
// same for every Write, so that records keep sharing one layout.
func (s *sfSink) matchLayoutFor(l *sink.Layout) (*matchLayout, error) {
	s.x.mu.Lock()
	defer s.x.mu.Unlock()
	if m := s.x.resolved[l]; m != nil {
		return m, nil
	}
	key := l.Index(s.dest.MatchOn)
	if key < 0 {
		return nil, fmt.Errorf("match_on %s is not a field of the records", s.dest.MatchOn)
	}
	m := &matchLayout{key: key}
	fields, guarded := []string{"Id"}, []bool{false}
	if s.dest.Operation == Update {
		for i, f := range l.Fields {
			if i == key || strings.EqualFold(f, "Id") {
				continue
			}
			fields = append(fields, f)
			guarded = append(guarded, i < len(l.Guarded) && l.Guarded[i])
			m.from = append(m.from, i)
		}
	}
	m.layout = sink.NewLayout(fields, guarded)
	if l.KeepEdits != nil {
		// keep_human_edits' own choices follow their fields.
		m.layout.KeepEdits = make([]sink.Choice, len(fields))
		for k, fi := range m.from {
			if fi < len(l.KeepEdits) {
				m.layout.KeepEdits[k+1] = l.KeepEdits[fi]
			}
		}
	}
	if s.x.resolved == nil {
		s.x.resolved = map[*sink.Layout]*matchLayout{}
	}
	s.x.resolved[l] = m
	// Records already resolved come back through the same path.
	s.x.resolved[m.layout] = nil
	return m, nil
}

// isResolved reports whether l is a layout of records whose Ids are known.
func (s *sfSink) isResolved(l *sink.Layout) bool {
	s.x.mu.Lock()
	defer s.x.mu.Unlock()
	m, ok := s.x.resolved[l]
	return ok && m == nil
}

// viaMatch finds the Ids of records through match_on and hands the records
// it found, with Id in place of the match_on field, to do (a Write or a
// Plan of one layout). The others get their result here: skipped "not
// found" (failed RETL_NOT_FOUND with on_not_found: fail), failed
// RETL_MULTIPLE_MATCHES naming the Ids when several records match, failed
// RETL_NO_MATCH_VALUE when the value is empty. Nothing is ever created.
// wrap gives the look-up's own errors the context do gives its errors.
func (s *sfSink) viaMatch(ctx context.Context, records []sink.Record, do func(context.Context, []sink.Record) ([]sink.Result, error),
	wrap func(error) error) ([]sink.Result, error) {
	m, err := s.matchLayoutFor(records[0].Layout)
	if err != nil {
		return nil, wrap(err)
	}
	keys := make([]string, 0, len(records))
	for i := range records {
		if v := matchValue(&records[i], m.key); v != "" {
			keys = append(keys, v)
		}
	}
	ids, err := s.matchIDs(ctx, keys)
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]sink.Result, len(records))
	var found []sink.Record
	var at []int
	for i := range records {
		r := &records[i]
		v := matchValue(r, m.key)
		switch got := ids.lookup(v); {
		case v == "":
			out[i] = sink.Result{Err: recordErr(CodeNoMatchValue, "match_on field %s is empty", s.dest.MatchOn)}
		case len(got) == 0 && s.dest.Options.OnNotFound == NotFoundFail:
			out[i] = sink.Result{Err: recordErr(CodeNotFound, "no %s record has %s %s", s.dest.Object, s.dest.MatchOn, v)}
		case len(got) == 0:
			out[i] = sink.Result{Skipped: sink.SkipNotFound, SkipDetail: "no record has its match_on value"}
		case len(got) > 1:
			out[i] = sink.Result{Err: recordErr(CodeMultipleMatches, "%d %s records have %s %s: %s; none was changed",
				len(got), s.dest.Object, s.dest.MatchOn, v, strings.Join(slices.Sorted(slices.Values(got)), ", "))}
		default:
			vals := make([]sink.Value, 1+len(m.from))
			vals[0] = sink.TextValue(got[0])
			for k, fi := range m.from {
				if fi < len(r.Values) {
					vals[k+1] = r.Values[fi]
				}
			}
			found = append(found, sink.Record{Seq: r.Seq, Key: r.Key, Layout: m.layout, Values: vals, Expect: m.expect(r.Expect)})
			at = append(at, i)
		}
	}
	if len(found) == 0 {
		return out, nil
	}
	res, err := do(ctx, found)
	if err != nil {
		return nil, err
	}
	for k, i := range at {
		out[i] = res[k]
		out[i].Wrote = m.wrote(res[k].Wrote, len(records[i].Layout.Fields))
	}
	return out, nil
}

// expect places a record's expectations (sink.Record.Expect) as the
// resolved layout holds its fields.
func (m *matchLayout) expect(exp []string) []string {
	if exp == nil {
		return nil
	}
	out := make([]string, 1+len(m.from))
	for k, fi := range m.from {
		if fi < len(exp) {
			out[k+1] = exp[fi]
		}
	}
	return out
}

// wrote places a result's tokens (sink.Result.Wrote) back as the
// records' own layout, of n fields, holds them.
func (m *matchLayout) wrote(tokens []string, n int) []string {
	if tokens == nil {
		return nil
	}
	out := make([]string, n)
	for k, fi := range m.from {
		if k+1 < len(tokens) && fi < n {
			out[fi] = tokens[k+1]
		}
	}
	return out
}

func matchValue(r *sink.Record, i int) string {
	if i >= len(r.Values) || r.Values[i].IsEmpty() {
		return ""
	}
	return r.Values[i].S
}

// matches maps match_on values to the Ids of the records that hold them.
type matches struct {
	exact, folded map[string][]string
}

// lookup returns the Ids of the records holding v: those holding it
// exactly, else those holding it without regard to case, as SOQL compares
// text unless the field is case-sensitive.
func (m matches) lookup(v string) []string {
	if ids := m.exact[v]; len(ids) > 0 {
		return ids
	}
	return m.folded[strings.ToLower(v)]
}

// matchIDs finds the records of the object whose match_on field holds one
// of keys, in IN queries of escaped literals (quoteSOQL), each query under
// maxQueryBytes, a few queries at once.
func (s *sfSink) matchIDs(ctx context.Context, keys []string) (matches, error) {
	m := matches{exact: map[string][]string{}, folded: map[string][]string{}}
	// check made field a plain name; keys are quoted by chunkLiterals.
	field := s.dest.MatchOn
	head := "SELECT Id, " + field + " FROM " + s.dest.Object + " WHERE " + field + " IN ("
	err := s.c.queryIn(ctx, head, keys, quoteSOQL, func(row currentRow) {
		id, v := toID18(row.String("Id")), row.String(field)
		m.exact[v] = appendNew(m.exact[v], id)
		f := strings.ToLower(v)
		m.folded[f] = appendNew(m.folded[f], id)
	})
	if err != nil {
		return m, errorf("finding records by %s: %w", field, err)
	}
	return m, nil
}

func appendNew(ids []string, id string) []string {
	if slices.Contains(ids, id) {
		return ids
	}
	return append(ids, id)
}

// matchTypes are the field types match_on can find records by: values
// that SOQL compares as quoted text.
var matchTypes = []string{"string", "email", "phone", "url", "picklist", "combobox", "id", "reference"}

// checkMatchOn is the preflight of match_on: the records carry the field,
// and the object has it, of a type whose values SOQL compares as text.
func (s *sfSink) checkMatchOn(desc *objectDescribe, layout *sink.Layout, add func(string, ...any)) {
	name := s.dest.MatchOn
	if layout.Index(name) < 0 {
		add("match_on %s is not a field of the mapping", name)
	}
	f := desc.Field(name)
	switch {
	case f == nil:
		add("match_on %s is not a field of %s", name, desc.Name)
	case !slices.Contains(matchTypes, f.Type):
		add("match_on %s.%s is of type %s; match_on takes a text, email, phone, url, picklist, Id or lookup field", desc.Name, f.Name, f.Type)
	case !indexed(desc.Name, f):
		s.warn(fmt.Sprintf("match_on %s.%s is not indexed (not an external id, unique, or a field Salesforce indexes), so every lookup scans all %s records; make it an External ID for large objects",
			desc.Name, f.Name, desc.Name))
	}
}

// indexed reports whether Salesforce keeps an index on a field, so that a
// lookup by it does not scan the object: the record Id, lookups, Name,
// Email on contacts and leads, and custom fields marked External ID or
// unique ("Indexes", Best Practices for Deployments with Large Data
// Volumes).
func indexed(object string, f *fieldDescribe) bool {
	switch {
	case f.ExternalID, f.Unique, f.Type == "id", f.Type == "reference", strings.EqualFold(f.Name, "Name"):
		return true
	case strings.EqualFold(f.Name, "Email"):
		return strings.EqualFold(object, "Contact") || strings.EqualFold(object, "Lead")
	}
	return false
}
