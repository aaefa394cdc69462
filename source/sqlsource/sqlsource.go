// Package sqlsource reads rows from any database/sql driver and normalises
// their values into the types of package source.
//
// Each column gets a Converter chosen from the type name the driver reports
// (ColumnType.DatabaseTypeName): DECIMAL/NUMERIC become source.Decimal, DATE
// becomes source.Date, and so on. A driver whose values need other handling
// plugs in a Normalizer.
package sqlsource

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/retl-go/retl/source"
)

// DefaultBatchSize is how many rows a batch holds unless WithBatchSize says
// otherwise.
const DefaultBatchSize = 10_000

// Converter turns one value of a column, as database/sql scanned it into an
// `any` (so []byte is already a copy), into a source value.
type Converter func(v any) (any, error)

// Normalizer chooses the Converter of a column. Returning nil leaves the
// column to DefaultConverter.
type Normalizer func(col *sql.ColumnType) Converter

// Option configures a Source.
type Option func(*options)

type options struct {
	batchSize  int
	args       []any
	normalizer Normalizer
}

// WithBatchSize sets how many rows each batch holds. Values below 1 keep the
// default.
func WithBatchSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.batchSize = n
		}
	}
}

// WithArgs sets the query's bound arguments.
func WithArgs(args ...any) Option {
	return func(o *options) { o.args = args }
}

// WithNormalizer sets a driver-specific Normalizer, consulted for each column
// before the default.
func WithNormalizer(n Normalizer) Option {
	return func(o *options) { o.normalizer = n }
}

// Source reads one query's rows through database/sql.
type Source struct {
	// open returns the database on first Read; owned says whether Close
	// closes it.
	open  func() (*sql.DB, error)
	owned bool
	query string
	opts  options

	db *sql.DB
}

// New returns a source that runs query on db. The caller keeps ownership of
// db: Close does not close it.
func New(db *sql.DB, query string, opts ...Option) source.Source {
	return newSource(func() (*sql.DB, error) { return db, nil }, false, query, opts)
}

func newSource(open func() (*sql.DB, error), owned bool, query string, opts []Option) *Source {
	o := options{batchSize: DefaultBatchSize}
	for _, opt := range opts {
		opt(&o)
	}
	return &Source{open: open, owned: owned, query: query, opts: o}
}

// Read runs the query and emits its rows in batches.
func (s *Source) Read(ctx context.Context, emit func(source.Batch) error) error {
	if s.db == nil {
		db, err := s.open()
		if err != nil {
			return err
		}
		s.db = db
	}
	rows, err := s.db.QueryContext(ctx, s.query, s.opts.args...)
	if err != nil {
		return fail(ctx, "query", err)
	}
	defer rows.Close()

	cols, err := rows.ColumnTypes()
	if err != nil {
		return fail(ctx, "column types", err)
	}
	names := make([]string, len(cols))
	convs := make([]Converter, len(cols))
	for i, c := range cols {
		names[i] = c.Name()
		if s.opts.normalizer != nil {
			convs[i] = s.opts.normalizer(c)
		}
		if convs[i] == nil {
			convs[i] = DefaultConverter(c)
		}
	}

	// One scan target reused for every row; values are converted into a
	// fresh row slice, so emitted batches never alias it.
	raw := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	batch := make([][]any, 0, s.opts.batchSize)
	n := 0 // rows read, to name the row a failed scan stopped at
	for rows.Next() {
		n++
		// database/sql closes the rows once ctx is done, but only from
		// another goroutine; checking at each batch start stops promptly.
		if len(batch) == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fail(ctx, fmt.Sprintf("scanning row %d", n), err)
		}
		row := make([]any, len(cols))
		for i, v := range raw {
			if v == nil {
				continue
			}
			cv, err := convs[i](v)
			if err != nil {
				// One bad value fails its row, not the read.
				cv = &source.ValueError{Column: names[i], Type: cols[i].DatabaseTypeName(), Raw: rawText(v), Err: err}
			}
			row[i] = cv
		}
		batch = append(batch, row)
		if len(batch) == s.opts.batchSize {
			if err := emit(source.Batch{Columns: slices.Clone(names), Rows: batch}); err != nil {
				return err
			}
			batch = make([][]any, 0, s.opts.batchSize)
		}
	}
	if err := rows.Err(); err != nil {
		// The driver failed reading a row: the read cannot go past it.
		return fail(ctx, fmt.Sprintf("reading row %d", n+1), err)
	}
	if len(batch) > 0 {
		return emit(source.Batch{Columns: slices.Clone(names), Rows: batch})
	}
	return nil
}

// rawText is a value the driver returned, as text for a report.
func rawText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// fail reports a database error, or the cancellation behind it: when ctx
// is done, database/sql closes the rows and the driver's error only echoes
// that, so callers get ctx.Err() to tell a cancelled read from a failed one.
func fail(ctx context.Context, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return fmt.Errorf("sql source: %s: %w", what, err)
}

// Close closes the database if the source opened it.
func (s *Source) Close() error {
	if s.owned && s.db != nil {
		db := s.db
		s.db = nil
		return db.Close()
	}
	return nil
}
