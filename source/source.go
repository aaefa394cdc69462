// Package source defines how retl reads rows: the Source interface, the
// Batch it emits and the value types rows carry.
package source

import (
	"context"
	"fmt"
)

// Batch is a slice of rows with their column names. Columns are as the
// source returns them (Snowflake upper-cases unquoted identifiers).
//
// Each value is one of: nil (SQL NULL), string, int64, *big.Int (integers
// wider than int64), Decimal, float64, bool, time.Time (timestamps; their
// Location is the zone, UTC for zone-less timestamps), Date, TimeOfDay, JSON
// or []byte; or *ValueError for a value the source could not read, which
// fails its row (and only its row) where the sync uses that column.
type Batch struct {
	Columns []string
	Rows    [][]any
}

// Source streams rows in batches.
type Source interface {
	// Read calls emit with batches of rows until the rows are exhausted, ctx
	// is cancelled, emit returns an error (which Read then returns) or the
	// source fails. A batch passed to emit belongs to the callee: the source
	// does not touch it again.
	Read(ctx context.Context, emit func(Batch) error) error
	// Close releases the source's connections.
	Close() error
}

// ValueError stands in a row for a value the source read but could not
// convert to the column's type, such as text that is not a date in a
// DATE column of SQLite, which does not enforce declared types. The row
// fails with it instead of the whole read.
type ValueError struct {
	Column string // the column's name
	Type   string // the column's database type
	Raw    string // the value as the database returned it, as text
	Err    error
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("column %s (%s): %v", e.Column, e.Type, e.Err)
}

func (e *ValueError) Unwrap() error { return e.Err }

// Decimal is an exact decimal number in canonical text form, such as
// "-12.50". It never passes through float64.
type Decimal string

// Date is a calendar date without a zone, as yyyy-mm-dd.
type Date string

// TimeOfDay is a wall-clock time without a date or zone, as hh:mm:ss[.fffffffff].
type TimeOfDay string

// JSON is semi-structured data (Snowflake VARIANT, OBJECT, ARRAY) as JSON text.
type JSON string
