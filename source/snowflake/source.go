// Package snowflake reads rows from Snowflake through gosnowflake and sends
// alert emails with SYSTEM$SEND_EMAIL.
//
// Results are read as Arrow batches where the server sends Arrow (Snowflake
// does for Go clients) and by row scanning where it sends JSON. Either way
// values become the types of package source exactly: NUMBER never passes
// through float64, TIMESTAMP_TZ keeps its offset. Memory holds one result
// chunk and one batch, whatever the size of the result.
package snowflake

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	sf "github.com/snowflakedb/gosnowflake"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/source"
)

// DefaultBatchSize is how many rows a batch holds unless WithBatchSize says
// otherwise.
const DefaultBatchSize = 10_000

// Option configures a Source or OpenDB.
type Option func(*options)

type options struct {
	batchSize int
	queryTag  string
	syncName  string
	transport http.RoundTripper
	logger    *slog.Logger
	redactor  *config.Redactor
	openDB    func() (*sql.DB, bool, error)
}

// WithBatchSize sets how many rows each batch holds (values below 1 keep
// the default).
func WithBatchSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.batchSize = n
		}
	}
}

// WithQueryTag sets the query tag, overriding Settings.QueryTag.
func WithQueryTag(tag string) Option { return func(o *options) { o.queryTag = tag } }

// WithSyncName names the sync in errors.
func WithSyncName(name string) Option { return func(o *options) { o.syncName = name } }

// WithTransport sets the HTTP transport the driver uses, for proxies and
// tests that watch the requests.
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.transport = rt } }

// WithLogger sets the logger for the source's own messages.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRedactor adds a project's secrets to those taken out of errors.
func WithRedactor(r *config.Redactor) Option { return func(o *options) { o.redactor = r } }

// withDB makes the source get its database from open, which also says
// whether the source owns (and so closes) it.
func withDB(open func() (*sql.DB, bool, error)) Option {
	return func(o *options) { o.openDB = open }
}

// Source reads one query's rows from Snowflake.
type Source struct {
	settings Settings
	query    string
	opts     options
	redactor *config.Redactor
	log      *slog.Logger

	mu    sync.Mutex
	db    *sql.DB
	owned bool
}

// New returns a source that runs query with the given connection settings.
// It validates the settings but opens nothing: the connection is made on
// the first Read.
func New(settings Settings, query string, opts ...Option) (*Source, error) {
	o := options{batchSize: DefaultBatchSize}
	for _, opt := range opts {
		opt(&o)
	}
	red := &config.Redactor{}
	red.Add(settings.secrets()...)
	if o.redactor != nil {
		o.redactor.Add(settings.secrets()...)
	}
	s := &Source{settings: settings, query: query, opts: o, redactor: red, log: o.logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := settings.Validate(); err != nil {
		return nil, s.wrap("settings", err)
	}
	if query == "" {
		return nil, s.wrap("settings", errors.New("no query"))
	}
	if o.queryTag == "" {
		s.opts.queryTag = settings.QueryTag
	}
	if len(s.opts.queryTag) > maxQueryTag {
		return nil, s.wrap("settings", bad("query_tag", "is longer than Snowflake's %d characters", maxQueryTag))
	}
	return s, nil
}

// OpenDB returns a database/sql handle for the settings. Like sql.OpenDB it
// does not connect until first used.
func OpenDB(settings Settings, opts ...Option) (*sql.DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := settings.driverConfig()
	if err != nil {
		red := &config.Redactor{}
		red.Add(settings.secrets()...)
		return nil, &sourceError{msg: red.Redact("snowflake: " + err.Error()), err: err}
	}
	cfg.Transporter = o.transport
	return sql.OpenDB(sf.NewConnector(sf.SnowflakeDriver{}, *cfg)), nil
}

// sourceError carries a message with secrets taken out, while errors.As
// still finds the cause (such as *gosnowflake.SnowflakeError).
type sourceError struct {
	msg string
	err error
}

func (e *sourceError) Error() string { return e.msg }
func (e *sourceError) Unwrap() error { return e.err }

// wrap names the sync and the step, keeping Snowflake's own text and code.
func (s *Source) wrap(step string, err error) error {
	prefix := "snowflake " + step
	if s.opts.syncName != "" {
		prefix = "sync " + s.opts.syncName + ": " + prefix
	}
	// Only the cause is redacted: a short secret such as "snow" must not
	// mangle the prefix.
	text := s.redactor.Redact(err.Error())
	if s.opts.redactor != nil {
		text = s.opts.redactor.Redact(text)
	}
	return &sourceError{msg: prefix + ": " + text, err: err}
}

func (s *Source) database() (*sql.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db != nil {
		return s.db, nil
	}
	open := s.opts.openDB
	if open == nil {
		open = func() (*sql.DB, bool, error) {
			db, err := OpenDB(s.settings, WithTransport(s.opts.transport))
			return db, true, err
		}
	}
	db, owned, err := open()
	if err != nil {
		return nil, err
	}
	s.db, s.owned = db, owned
	return db, nil
}

// emitError marks an error returned by emit, which Read returns unchanged.
type emitError struct{ err error }

func (e *emitError) Error() string { return e.err.Error() }

// Read runs the query and emits its rows in batches.
func (s *Source) Read(ctx context.Context, emit func(source.Batch) error) error {
	db, err := s.database()
	if err != nil {
		return s.wrap("open", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return s.readError(ctx, "connect", err)
	}
	defer conn.Close()

	// The tag goes with each query: fakesnow has no ALTER SESSION SET
	// QUERY_TAG, and a pooled session may serve other syncs.
	qctx := sf.WithQueryTag(ctx, s.opts.queryTag)
	// Raw decimals and Snowflake's own timestamp structs, so that values
	// are converted exactly here rather than through float64 or UTC.
	qctx = sf.WithArrowBatches(sf.WithHigherPrecision(sf.WithArrowBatchesTimestampOption(qctx, sf.UseOriginalTimestamp)))

	err = conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot run queries", dc)
		}
		rows, err := q.QueryContext(qctx, s.query, nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		s.log.DebugContext(ctx, "snowflake query started", "sync", s.opts.syncName, "query_tag", s.opts.queryTag)
		return s.stream(ctx, rows, emit)
	})
	if err != nil {
		var ee *emitError
		if errors.As(err, &ee) {
			return ee.err
		}
		return s.readError(ctx, "query", err)
	}
	return nil
}

// readError reports the cancellation itself when ctx is done, since the
// driver's error then only echoes it.
func (s *Source) readError(ctx context.Context, step string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return s.wrap(step, err)
}

// stream reads rows as Arrow batches, or by scanning when the server sent
// JSON.
func (s *Source) stream(ctx context.Context, rows driver.Rows, emit func(source.Batch) error) error {
	cols := describe(rows)
	out := &batcher{size: s.opts.batchSize, emit: emit}
	for _, c := range cols {
		out.names = append(out.names, c.name)
	}
	if sr, ok := rows.(sf.SnowflakeRows); ok {
		batches, err := sr.GetArrowBatches()
		var se *sf.SnowflakeError
		switch {
		case err == nil:
			return s.streamArrow(ctx, batches, cols, out)
		case errors.As(err, &se) && se.Number == sf.ErrNonArrowResponseInArrowBatches:
			// JSON results: scan them row by row below.
		default:
			return err
		}
	}
	return s.streamRows(ctx, rows, cols, out)
}

// batcher gathers rows into batches of size and emits them.
type batcher struct {
	size  int
	names []string
	rows  [][]any
	emit  func(source.Batch) error
}

func (b *batcher) add(row []any) error {
	if b.rows == nil {
		b.rows = make([][]any, 0, b.size)
	}
	b.rows = append(b.rows, row)
	if len(b.rows) >= b.size {
		return b.flush()
	}
	return nil
}

func (b *batcher) flush() error {
	if len(b.rows) == 0 {
		return nil
	}
	batch := source.Batch{Columns: slices.Clone(b.names), Rows: b.rows}
	b.rows = nil
	if err := b.emit(batch); err != nil {
		return &emitError{err: err}
	}
	return nil
}

// chunk is one Arrow batch of a result, as the driver fetches it.
type chunk interface {
	Fetch(ctx context.Context) ([]arrow.Record, error)
	// Location is the session time zone, for TIMESTAMP_LTZ column idx.
	Location(rec arrow.Record, idx int) *time.Location
}

type driverChunk struct{ ab *sf.ArrowBatch }

func (c driverChunk) Fetch(ctx context.Context) ([]arrow.Record, error) {
	recs, err := c.ab.WithContext(ctx).Fetch()
	if err != nil {
		return nil, err
	}
	return *recs, nil
}

func (c driverChunk) Location(rec arrow.Record, idx int) *time.Location {
	return sessionLocation(c.ab, rec, idx)
}

func (s *Source) streamArrow(ctx context.Context, batches []*sf.ArrowBatch, cols []column, out *batcher) error {
	chunks := make([]chunk, len(batches))
	for i, ab := range batches {
		chunks[i] = driverChunk{ab}
	}
	return streamChunks(ctx, chunks, cols, out)
}

func streamChunks(ctx context.Context, chunks []chunk, cols []column, out *batcher) error {
	for i, ch := range chunks {
		if err := ctx.Err(); err != nil {
			return err
		}
		recs, err := ch.Fetch(ctx)
		if err != nil {
			return err
		}
		err = convertRecords(ctx, ch, recs, cols, out)
		// The driver keeps each fetched chunk on its batch: release the
		// records so a long result does not pile up in memory.
		for _, r := range recs {
			r.Release()
		}
		chunks[i] = nil
		if err != nil {
			return err
		}
	}
	return out.flush()
}

func (s *Source) streamRows(ctx context.Context, rows driver.Rows, cols []column, out *batcher) error {
	dest := make([]driver.Value, len(cols))
	for {
		if len(out.rows) == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		err := rows.Next(dest)
		if errors.Is(err, io.EOF) {
			return out.flush()
		}
		if err != nil {
			return err
		}
		row := make([]any, len(cols))
		for i, v := range dest {
			if row[i], err = cols[i].fromDriver(v); err != nil {
				return cols[i].errorf(err)
			}
		}
		if err := out.add(row); err != nil {
			return err
		}
	}
}

// Close closes the connection pool if the source opened it.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil || !s.owned {
		return nil
	}
	db := s.db
	s.db = nil
	return db.Close()
}
