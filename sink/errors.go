package sink

// DeleteLimitError is a sink's refusal to delete, or to act on removed
// records, more than its limit allows; it deleted nothing. A program tells
// it apart with errors.As, and the report keeps it as the sync's cause.
type DeleteLimitError struct {
	// Setting is the key that sets the limit, such as "max_deletes".
	Setting string
	// Verdict says how many records were found and what the limit allows.
	Verdict string
}

func (e *DeleteLimitError) Error() string { return e.Setting + ": " + e.Verdict }
