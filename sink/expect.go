package sink

// Expected values
//
// A sink that can compare what it wrote with what the destination holds
// later implements Tracker. The hand-over is two token lists by field
// position, and the Engine keeps them between runs:
//
//   - after a write, Result.Wrote names, for each tracked field the write
//     sent (or found already set), a token of the value the destination now
//     holds. A token is the sink's own: the Engine stores it and hands it
//     back, and never reads it. The sink makes equal tokens for values the
//     destination holds as equal (a number at the field's scale, a
//     picklist value in any case), so a token of a value written and one of
//     the value read back later compare equal until someone changes it.
//   - before a later write, Record.Expect holds the stored token of each
//     field: what the destination should hold now. The sink reads the
//     current values of the fields that carry an expectation; a field whose
//     current value's token differs from Expect has been changed since, and
//     the sink leaves it as it is (it is not sent) and lists it in
//     Result.KeptEdits. Fields whose value matches, and fields without an
//     expectation (never written, or written before tracking began), are
//     written as usual.
//
// keep_human_edits is built on it: retl overwrites a field only while it
// still holds what retl last wrote there.

// Choice is a field's own setting of an option that the destination sets
// for every field.
type Choice uint8

const (
	// Inherit takes the destination's setting.
	Inherit Choice = iota
	// On turns the option on for the field.
	On
	// Off turns it off.
	Off
)

// Tracker is optionally implemented by a sink that can track the values it
// writes (see Expected values above).
type Tracker interface {
	// Tracks returns which fields of a layout the sink tracks: those it
	// gives Result.Wrote tokens for and compares with Record.Expect. Nil
	// when it tracks none. It does no I/O.
	Tracks(layout *Layout) []bool
}

// KeepsEdit reports whether field i keeps edits, given the destination's
// setting for every field.
func (l *Layout) KeepsEdit(i int, all bool) bool {
	if i < len(l.KeepEdits) {
		switch l.KeepEdits[i] {
		case On:
			return true
		case Off:
			return false
		}
	}
	return all
}
