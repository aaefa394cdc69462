// Package memory is an in-memory source.Source, for tests and for embedding
// code that already holds its rows.
package memory

import (
	"context"
	"time"

	"github.com/retl-go/retl/source"
)

// Source emits fixed rows in batches.
type Source struct {
	Columns   []string
	Rows      [][]any
	BatchSize int
	// FailAfter, when > 0, makes Read fail with Err after that many rows.
	FailAfter int
	Err       error
	// Delay is slept before each batch, to let tests cancel mid-stream.
	Delay  time.Duration
	closed bool
}

// New returns a source of the given rows.
func New(columns []string, rows [][]any) *Source {
	return &Source{Columns: columns, Rows: rows}
}

// Read emits the rows in batches of BatchSize (default 1000).
func (s *Source) Read(ctx context.Context, emit func(source.Batch) error) error {
	size := s.BatchSize
	if size <= 0 {
		size = 1000
	}
	for start := 0; start < len(s.Rows); start += size {
		if s.Delay > 0 {
			t := time.NewTimer(s.Delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(start+size, len(s.Rows))
		if s.FailAfter > 0 && end > s.FailAfter {
			end = s.FailAfter
		}
		if end > start {
			rows := make([][]any, end-start)
			copy(rows, s.Rows[start:end])
			if err := emit(source.Batch{Columns: s.Columns, Rows: rows}); err != nil {
				return err
			}
		}
		if s.FailAfter > 0 && end >= s.FailAfter {
			return s.Err
		}
	}
	return nil
}

// Close marks the source closed.
func (s *Source) Close() error { s.closed = true; return nil }

// Closed reports whether Close was called.
func (s *Source) Closed() bool { return s.closed }
