package state

import (
	"context"
	"database/sql"
	"sync/atomic"
	"time"
)

// Stats are what a store sent its database: statements (queries
// included) and bytes (statement text, bound text and uploaded files), and
// how long the statements took (until their answer; a query's rows may
// take longer to read).
type Stats struct {
	Statements int64
	Bytes      int64
	Busy       time.Duration
}

type counters struct {
	statements, bytes, busy atomic.Int64
}

// Stats returns what the store sent its database so far.
func (s *Store) Stats() Stats {
	return Stats{Statements: s.counters.statements.Load(), Bytes: s.counters.bytes.Load(), Busy: time.Duration(s.counters.busy.Load())}
}

// took adds the time since start to the store's busy time.
func (s *Store) took(start time.Time) { s.counters.busy.Add(int64(time.Since(start))) }

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
	defer s.took(time.Now())
	return s.db.ExecContext(ctx, q, args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	s.count(q, args)
	defer s.took(time.Now())
	return s.db.QueryContext(ctx, q, args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	s.count(q, args)
	defer s.took(time.Now())
	return s.db.QueryRowContext(ctx, q, args...)
}
