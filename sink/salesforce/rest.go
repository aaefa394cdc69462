package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/retl-go/retl/internal/jsonstr"
	"github.com/retl-go/retl/sink"
)

// saveResult is one entry of an sObject Collections answer.
type saveResult struct {
	ID      string `json:"id"`
	Success bool   `json:"success"`
	Created *bool  `json:"created"`
	Errors  []struct {
		StatusCode string   `json:"statusCode"`
		Message    string   `json:"message"`
		Fields     []string `json:"fields"`
	} `json:"errors"`
}

// writeREST writes records through sObject Collections, 200 a call with
// allOrNone false, calls in parallel up to rest_concurrency across Writes.
// Records that failed with UNABLE_TO_LOCK_ROW were not written, so they
// are sent again in later calls, lock_retries times.
func (s *sfSink) writeREST(ctx context.Context, layout *sink.Layout, records []sink.Record) ([]sink.Result, error) {
	out, err := s.restRound(ctx, s.newJSONShape(layout), records)
	if err != nil {
		return nil, err
	}
	for round := 0; round < s.dest.Options.lockRetries && ctx.Err() == nil; round++ {
		var again []int
		for i := range out {
			if e := out[i].Err; e != nil && e.Code == "UNABLE_TO_LOCK_ROW" {
				again = append(again, i)
			}
		}
		if len(again) == 0 {
			break
		}
		s.log.Info("salesforce: retrying records locked by other work", "object", s.dest.Object, "records", len(again), "retry", round+1)
		if err := s.c.sleep(ctx, s.dest.Options.lockBackoff*time.Duration(round+1)); err != nil {
			return out, nil // stopped: the locked records stay failed, unwritten
		}
		part := make([]sink.Record, len(again))
		for k, i := range again {
			part[k] = records[i]
		}
		res, err := s.restRound(ctx, s.newJSONShape(layout), part)
		if err != nil {
			return nil, err
		}
		for k, i := range again {
			out[i] = res[k]
		}
	}
	return out, nil
}

// restRound sends records in calls of 200, in parallel. When ctx ends,
// calls not yet sent are not sent (their records are skipped
// skipped as not sent), and calls in flight run to their answer, with a context
// of their own bounded by salvageTimeout, so that what Salesforce did is
// reported rather than guessed.
func (s *sfSink) restRound(ctx context.Context, enc *jsonShape, records []sink.Record) ([]sink.Result, error) {
	out := make([]sink.Result, len(records))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	flight, flightCancel := context.WithTimeout(context.WithoutCancel(ctx), salvageTimeout)
	defer flightCancel()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for off := 0; off < len(records); off += restBatch {
		end := min(off+restBatch, len(records))
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case s.restSlots <- struct{}{}:
			case <-ctx.Done():
				copy(out[off:end], stoppedResults(end-off))
				return
			}
			defer func() { <-s.restSlots }()
			if ctx.Err() != nil {
				copy(out[off:end], stoppedResults(end-off))
				return
			}
			err := s.restCall(flight, enc, records[off:end], out[off:end])
			if err == nil {
				return
			}
			if errors.Is(err, ErrLogin) {
				once.Do(func() { first = err; cancel() })
				return
			}
			re := requestFailure(err)
			for i := off; i < end; i++ {
				out[i] = sink.Result{Err: re}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return out, nil
}

// restCall sends one collection call and fills out from its answer.
func (s *sfSink) restCall(ctx context.Context, shape *jsonShape, records []sink.Record, out []sink.Result) error {
	r := &request{ctype: "application/json"}
	switch s.dest.Operation {
	case Insert:
		// An insert resent after a lost answer could create the records twice.
		r.method, r.path = http.MethodPost, s.c.dataPath("composite", "sobjects")
	case Update:
		r.method, r.path, r.idempotent = http.MethodPatch, s.c.dataPath("composite", "sobjects"), true
	case Upsert:
		r.method, r.path, r.idempotent = http.MethodPatch, s.c.dataPath("composite", "sobjects", s.dest.Object, s.dest.ExternalID), true
	case Delete:
		ids := make([]string, len(records))
		i := shape.layout.Index("Id")
		for k := range records {
			if i >= 0 && i < len(records[k].Values) {
				ids[k] = records[k].Values[i].S
			}
		}
		// A delete resent after a lost answer reports ENTITY_IS_DELETED for
		// records it did delete, so it is treated like an insert.
		r.method, r.path = http.MethodDelete, s.c.dataPath("composite", "sobjects")
		r.query = url.Values{"ids": {strings.Join(ids, ",")}, "allOrNone": {"false"}}
		r.ctype = ""
	default:
		return fmt.Errorf("operation %s has no REST call", s.dest.Operation)
	}
	if r.method != http.MethodDelete {
		r.body = shape.body(records)
	}
	s.setAutoAssign(r)
	var res []saveResult
	for try := 0; ; try++ {
		resp, err := s.c.do(ctx, r)
		if err != nil {
			return err
		}
		derr := json.Unmarshal(resp.body, &res)
		if derr == nil {
			break
		}
		// A success whose answer cannot be read was applied all the same.
		// An update or upsert may be sent again to learn the outcome; an
		// insert or delete may not.
		if !r.idempotent || try == 1 {
			return errorf("%s %s: %w: the answer could not be read: %w", r.method, r.path, ErrOutcomeUnknown, derr)
		}
	}
	if len(res) != len(records) {
		// The answer cannot be tied to the records; for an insert the
		// records may exist, so say so rather than guess.
		re := recordErr(CodeOutcomeUnknown, "Salesforce answered %d results for %d records", len(res), len(records))
		for i := range out {
			out[i] = sink.Result{Err: re}
		}
		return nil
	}
	for i, x := range res {
		if x.Success {
			created := s.dest.Operation == Insert
			if x.Created != nil {
				created = *x.Created
			}
			out[i] = sink.Result{ID: x.ID, Created: created}
			continue
		}
		re := &sink.RecordError{Code: "UNKNOWN_ERROR", Message: "Salesforce reported a failure without an error"}
		if len(x.Errors) > 0 {
			e := x.Errors[0]
			re = &sink.RecordError{Code: e.StatusCode, Message: e.Message, Fields: e.Fields}
			for _, more := range x.Errors[1:] {
				re.Message += "; " + more.StatusCode + ": " + more.Message
			}
		}
		out[i] = sink.Result{ID: x.ID, Err: re}
	}
	return nil
}

// jsonShape is how a layout's records become sObject JSON: top-level
// fields, and relationship paths (Account.External_Id__c) nested under
// their relationship name. Keys are quoted once, not per record.
type jsonShape struct {
	layout *sink.Layout
	object string
	// open begins every record: {"attributes":{"type":"Object"}
	open   []byte
	fields []jsonField
}

type jsonField struct {
	index int
	// key is `,"Name":` or, for a lookup, `,"Account":{"External_Id__c":`.
	key    []byte
	lookup bool
	// nullKey is `,"AccountId":` — a null lookup clears its reference field.
	nullKey []byte
	nullAs  string
}

func (s *sfSink) newJSONShape(layout *sink.Layout) *jsonShape {
	sh := &jsonShape{layout: layout, object: s.dest.Object}
	sh.open = append(appendJSONString([]byte(`{"attributes":{"type":`), s.dest.Object), '}')
	desc := s.c.describeCached(s.dest.Object)
	for i, f := range layout.Fields {
		rel, sub, ok := cutPath(f)
		if !ok {
			sh.fields = append(sh.fields, jsonField{index: i, key: jsonKey(nil, f)})
			continue
		}
		ref := referenceField(desc, rel)
		key := append(appendJSONString(append(jsonKey(nil, rel), '{'), sub), ':')
		sh.fields = append(sh.fields, jsonField{index: i, key: key, lookup: true, nullKey: jsonKey(nil, ref), nullAs: ref})
	}
	return sh
}

// jsonKey appends `,"name":` to b.
func jsonKey(b []byte, name string) []byte {
	return append(appendJSONString(append(b, ','), name), ':')
}

// cutPath splits a lookup path "Rel.Field" into its relationship and field.
func cutPath(f string) (rel, sub string, ok bool) { return strings.Cut(f, ".") }

// referenceField names the lookup field behind a relationship name, from
// the describe when one was read, or by Salesforce's naming rules.
func referenceField(desc *objectDescribe, rel string) string {
	if desc != nil {
		if f := desc.Relationship(rel); f != nil {
			return f.Name
		}
	}
	if base, ok := strings.CutSuffix(rel, "__r"); ok {
		return base + "__c"
	}
	return rel + "Id"
}

// body encodes {"allOrNone":false,"records":[...]}. Values are written by
// kind: text as JSON strings, numbers and booleans as JSON literals, null
// as null (which clears the field), absent not at all.
func (sh *jsonShape) body(records []sink.Record) []byte {
	b := make([]byte, 0, 64*len(records)*(len(sh.fields)+1))
	b = append(b, `{"allOrNone":false,"records":[`...)
	var cleared []string // reference fields a record already cleared
	for k := range records {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, sh.open...)
		vals := records[k].Values
		cleared = cleared[:0]
		for _, f := range sh.fields {
			if f.index >= len(vals) {
				continue
			}
			v := vals[f.index]
			switch {
			case v.Kind == sink.Absent:
			case !f.lookup:
				b = appendJSONValue(append(b, f.key...), v)
			case v.Kind == sink.Null:
				if !slices.ContainsFunc(cleared, func(c string) bool { return strings.EqualFold(c, f.nullAs) }) {
					cleared = append(cleared, f.nullAs)
					b = append(append(b, f.nullKey...), "null"...)
				}
			default:
				b = append(appendJSONValue(append(b, f.key...), v), '}')
			}
		}
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

func appendJSONValue(b []byte, v sink.Value) []byte {
	switch v.Kind {
	case sink.Null:
		return append(b, "null"...)
	case sink.Number, sink.Bool:
		if isJSONLiteral(v) {
			return append(b, v.S...)
		}
	}
	return appendJSONString(b, v.S)
}

// appendJSONString appends s as a JSON string (see jsonstr.Append).
func appendJSONString(b []byte, s string) []byte { return jsonstr.Append(b, s) }

// isJSONLiteral reports whether a number or boolean's text can be written
// as is; otherwise it is sent as a string, which Salesforce also parses,
// rather than breaking the request's JSON.
func isJSONLiteral(v sink.Value) bool {
	if v.Kind == sink.Bool {
		return v.S == "true" || v.S == "false"
	}
	s := v.S
	if s == "" || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') {
		return false
	}
	return jsonNumber(s)
}

// jsonNumber reports whether s is a JSON number, trailing white space
// allowed as encoding/json allows it, without the allocations of asking
// encoding/json for every number of every record.
func jsonNumber(s string) bool {
	digits := func(i int) int {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i
	}
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = digits(i)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return false
		}
		i = j
	}
	return strings.TrimRight(s[i:], " \t\r\n") == ""
}
