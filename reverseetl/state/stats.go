package state

import (
	"context"
	"database/sql"
	"sync/atomic"
)

// Stats are what a store sent its database: statements (queries
// included) and bytes (statement text, bound text and uploaded files).
type Stats struct {
	Statements int64
	Bytes      int64
}

type counters struct {
	statements, bytes atomic.Int64
}

// Stats returns what the store sent its database so far.
func (s *Store) Stats() Stats {
	return Stats{Statements: s.counters.statements.Load(), Bytes: s.counters.bytes.Load()}
}

func (s *Store) count(q string, args []any) {
	n := int64(len(q))
	for _, a := range args {
		if t, ok := a.(string); ok {
			n += int64(len(t))
		} else {
			n += 8
		}
	}
	s.counters.statements.Add(1)
	s.counters.bytes.Add(n)
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	s.count(q, args)
	return s.db.ExecContext(ctx, q, args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	s.count(q, args)
	return s.db.QueryContext(ctx, q, args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	s.count(q, args)
	return s.db.QueryRowContext(ctx, q, args...)
}
