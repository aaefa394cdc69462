package reverseetl

import (
	"context"
	"strings"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
)

// Excluded replaces a value of an excluded field in a message.
const Excluded = "[EXCLUDED]"

// Exclusion is a set of destination fields (matched without case) whose
// values must not leave the process: personal data a project lists in
// writeback.exclude_fields. Salesforce echoes a rejected value in its
// error ("invalid email address: ..."), so messages are scrubbed too, not
// only the values columns. The zero Exclusion excludes nothing.
type Exclusion struct {
	fields map[string]bool
}

// NewExclusion returns the exclusion of fields.
func NewExclusion(fields ...string) Exclusion {
	if len(fields) == 0 {
		return Exclusion{}
	}
	x := Exclusion{fields: make(map[string]bool, len(fields))}
	for _, f := range fields {
		x.fields[strings.ToLower(f)] = true
	}
	return x
}

// Has reports whether field is excluded.
func (x Exclusion) Has(field string) bool { return x.fields[strings.ToLower(field)] }

// Empty reports whether nothing is excluded.
func (x Exclusion) Empty() bool { return len(x.fields) == 0 }

// Scrub returns msg with the record's values of excluded fields replaced
// by [EXCLUDED], by the rule the Redactor applies to secrets (see
// config.MaskValue): a value of 8 characters or more wherever it appears,
// a shorter one where it stands alone.
func (x Exclusion) Scrub(msg string, r *sink.Record) string {
	if len(x.fields) == 0 || r == nil || r.Layout == nil || msg == "" {
		return msg
	}
	for i, f := range r.Layout.Fields {
		if i >= len(r.Values) || !x.fields[strings.ToLower(f)] {
			continue
		}
		if v := r.Values[i]; v.Kind != sink.Null && v.Kind != sink.Absent && v.S != "" {
			msg = config.MaskValue(msg, v.S, Excluded)
		}
	}
	return msg
}

// ScrubChanges returns changes with the values of excluded fields replaced
// by [EXCLUDED]; changes itself is not modified.
func (x Exclusion) ScrubChanges(changes []sink.FieldChange) []sink.FieldChange {
	if len(x.fields) == 0 {
		return changes
	}
	var out []sink.FieldChange
	for i, c := range changes {
		if !x.Has(c.Field) {
			continue
		}
		if out == nil {
			out = append([]sink.FieldChange(nil), changes...)
		}
		out[i].From, out[i].To = Excluded, Excluded
	}
	if out == nil {
		return changes
	}
	return out
}

// exclusion is what the run keeps out of messages: the Engine's fields
// and the project's writeback.exclude_fields.
func (e *Engine) exclusion(p *config.Project) Exclusion {
	fields := e.exclude
	if p != nil && p.Writeback != nil {
		fields = append(fields[:len(fields):len(fields)], p.Writeback.ExcludeFields...)
	}
	return NewExclusion(fields...)
}

// WithExcludeFields keeps the values of these destination fields out of
// every message the run's outcomes carry (reports, observers, logs), as a
// project's writeback.exclude_fields does.
func WithExcludeFields(fields ...string) Option {
	return func(e *Engine) { e.exclude = append(e.exclude, fields...) }
}

// RemovedObserver is optionally implemented by an Observer that records
// what on_removed did: one outcome per record the sync removed (Written),
// could not remove (RowFailed) or found already gone (RowSkipped), keyed
// by the record's key and Salesforce id. Action is delete or set. These
// records are not rows read and never reach Outcomes.
type RemovedObserver interface {
	Removed(ctx context.Context, s *config.Sync, action string, outs []Outcome) error
}

// removed hands on_removed's outcomes to the observers that take them. A
// failure is a warning on the report, as for Outcomes.
func (r *recorder) removed(action string, outs []Outcome) {
	if len(outs) == 0 {
		return
	}
	r.drain.put(drainJob{rows: len(outs), do: func(ctx context.Context, d *drain) {
		for _, o := range r.observers {
			ro, ok := o.(RemovedObserver)
			if !ok {
				continue
			}
			if err := safeCall(func() error { return ro.Removed(ctx, r.sync, action, outs) }); err != nil {
				d.warn(firstLine(err.Error()), false)
			}
		}
	}})
}
