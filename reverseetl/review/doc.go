// Package review renders a run's or a plan's report for the people who
// approve it: Text is what the retl command prints, HTML is one
// self-contained page to open from a merge request's artifacts.
//
// Both render only what the Report holds. The Report's messages and
// values are redacted, and the values of writeback.exclude_fields replaced
// by [EXCLUDED], before they reach it: neither rendering sees a secret.
package review

import "github.com/retl-go/retl/reverseetl"

// Options says what a report is of and how much of it to show.
type Options struct {
	// Plan says the report is of a plan: nothing was written, counts are
	// what a run would do.
	Plan bool
	// Changes is how many records' field changes Text prints per sync of
	// a plan; 0 prints none. HTML shows every change the report holds (up
	// to Rows).
	Changes int
	// Rows bounds, per sync, the records whose changes the page lists and
	// the failure codes it lists; the rest is counted as "and N more". 0
	// means DefaultRows.
	Rows int
	// Title heads the page; empty means "retl plan" or "retl run".
	Title string
}

// DefaultRows is the rows per table and sync the page shows when
// Options.Rows is 0.
const DefaultRows = 50

// failedRowsShown is how many failed rows Text lists per sync.
const failedRowsShown = 20

func (o Options) rows() int {
	if o.Rows > 0 {
		return o.Rows
	}
	return DefaultRows
}

func (o Options) title() string {
	switch {
	case o.Title != "":
		return o.Title
	case o.Plan:
		return "retl plan"
	}
	return "retl run"
}

// other is the skipped rows that are not unchanged ones: an unchanged row
// that was read is a skip too, and is shown once, as unchanged.
func other(s *reverseetl.SyncReport) int64 {
	return s.Skipped - (s.Unchanged - s.UnchangedNotRead)
}
