package sink

// Undo
//
// A sink whose writes can be put back keeps, for each record an update
// changed, the value each changed field held before (Result.Prior), read
// from the destination just before the write. The Engine stores them with
// the run; undoing the run later writes them back through the sink's
// Undoer, field by field, unless the field was changed again since: the
// expected value (Record.Expect) is the token of the value the undone run
// wrote, so the Tracker rule keeps a later edit and reports it
// (Result.KeptEdits).

// PriorValue is one field a write changed: what it held before and a
// token of the value written (see Tracker for tokens).
type PriorValue struct {
	Field string
	// Prior is the value the field held before the write; Kind Null for
	// an empty field.
	Prior Value
	// Wrote is the token of the value written, and Written its text.
	Wrote   string
	Written string
}

// Undoer is optionally implemented by a sink whose writes can be undone.
// Both sinks write the sink's own destination object and find records by
// their destination Id, the layout's field "Id".
type Undoer interface {
	// Restorer returns a sink that updates records by Id. Every other
	// field is tracked: a field whose current value's token differs from
	// the record's Expect is kept and listed in Result.KeptEdits, and a
	// field without an expectation is written.
	Restorer() (Sink, error)
	// Deleter returns a sink that deletes records by Id.
	Deleter() (Sink, error)
}
