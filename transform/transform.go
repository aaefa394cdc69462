// Package transform defines how a source row becomes a record for a sink:
// the Transformer interface, and (in this package) the mapping transformer
// that a sync's YAML mapping builds.
package transform

import (
	"errors"

	"github.com/retl-go/retl/sink"
)

// Row is one source row and its column names.
type Row struct {
	Columns []string
	Values  []any
}

// Transformer maps one source row to one record.
type Transformer interface {
	// Layout is the shape of every record the transformer makes.
	Layout() *sink.Layout
	// Transform maps one row. An error fails that row only; an error that
	// wraps *Skip skips it with the Skip's code.
	Transform(row Row) (sink.Record, error)
}

// ColumnChecker is a Transformer that can tell from a result's column
// names alone that it cannot map any of its rows (a mapping, when or
// filter naming a column the query does not return). The Engine asks it
// on the first batch, before any row is transformed or written, so that
// such a sync stops as misconfigured instead of failing its first row.
type ColumnChecker interface {
	CheckColumns(columns []string) error
}

// Skip is returned by Transform for a row that is deliberately not written.
type Skip struct {
	Code sink.SkipCode
}

func (s *Skip) Error() string { return "skipped: " + string(s.Code) }

// SkipReason returns the skip's code when err wraps a Skip, and the error's
// text as the detail for people.
func SkipReason(err error) (code sink.SkipCode, detail string, ok bool) {
	var s *Skip
	if errors.As(err, &s) {
		return s.Code, err.Error(), true
	}
	return "", "", false
}
