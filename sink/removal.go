package sink

import "context"

// Counter is optionally implemented by a sink that must know how many
// records a sync sends before its first Write, such as one that refuses
// to delete more than a limit. When CountFirst reports true, the Engine
// holds every record until the source is read, then calls Hint (when the
// sink is a Hinter) with Final set and the total, and writes only if Hint
// returns no error. Memory then grows with the load, so a sink asks for it
// only when it needs the count.
type Counter interface {
	CountFirst() bool
}

// Removal asks a sink to act on records that a sync wrote in earlier runs
// and that its query no longer returns (a sync's on_removed).
type Removal struct {
	// IDs are the destination's ids of the records.
	IDs []string
	// Set, when not nil, updates each record with Set's fields and values
	// instead of deleting it. Its Seq and Key are not used.
	Set *Record
	// Plan acts on nothing: Remove returns the results a run would give.
	Plan bool
}

// Remover is optionally implemented by a sink that can carry out a
// Removal.
type Remover interface {
	// Remove first checks the whole removal against the sink's limits; an
	// error then means that nothing was removed. Otherwise it returns one
	// Result per id, in order: written, failed with the destination's
	// error, or skipped with a reason (a record already gone).
	Remove(ctx context.Context, r Removal) ([]Result, error)
}

// CountChecker is optionally implemented by a Counter whose limit counts
// what the records find at the destination rather than the records, so
// that a record whose key finds nothing (already deleted, say) does not
// count. Once the source is read, the Engine calls CheckCount with every
// held record, before Hint; an error leaves every record unsent, with
// the sink's reason. A plan calls it as a run does.
type CountChecker interface {
	CheckCount(ctx context.Context, records []Record) error
}
