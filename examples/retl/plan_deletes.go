package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
)

// writeDeletes prints the records a plan would delete, those on_removed
// would act on, and max_deletes' verdict when the error does not give it.
func writeDeletes(w io.Writer, s *reverseetl.SyncReport) {
	var lines []string
	if s.Deleted > 0 {
		lines = append(lines, fmt.Sprintf("would delete %d records", s.Deleted))
	}
	if r := s.Removed; r != nil && r.Found > 0 {
		verb := "delete"
		if r.Action == "set" {
			verb = "update (on_removed set)"
		}
		lines = append(lines, fmt.Sprintf("on_removed: %d records this sync wrote are no longer in its query: would %s %d, would fail %d, skipped %d",
			r.Found, verb, r.Done, r.Failed, r.Skipped))
	}
	var guard *sink.DeleteLimitError
	if v, ok := s.Stats["max_deletes"].(string); ok && !errors.As(s.Cause(), &guard) {
		lines = append(lines, "max_deletes: "+v)
	}
	for i, l := range lines {
		if i == 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s: %s\n", s.Name, l)
	}
}
