// Package memory is an in-memory sink.Sink: records are kept by key, as a
// destination keyed by an external id would keep them. It applies
// set_if_empty guards the way every sink must, and can reject records on
// demand, which makes it the reference implementation for sink/sinktest.
package memory

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/retl-go/retl/sink"
)

// Sink stores records in memory. It is safe for concurrent use.
type Sink struct {
	// KeyField names the field that identifies a record; "" uses Record.Key.
	KeyField string
	// Reject, when set, may reject a record with a destination error.
	Reject func(r *sink.Record) *sink.RecordError
	// BatchSize and Concurrency are what Batching reports (defaults 500 and 2).
	BatchSize   int
	Concurrency int
	// Identity is what Describe reports as the data-deciding part of the
	// destination (sink.Description.Identity).
	Identity string
	// CreatesOnly is what Describe reports: the sink stands for a
	// destination whose writes only create records.
	CreatesOnly bool

	mu     sync.Mutex
	rows   map[string]map[string]string
	nextID int
	writes int
	closed bool
	hint   *sink.Hint
}

// New returns an empty sink keyed by field (or by Record.Key when field is "").
func New(field string) *Sink {
	return &Sink{KeyField: field}
}

// Describe implements sink.Describer: records are found by KeyField, and
// a record is created when its key is new.
func (s *Sink) Describe() sink.Description {
	return sink.Description{Label: "memory", Identity: s.Identity, KeyField: s.KeyField, CreatesOnly: s.CreatesOnly}
}

// Batching implements sink.Batching.
func (s *Sink) Batching() (int, int) {
	b, c := s.BatchSize, s.Concurrency
	if b <= 0 {
		b = 500
	}
	if c <= 0 {
		c = 2
	}
	return b, c
}

// Hint implements sink.Hinter; the last hint is kept for tests.
func (s *Sink) Hint(_ context.Context, h sink.Hint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hint = &h
	return nil
}

// LastHint returns the hint the sink was given, if any.
func (s *Sink) LastHint() (sink.Hint, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hint == nil {
		return sink.Hint{}, false
	}
	return *s.hint, true
}

// Write stores the records and returns one result per record, in order.
func (s *Sink) Write(ctx context.Context, records []sink.Record) ([]sink.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory sink: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("memory sink: write after close")
	}
	if s.rows == nil {
		s.rows = map[string]map[string]string{}
	}
	s.writes++
	out := make([]sink.Result, len(records))
	for i := range records {
		r := &records[i]
		if s.Reject != nil {
			if e := s.Reject(r); e != nil {
				out[i] = sink.Result{Err: e}
				continue
			}
		}
		key := r.Key
		if s.KeyField != "" {
			v, ok := r.Get(s.KeyField)
			if !ok || v.IsEmpty() {
				out[i] = sink.Result{Err: &sink.RecordError{Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [" + s.KeyField + "]", Fields: []string{s.KeyField}}}
				continue
			}
			key = v.S
		}
		cur, exists := s.rows[key]
		if !exists {
			s.nextID++
			cur = map[string]string{"Id": "mem" + strconv.Itoa(s.nextID)}
			s.rows[key] = cur
		}
		var kept []string
		for j, f := range r.Layout.Fields {
			v := r.Values[j]
			if r.Layout.Guarded[j] && exists && cur[f] != "" {
				if v.Kind != sink.Absent {
					kept = append(kept, f)
				}
				continue
			}
			switch v.Kind {
			case sink.Absent:
			case sink.Null:
				delete(cur, f)
			default:
				cur[f] = v.S
			}
		}
		out[i] = sink.Result{ID: cur["Id"], Created: !exists, KeptBack: kept}
	}
	return out, nil
}

// Close marks the sink closed.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// Rows returns a copy of the stored records by key.
func (s *Sink) Rows() map[string]map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]map[string]string, len(s.rows))
	for k, r := range s.rows {
		c := make(map[string]string, len(r))
		for f, v := range r {
			c[f] = v
		}
		out[k] = c
	}
	return out
}

// Set seeds a stored record, as if written before the run.
func (s *Sink) Set(key string, fields map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rows == nil {
		s.rows = map[string]map[string]string{}
	}
	s.nextID++
	c := map[string]string{"Id": "mem" + strconv.Itoa(s.nextID)}
	for f, v := range fields {
		c[f] = v
	}
	s.rows[key] = c
}

// Writes returns how many Write calls stored records.
func (s *Sink) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Closed reports whether Close was called.
func (s *Sink) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
