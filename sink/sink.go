// Package sink defines how retl writes records to a destination: the Sink
// interface, the Record it receives and the per-record Result it returns.
//
// A Sink is small on purpose (Write and Close). Abilities that only some
// destinations have, such as a preflight check of the target's schema or a
// hint about how many records are coming, are optional interfaces that the
// Engine discovers with a type assertion, in the way database/sql discovers
// optional driver abilities.
package sink

import (
	"context"
	"fmt"
	"strings"
)

// Kind says how a field's value is written to the destination.
type Kind uint8

const (
	// Absent leaves the field as it is at the destination: it is not sent.
	Absent Kind = iota
	// Null clears the field.
	Null
	// Text is a string value.
	Text
	// Number is an exact decimal in canonical text form ("-12.50", "42").
	Number
	// Bool is "true" or "false".
	Bool
	// Date is a calendar date as yyyy-mm-dd.
	Date
	// DateTime is an ISO-8601 instant with its zone, e.g. 2024-05-01T10:00:00.000Z.
	DateTime
)

var kindNames = [...]string{"absent", "null", "text", "number", "bool", "date", "datetime"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Value is one field's value, already normalised to the text a destination
// accepts. Keeping values as text makes decimals exact and lets encoders
// (CSV, JSON) write them without conversion.
type Value struct {
	Kind Kind
	S    string
}

// Convenience constructors.
func TextValue(s string) Value   { return Value{Kind: Text, S: s} }
func NumberValue(s string) Value { return Value{Kind: Number, S: s} }
func BoolValue(b bool) Value {
	if b {
		return Value{Kind: Bool, S: "true"}
	}
	return Value{Kind: Bool, S: "false"}
}
func NullValue() Value { return Value{Kind: Null} }

// IsEmpty reports whether the value sends nothing or clears the field.
func (v Value) IsEmpty() bool { return v.Kind == Absent || v.Kind == Null }

// Layout is the shape shared by every record of one sync: the target field
// names in order and which of them are guarded by set_if_empty. A target may
// name a lookup by external id, such as "Account.External_Id__c".
type Layout struct {
	Fields  []string
	Guarded []bool
	// Truncate marks the fields whose text the sink may cut to the
	// destination field's length instead of refusing the record; nil
	// for none.
	Truncate []bool
	// KeepEdits holds each field's own keep_human_edits choice, which
	// overrides the destination's; nil when no field makes one. See
	// Tracker.
	KeepEdits []Choice
	index     map[string]int
}

// NewLayout returns a layout for the given fields. guarded may be nil.
func NewLayout(fields []string, guarded []bool) *Layout {
	l := &Layout{Fields: fields, Guarded: guarded, index: make(map[string]int, len(fields))}
	if l.Guarded == nil {
		l.Guarded = make([]bool, len(fields))
	}
	for i, f := range fields {
		l.index[strings.ToLower(f)] = i
	}
	return l
}

// Truncated reports whether field i may be cut to the destination's length.
func (l *Layout) Truncated(i int) bool { return i < len(l.Truncate) && l.Truncate[i] }

// Index returns the position of a field, matched without regard to case as
// Salesforce matches field names, or -1.
func (l *Layout) Index(field string) int {
	if i, ok := l.index[strings.ToLower(field)]; ok {
		return i
	}
	return -1
}

// HasGuarded reports whether any field is guarded by set_if_empty.
func (l *Layout) HasGuarded() bool {
	for _, g := range l.Guarded {
		if g {
			return true
		}
	}
	return false
}

// Record is one row to write. Values follow Layout.Fields.
type Record struct {
	// Seq is the position of the source row in its sync's run, from 1. It is
	// how every outcome is tied back to exactly one input row.
	Seq int64
	// Key identifies the row in reports: the sync's key column, the external
	// id or the Id, whichever the sync names.
	Key    string
	Layout *Layout
	Values []Value
	// Expect holds, by field position, the token of the value the
	// destination should hold now ("" for no expectation); nil for none.
	// See Tracker.
	Expect []string
}

// Get returns the value of a field and whether the layout has it.
func (r *Record) Get(field string) (Value, bool) {
	i := r.Layout.Index(field)
	if i < 0 || i >= len(r.Values) {
		return Value{}, false
	}
	return r.Values[i], true
}

// Result is the outcome of writing one record.
//
// A record the destination rejects has Err set; a record the sink chose not
// to write (for example an update whose key matches nothing) has Skipped set
// to a code saying why, and SkipDetail may add words for people. Otherwise
// the record was written.
type Result struct {
	ID      string
	Created bool
	// Deleted: the write deleted the record (a delete sync).
	Deleted    bool
	Err        *RecordError
	Skipped    SkipCode
	SkipDetail string
	// KeptBack lists guarded fields that were not sent because the
	// destination already held a value for them.
	KeptBack []string
	// KeptEdits lists tracked fields that were not sent because the
	// destination's value is no longer the one Record.Expect names: a
	// person changed it since it was written (see Tracker).
	KeptEdits []string
	// Wrote holds, by field position, the token of the value the
	// destination holds after the write for each tracked field the write
	// sent or found already set; "" where it did not write the field.
	// Nil when no field is tracked. See Tracker.
	Wrote []string
	// Changes is filled by Planner.Plan only: the fields a write would
	// change, with their current and new values.
	Changes []FieldChange
	// Altered lists the fields of a written record that the destination,
	// read back after the write, holds differently from what was sent
	// (a trigger, a Flow, rounding): From is the value sent, To the value
	// stored. Only a sink that verifies its writes fills it.
	Altered []FieldChange
	// Prior lists, for a record an update changed, the value each changed
	// field held before the write; only a sink asked to keep them fills it
	// (see Undoer).
	Prior []PriorValue
}

// FieldChange is one field a planned write would change.
type FieldChange struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// SkipCode says why a row was deliberately not written. Reports count
// skipped rows by code, and programs compare codes, never the words of a
// detail. A sink may use codes of its own; those below are the ones retl's
// Engine and sinks give.
type SkipCode string

const (
	// SkipUnchanged: the destination, or the change-detection state, already
	// holds the row's values.
	SkipUnchanged SkipCode = "unchanged"
	// SkipFiltered: the sync's filter is not true for the row.
	SkipFiltered SkipCode = "filtered"
	// SkipNotFound: an update or delete whose key matches no record.
	SkipNotFound SkipCode = "not_found"
	// SkipAlreadyDeleted: a delete of a record that no longer exists.
	SkipAlreadyDeleted SkipCode = "already_deleted"
	// SkipAlreadyInserted: an insert sync has already created the row's
	// record in an earlier run (insert does not update; use upsert).
	SkipAlreadyInserted SkipCode = "already_inserted"
	// SkipDuplicateKey: an earlier row of the run has the same key.
	SkipDuplicateKey SkipCode = "duplicate_key"
	// SkipNoID: the state holds no destination id for a record to remove.
	SkipNoID SkipCode = "no_id"
	// SkipNotSent: the row was never sent because the run was cancelled or
	// its sync stopped; the detail says which, and why.
	SkipNotSent SkipCode = "not_sent"
)

// RecordError is a destination's rejection of one record, with the
// destination's own code, message and fields.
type RecordError struct {
	Code    string
	Message string
	Fields  []string
	// Predicted says the destination was never asked: the sink foresaw,
	// from the destination's own rules, that it would refuse the record
	// with this code and message, and did not send it.
	Predicted bool `json:"Predicted,omitempty"`
}

func (e *RecordError) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("%s: %s (fields: %s)", e.Code, e.Message, strings.Join(e.Fields, ", "))
	}
	return e.Code + ": " + e.Message
}

// Sink writes records to a destination.
type Sink interface {
	// Write writes records and returns exactly one Result per record, in
	// input order. A record the destination rejects is a Result with Err,
	// never an error return. The error is for failures of the whole call
	// (authentication, network after retries, cancellation); then the
	// outcome of every record of the call is treated as failed with it.
	// When ctx ends, a sink that can tell what the destination holds
	// returns Results instead of an error: written for what was written,
	// Skipped for records it knows were not, and Err for the rest, so a
	// stopped run reports the truth and its state keeps what was written.
	// Write may be called concurrently up to the sink's Batching concurrency.
	Write(ctx context.Context, records []Record) ([]Result, error)
	// Close releases what the sink holds; it is called once after the last Write.
	Close(ctx context.Context) error
}

// Batching is optionally implemented by a sink that wants its records in
// batches of a given size, and allows several Write calls in flight.
type Batching interface {
	Batching() (maxRecords, concurrency int)
}

// Hint tells a sink how many records are coming before its first Write.
// Records is the number buffered so far; Final says whether that is all of
// them. The Engine decides it without reading the whole source first.
type Hint struct {
	Records int
	Final   bool
}

// Hinter is optionally implemented by a sink that chooses how to write
// (for example REST for small loads, Bulk for large ones) from a Hint.
type Hinter interface {
	Hint(ctx context.Context, h Hint) error
}

// Preflighter is optionally implemented by a sink that can check, before any
// write, that the records' layout fits the destination (fields exist and are
// writable for the operation). A preflight error fails the sync before the
// first write.
type Preflighter interface {
	Preflight(ctx context.Context, layout *Layout) error
}

// Planner is optionally implemented by a sink that can tell what a Write
// would do without writing: Plan returns the Results Write would return
// (Created for records that would be created, Skipped SkipUnchanged for
// records the destination already holds as they are, KeptBack, Changes),
// and writes nothing.
type Planner interface {
	Plan(ctx context.Context, records []Record) ([]Result, error)
}

// Stats is optionally implemented by a sink that reports what it did beyond
// per-record results, such as the API used and the ids of Bulk jobs.
type Stats interface {
	Stats() Statistics
}

// Statistics is what a sink says about its writes. Reports show it and the
// run log keeps API and Jobs; programs read the fields, and the maps by the
// names a sink documents.
type Statistics struct {
	// API names how the sink wrote, such as "bulk", "rest" or "bulk+rest".
	API string `json:"api,omitempty"`
	// Jobs are the destination's ids of the jobs the sink ran, in the
	// order they started (Salesforce's Bulk API jobs).
	Jobs []string `json:"jobs,omitempty"`
	// Calls counts the requests made to the destination.
	Calls int64 `json:"api_calls"`
	// Counts are the sink's other counters, by name, such as a Salesforce
	// sink's lock_failures.
	Counts map[string]int64 `json:"counts,omitempty"`
	// ByField are counters per destination field, by counter name, such as
	// the values truncated in each field.
	ByField map[string]map[string]int64 `json:"by_field,omitempty"`
	// Notes are the sink's other facts, by name, in words for people, such
	// as how max_deletes judged the run.
	Notes map[string]string `json:"notes,omitempty"`
}

// Count sets a counter; a zero leaves it out.
func (s *Statistics) Count(name string, n int64) {
	if n == 0 {
		return
	}
	if s.Counts == nil {
		s.Counts = map[string]int64{}
	}
	s.Counts[name] = n
}

// Note sets a note; an empty one leaves it out.
func (s *Statistics) Note(name, text string) {
	if text == "" {
		return
	}
	if s.Notes == nil {
		s.Notes = map[string]string{}
	}
	s.Notes[name] = text
}

// Screener is optionally implemented by a sink that can tell, before a
// record is sent, that the destination must not receive it: a key it
// cannot match, a key another record of the sync already took, a value the
// destination would misread. The Engine calls Screen once per batch, in
// input order and from one goroutine, before the batch reaches Write or
// Plan, in a run and in a plan alike; so decisions that depend on order
// (which of two records with one key comes first) are the same in every
// run and in its plan. Screen returns nil when every record may be sent,
// or one Result per record: the zero Result sends the record, a Result
// with Err or Skipped is that record's outcome and it is not sent. An
// error stops the sync; no record of the batch is sent.
type Screener interface {
	Screen(ctx context.Context, records []Record) ([]Result, error)
}

// KeyFolder is optionally implemented by a sink whose destination matches
// a record's key loosely, as Salesforce matches external ids without
// regard to case and Ids in their 15- or 18-character forms. FoldKey
// returns the form under which two keys find the same record, so that the
// Engine's state and on_removed compare keys as the destination does. It
// is valid once Preflight has run.
type KeyFolder interface {
	FoldKey(key string) string
}

// Describer is optionally implemented by a sink that says what its writes
// do. The Engine reads it once per sync, after Build, for the rules that
// depend on it; a sink without it is taken as one whose writes neither
// only create nor find records by a key.
type Describer interface {
	Describe() Description
}

// Description is what a sink's writes do.
type Description struct {
	// Label names the destination in logs and summaries, such as
	// "upsert Account".
	Label string
	// Identity is what decides the data a write leaves, such as the
	// object, the operation and the fields that find records. Change
	// detection's fingerprint includes it: changing it sends every row
	// again, while a sink's tuning options do not.
	Identity string
	// KeyField is the record field that finds the destination's record
	// (an external id, an Id): rows that fail before they are sent are
	// reported with its value when the sync names no key column. Empty
	// when writes create records.
	KeyField string
	// CreatesOnly: every write creates a new record, so a key the
	// destination has accepted must never be sent again.
	CreatesOnly bool
}

// Warner is optionally implemented by a sink that noticed something the
// sync's owner should know and that changed no outcome, such as a field
// it finds records by that the destination does not index. The Engine
// adds the warnings to the sync's report, in a run and in a plan.
type Warner interface {
	Warnings() []string
}
