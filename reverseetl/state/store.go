// Package state keeps retl's record in the user's own warehouse: a run log,
// the outcome of every row, and the state change detection compares
// against, so that a sync sends only the rows that changed.
//
// One Store, over database/sql, serves every database through a small
// Dialect: Snowflake (tables in a schema, MERGE, FLATTEN) and SQLite
// (tables prefixed with the schema name, INSERT ... ON CONFLICT,
// json_each). The tables are created on first use, with their layout
// version in SCHEMA_VERSION so a later release can migrate them (on
// Snowflake, with the stage RETL_LOAD that rows are loaded through, see
// load.go):
//
//	RUNS            one row per sync of a run: times, status, counts, API, Bulk job ids, error, fields kept as edited
//	RECORD_RESULTS  one row per input row: key, outcome, Salesforce id and error, values sent
//	STATE           per sync and record key: the hash last accepted, the Salesforce id
//	LEASES          per sync being run: the run holding it, its host, until when
//	STATE_LOAD      (Snowflake) state rows loaded from a file, until merged into STATE
//	FIELD_STATE     per sync and record key: tokens of the values last written to tracked fields (keep_human_edits)
//	FIELD_STATE_LOAD (Snowflake) FIELD_STATE rows loaded from a file, until merged
//	PRIOR_VALUES    per run, sync, record and field: the value an update changed, for undo (keep_prior_values)
//	SCHEMA_VERSION  the layout version of these tables
//
// A Store is a reverseetl.StateStore (give it to the Engine with
// reverseetl.WithState) and, on Snowflake, a reverseetl.StatePushdown:
// when a sync's source reads the same connection, the comparison runs in
// the warehouse. Store.Writeback returns the reverseetl.Observer that
// writes the run log and the row outcomes while syncs run.
package state

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/retl-go/retl/reverseetl"
)

// LayoutVersion is the version of the tables this release writes. Version
// 2 added RUNS.ROWS_ALTERED and RUNS.FIELDS_KEPT_EDITED, RECORD_RESULTS'
// ALTERED, REASON_DETAIL and KEPT_EDITED, and FIELD_STATE; tables at
// version 1 are migrated (migrate.go).
const LayoutVersion = 2

// DefaultSchema is where the tables live unless configured otherwise.
const DefaultSchema = "RETL"

// Results say which row outcomes go to RECORD_RESULTS.
const (
	ResultsAll    = "all"
	ResultsFailed = "failed"
	ResultsNone   = "none"
)

var (
	versionCols = []Column{{"VERSION", Int}, {"APPLIED_AT", Time}}
	runCols     = []Column{
		{"RUN_ID", Text}, {"SYNC", Text}, {"STARTED_AT", Time}, {"ENDED_AT", Time}, {"STATUS", Text},
		{"ROWS_READ", Int}, {"ROWS_CREATED", Int}, {"ROWS_UPDATED", Int}, {"ROWS_UNCHANGED", Int},
		{"ROWS_UNCHANGED_NOT_READ", Int}, {"ROWS_FAILED", Int}, {"ROWS_SKIPPED", Int}, {"FIELDS_KEPT_BACK", Int},
		{"API", Text}, {"BULK_JOB_IDS", Text}, {"ERROR", Text}, {"WARNINGS", Text},
		// Last: layout 1 tables gain them at their end (migrate.go), and
		// loads fill columns by position.
		{"ROWS_ALTERED", Int}, {"FIELDS_KEPT_EDITED", Int},
	}
	runKey     = []string{"RUN_ID", "SYNC"}
	resultCols = []Column{
		{"RUN_ID", Text}, {"SYNC", Text}, {"SEQ", Int}, {"RECORD_KEY", Text}, {"OPERATION", Text},
		{"OUTCOME", Text}, {"SALESFORCE_ID", Text}, {"CREATED", Bool}, {"ERROR_CODE", Text},
		{"ERROR_MESSAGE", Text}, {"ERROR_FIELDS", Text}, {"REASON", Text}, {"KEPT_BACK", Text},
		{"VALUES_JSON", Text}, {"RECORDED_AT", Time},
		// Last: layout 1 tables gain them at their end (migrate.go), and
		// loads fill columns by position.
		{"ALTERED", Text}, {"REASON_DETAIL", Text}, {"KEPT_EDITED", Text},
	}
	stateCols = []Column{
		{"SYNC", Text}, {"RECORD_KEY", Text}, {"ROW_HASH", Text}, {"SALESFORCE_ID", Text},
		{"WRITTEN_AT", Time}, {"RUN_ID", Text},
	}
	stateKey = []string{"SYNC", "RECORD_KEY"}
)

// Options configure a Store.
type Options struct {
	// Schema holds the tables (DefaultSchema if empty). On Snowflake it may
	// name the database too (ANALYTICS.RETL); on SQLite it prefixes the
	// table names.
	Schema string
	// Results is all, failed or none (all if empty).
	Results string
	// RetentionDays, when above 0, deletes RUNS and RECORD_RESULTS rows
	// older than that when a run starts writing. STATE is kept.
	RetentionDays int
	// ExcludeFields are destination fields whose values never go to
	// RECORD_RESULTS, such as personal data (matched without case):
	// neither in VALUES_JSON nor inside ERROR_MESSAGE.
	ExcludeFields []string
	// Connection is the project connection the store lives in. A sync whose
	// source reads the same connection compares in the warehouse.
	Connection string
	// Now returns the time (time.Now if nil).
	Now func() time.Time
	// Redact takes secrets out of the warnings the store adds to reports.
	Redact func(string) string
}

// Store keeps retl's tables in one database.
type Store struct {
	db      *sql.DB
	owned   bool
	d       Dialect
	opts    Options
	schema  string
	exclude reverseetl.Exclusion
	now     func() time.Time

	tVersion, tRuns, tResults, tState, tLeases, tStateLoad string
	tFieldState, tFieldStateLoad                           string
	tPrior                                                 string

	counters counters
	// spools hold rows waiting to be loaded (Snowflake, see load.go).
	spools spools

	// readOnly: the store writes nothing (a plan); absent: it is read-only
	// and its tables do not exist, so the state is empty.
	readOnly bool
	absent   bool
	// fieldsAbsent: read-only, and FIELD_STATE does not exist (tables an
	// earlier release made); no field has tokens.
	fieldsAbsent bool
	// priorsAbsent: read-only, and PRIOR_VALUES does not exist.
	priorsAbsent bool

	mu       sync.Mutex
	ready    bool
	readyErr error
}

// ErrReadOnly is returned by a write to a read-only store (ReadOnly).
var ErrReadOnly = errors.New("state: the store is read-only")

// ReadOnly makes the store write nothing, as a plan needs: its tables are
// looked for, never created; when they do not exist the state is empty;
// every write returns ErrReadOnly. Call it before the store's first use.
func (s *Store) ReadOnly() *Store {
	s.readOnly = true
	return s
}

var _ reverseetl.StateStore = (*Store)(nil)
var _ reverseetl.StatePushdown = (*Store)(nil)
var _ reverseetl.StateGatherer = (*Store)(nil)

// New returns a store on db. It checks the options and touches nothing:
// the tables are made on first use. db stays the caller's to close.
func New(db *sql.DB, d Dialect, o Options) (*Store, error) {
	if db == nil || d == nil {
		return nil, errors.New("state: no database or dialect")
	}
	s := &Store{db: db, d: d, opts: o, schema: o.Schema, now: o.Now, exclude: reverseetl.NewExclusion(o.ExcludeFields...)}
	if s.schema == "" {
		s.schema = DefaultSchema
	}
	parts := strings.Split(s.schema, ".")
	if len(parts) > 2 || (len(parts) > 1 && d.CreateSchema("X") == "") {
		return nil, fmt.Errorf("state: schema %q: %s takes a schema name without dots", s.schema, d.Name())
	}
	for _, p := range parts {
		if !plainIdent.MatchString(p) {
			return nil, fmt.Errorf("state: schema %q: use letters, digits and _ only", s.schema)
		}
	}
	switch s.opts.Results {
	case "":
		s.opts.Results = ResultsAll
	case ResultsAll, ResultsFailed, ResultsNone:
	default:
		return nil, fmt.Errorf("state: results must be all, failed or none, not %q", s.opts.Results)
	}
	if s.opts.RetentionDays < 0 {
		return nil, fmt.Errorf("state: retention_days must not be negative")
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.opts.Redact == nil {
		s.opts.Redact = func(m string) string { return m }
	}
	s.tVersion = d.Table(s.schema, "SCHEMA_VERSION")
	s.tRuns = d.Table(s.schema, "RUNS")
	s.tResults = d.Table(s.schema, "RECORD_RESULTS")
	s.tState = d.Table(s.schema, "STATE")
	s.tLeases = d.Table(s.schema, "LEASES")
	s.tStateLoad = d.Table(s.schema, stateLoadName)
	s.tFieldState = d.Table(s.schema, fieldStateName)
	s.tFieldStateLoad = d.Table(s.schema, fieldStateLoadName)
	s.tPrior = d.Table(s.schema, priorValuesName)
	return s, nil
}

// Close closes the database when the store opened it (Open).
func (s *Store) Close() error {
	if s.owned {
		return s.db.Close()
	}
	return nil
}

// Tables returns the SQL names of the tables: runs, record results, state
// and schema version.
func (s *Store) Tables() (runs, results, state, version string) {
	return s.tRuns, s.tResults, s.tState, s.tVersion
}

// DB returns the database the store writes to.
func (s *Store) DB() *sql.DB { return s.db }

// Prepare makes the tables now rather than on first use. On SQLite this
// also switches the file to WAL before any source reads it, so that
// reading and writing the same file never wait on each other.
func (s *Store) Prepare(ctx context.Context) error { return s.ensure(ctx) }

func (s *Store) stamp() string { return s.now().UTC().Format(timeLayout) }

// ensure makes the tables once. A failure is kept for the rest of the run,
// so that an unreachable warehouse costs one attempt rather than one per
// chunk of rows; a cancelled attempt is not kept.
func (s *Store) ensure(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		return nil
	}
	if s.readyErr != nil {
		return s.readyErr
	}
	prepare := s.create
	if s.readOnly {
		prepare = s.inspect
	}
	if err := prepare(ctx); err != nil {
		err = fmt.Errorf("state tables in %s: %w", s.schema, err)
		if ctx.Err() == nil {
			s.readyErr = err
		}
		return err
	}
	s.ready = true
	return nil
}

func (s *Store) create(ctx context.Context) error {
	if s.present(ctx) {
		return nil
	}
	if stmt := s.d.CreateSchema(s.schema); stmt != "" {
		if _, err := s.exec(ctx, stmt); err != nil {
			return err
		}
	}
	if _, err := s.exec(ctx, s.createTable(s.tVersion, versionCols, nil)); err != nil {
		return err
	}
	v, err := s.version(ctx)
	if err != nil {
		return err
	}
	if v.Valid && v.Int64 < LayoutVersion {
		if err := s.migrate(ctx, v.Int64); err != nil {
			return err
		}
	}
	for _, t := range []struct {
		name string
		cols []Column
		key  []string
	}{{s.tRuns, runCols, runKey}, {s.tResults, resultCols, nil}, {s.tState, stateCols, stateKey}, {s.tLeases, leaseCols, leaseKey},
		{s.tFieldState, fieldStateCols, stateKey}, {s.tPrior, priorCols, nil}} {
		if _, err := s.exec(ctx, s.createTable(t.name, t.cols, t.key)); err != nil {
			return err
		}
	}
	if s.loads() {
		// Where rows are loaded from files: the stage and the table the
		// state is loaded into before its MERGE.
		for _, stmt := range []string{"CREATE STAGE IF NOT EXISTS " + s.d.Table(s.schema, stageName),
			s.createTable(s.tStateLoad, stateLoadCols, nil), s.createTable(s.tFieldStateLoad, fieldStateLoadCols, nil)} {
			if _, err := s.exec(ctx, stmt); err != nil {
				return err
			}
		}
	}
	if v.Valid && v.Int64 == LayoutVersion {
		return nil
	}
	type version struct {
		Version   int    `json:"VERSION"`
		AppliedAt string `json:"APPLIED_AT"`
	}
	return s.insert(ctx, s.tVersion, versionCols, []any{version{LayoutVersion, s.stamp()}})
}

// present says whether every table exists at this release's layout
// version, asked in one statement that fails when a table is missing: a
// run then makes none of them, instead of one statement per table. Any
// failure means "make them", which reports what is wrong. The stage is
// not asked for: it is made just before STATE_LOAD, and the version row
// is written after both.
func (s *Store) present(ctx context.Context) bool {
	tables := []string{s.tRuns, s.tResults, s.tState, s.tLeases, s.tFieldState, s.tPrior}
	if s.loads() {
		tables = append(tables, s.tStateLoad, s.tFieldStateLoad)
	}
	q := "SELECT MAX(VERSION) FROM " + s.tVersion
	sep := " WHERE "
	for _, t := range tables {
		q += sep + "NOT EXISTS (SELECT 1 FROM " + t + " WHERE 1 = 0)"
		sep = " AND "
	}
	var v sql.NullInt64
	if err := s.queryRow(ctx, q).Scan(&v); err != nil {
		return false
	}
	return v.Valid && v.Int64 == LayoutVersion
}

// version reads the layout version of the tables and refuses one this
// release cannot use.
func (s *Store) version(ctx context.Context) (sql.NullInt64, error) {
	var v sql.NullInt64
	if err := s.queryRow(ctx, "SELECT MAX(VERSION) FROM "+s.tVersion).Scan(&v); err != nil {
		return v, err
	}
	if v.Int64 > LayoutVersion {
		return v, fmt.Errorf("the tables are at layout version %d, newer than this release of retl knows (%d): upgrade retl", v.Int64, LayoutVersion)
	}
	if v.Valid && v.Int64 < minMigratable {
		// create migrates the layouts from minMigratable on, then
		// records its version.
		return v, fmt.Errorf("the tables are at layout version %d, which this release of retl cannot migrate", v.Int64)
	}
	return v, nil
}

// inspect is ensure for a read-only store: it finds whether the tables
// exist, and checks their layout version when they do.
func (s *Store) inspect(ctx context.Context) error {
	for _, name := range []string{"SCHEMA_VERSION", "STATE"} {
		q, args := s.d.TableExists(s.schema, name)
		var n int
		if err := s.queryRow(ctx, q, args...).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			s.absent = true
			return nil
		}
	}
	for _, t := range []struct {
		name   string
		absent *bool
	}{{fieldStateName, &s.fieldsAbsent}, {priorValuesName, &s.priorsAbsent}} {
		q, args := s.d.TableExists(s.schema, t.name)
		var n int
		if err := s.queryRow(ctx, q, args...).Scan(&n); err != nil {
			return err
		}
		*t.absent = n == 0
	}
	_, err := s.version(ctx)
	return err
}

func (s *Store) createTable(name string, cols []Column, key []string) string {
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = c.Name + " " + s.d.Type(c.Kind)
		if contains(key, c.Name) {
			defs[i] += " NOT NULL"
		}
	}
	if len(key) > 0 {
		defs = append(defs, "PRIMARY KEY ("+strings.Join(key, ", ")+")")
	}
	return "CREATE TABLE IF NOT EXISTS " + name + " (" + strings.Join(defs, ", ") + ")"
}

// Statements carry at most this much JSON, or this many rows.
var (
	maxStatementBytes = 8 << 20
	maxStatementRows  = 10_000
)

// chunks encodes rows as JSON arrays of at most maxStatementBytes (a row
// larger than that goes alone) and maxStatementRows, calling do with each.
func chunks(rows []any, do func(array string) error) error {
	var buf bytes.Buffer
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		buf.WriteByte(']')
		err := do(buf.String())
		buf.Reset()
		n = 0
		return err
	}
	for _, r := range rows {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if n > 0 && (buf.Len()+len(b)+2 > maxStatementBytes || n == maxStatementRows) {
			if err := flush(); err != nil {
				return err
			}
		}
		if n == 0 {
			buf.WriteByte('[')
		} else {
			buf.WriteByte(',')
		}
		buf.Write(b)
		n++
	}
	return flush()
}

func (s *Store) insert(ctx context.Context, table string, cols []Column, rows []any) error {
	if s.readOnly {
		return ErrReadOnly
	}
	stmt := "INSERT INTO " + table + " (" + columnList(cols, "") + ") " + s.d.FromJSON(cols, s.d.Placeholder(1))
	return chunks(rows, func(array string) error {
		_, err := s.exec(ctx, stmt, array)
		return err
	})
}

func (s *Store) upsert(ctx context.Context, table string, cols []Column, key, keep []string, rows []any) error {
	if s.readOnly {
		return ErrReadOnly
	}
	stmt := s.d.Upsert(table, cols, key, keep, s.d.FromJSON(cols, s.d.Placeholder(1)))
	return chunks(rows, func(array string) error {
		_, err := s.exec(ctx, stmt, array)
		return err
	})
}

// lookupKeys is how many keys one state look-up asks for.
const lookupKeys = 500

// StoredHashes implements reverseetl.StateStore with IN look-ups of up to
// 500 keys.
func (s *Store) StoredHashes(ctx context.Context, syncName string, keys []string) (map[string]string, error) {
	if err := s.ensure(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(keys))
	if s.absent {
		return out, nil
	}
	err := s.keyLists(syncName, keys, func(where string, args []any) error {
		return s.scanHashes(ctx, "SELECT RECORD_KEY, ROW_HASH FROM "+s.tState+" WHERE "+where, args, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// keyLists calls do with a condition on a sync and up to lookupKeys of
// keys, and its arguments, until every key was given.
func (s *Store) keyLists(syncName string, keys []string, do func(where string, args []any) error) error {
	for start := 0; start < len(keys); start += lookupKeys {
		part := keys[start:min(start+lookupKeys, len(keys))]
		ph := make([]string, len(part))
		args := make([]any, 0, len(part)+1)
		args = append(args, syncName)
		for i, k := range part {
			ph[i] = s.d.Placeholder(i + 2)
			args = append(args, k)
		}
		if err := do("SYNC = "+s.d.Placeholder(1)+" AND RECORD_KEY IN ("+strings.Join(ph, ", ")+")", args); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) scanHashes(ctx context.Context, q string, args []any, out map[string]string) error {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var h sql.NullString
		if err := rows.Scan(&k, &h); err != nil {
			return err
		}
		out[k] = h.String
	}
	return rows.Err()
}

type stateRow struct {
	Sync      string `json:"SYNC"`
	Key       string `json:"RECORD_KEY"`
	Hash      string `json:"ROW_HASH"`
	ID        string `json:"SALESFORCE_ID,omitempty"`
	WrittenAt string `json:"WRITTEN_AT"`
	RunID     string `json:"RUN_ID"`
}

// SaveState implements reverseetl.StateStore. A key given twice keeps its
// last row. A row without a Salesforce id keeps the one stored.
func (s *Store) SaveState(ctx context.Context, runID, syncName string, rows []reverseetl.StateRow) error {
	if err := s.ensure(ctx); err != nil {
		return err
	}
	at := s.stamp()
	last := make(map[string]int, len(rows))
	for i, r := range rows {
		last[r.Key] = i
	}
	if s.loads() {
		if s.readOnly {
			return ErrReadOnly
		}
		// One file of its own, loaded now; a key given twice is settled
		// by the MERGE, which keeps the last.
		p, err := newSpool()
		if err != nil {
			return err
		}
		for _, r := range rows {
			p.writeState(syncName, r.Key, r.Hash, r.ID, at, runID)
			if err := p.end(); err != nil {
				p.remove()
				return fmt.Errorf("load file: %w", err)
			}
		}
		if err := s.loadState(ctx, p); err != nil {
			return err
		}
		return s.saveFields(ctx, runID, syncName, at, rows)
	}
	out := make([]any, 0, len(last))
	for i, r := range rows {
		if last[r.Key] == i {
			out = append(out, stateRow{Sync: syncName, Key: r.Key, Hash: r.Hash, ID: r.ID, WrittenAt: at, RunID: runID})
		}
	}
	if err := s.upsert(ctx, s.tState, stateCols, stateKey, []string{"SALESFORCE_ID"}, out); err != nil {
		return err
	}
	return s.saveFields(ctx, runID, syncName, at, rows)
}

// WrapQuery implements reverseetl.StatePushdown: when the source reads the
// store's own connection and the dialect can hash a row, the query is
// wrapped so that the warehouse hashes each source row (with the sync's
// fingerprint), joins the state and returns only rows whose hash differs.
func (s *Store) WrapQuery(ctx context.Context, q reverseetl.ChangeQuery) (string, bool, error) {
	if s.opts.Connection == "" || q.Connection != s.opts.Connection {
		return "", false, nil
	}
	hash, ok := s.d.RowHash(q.Fingerprint)
	if !ok {
		return "", false, nil
	}
	if err := s.ensure(ctx); err != nil {
		return "", false, err
	}
	if s.absent {
		// No state to join: retl compares, against nothing.
		return "", false, nil
	}
	query := trimStatementEnd(q.Query)
	key := s.d.CastText("q." + s.d.Ident(q.KeyColumn))
	h := reverseetl.HashColumn
	// The query goes in on its own lines, so that a trailing comment
	// cannot swallow the closing parenthesis.
	w := "WITH __RETL_Q AS (\n" + query + "\n), __RETL_H AS (SELECT q.*, " + hash + " AS " + h + ", " + key + " AS " +
		reverseetl.KeyColumn + " FROM __RETL_Q q)"
	if q.Full {
		return w + " SELECT h.*, 0 AS " + reverseetl.UnchangedColumn + " FROM __RETL_H h", true, nil
	}
	w += ", __RETL_J AS (SELECT h.*, s.ROW_HASH AS __RETL_OLD FROM __RETL_H h LEFT JOIN " + s.tState +
		" s ON s.SYNC = " + s.d.Literal(q.Sync) + " AND s.RECORD_KEY = h." + reverseetl.KeyColumn + ")" +
		// One count row joined to the changed rows: every row carries the
		// count, and when none changed the count still arrives alone.
		" SELECT c.*, n.N AS " + reverseetl.UnchangedColumn +
		" FROM (SELECT COUNT(*) AS N FROM __RETL_J WHERE __RETL_OLD = " + h + ") n" +
		" LEFT JOIN (SELECT * FROM __RETL_J WHERE __RETL_OLD IS NULL OR __RETL_OLD <> " + h + ") c ON TRUE"
	return w, true, nil
}

// trimStatementEnd drops a final semicolon, and the blanks and comments
// around it, which cannot stand inside the parentheses of a WITH. Quoted
// text, quoted names, $$ strings and comments are skipped while looking.
func trimStatementEnd(q string) string {
	semi := -1 // the first ';' after the last code
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(q) {
				if q[j] == '\\' && c == '\'' {
					j += 2
					continue
				}
				if q[j] == c {
					if j+1 < len(q) && q[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			i = min(j+1, len(q))
			semi = -1
		case strings.HasPrefix(q[i:], "$$"):
			j := strings.Index(q[i+2:], "$$")
			if j < 0 {
				i = len(q)
			} else {
				i += j + 4
			}
			semi = -1
		case strings.HasPrefix(q[i:], "--") || strings.HasPrefix(q[i:], "//"):
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = len(q) - i
			}
			i += j
		case strings.HasPrefix(q[i:], "/*"):
			j := strings.Index(q[i+2:], "*/")
			if j < 0 {
				i = len(q)
			} else {
				i += j + 4
			}
		case c == ';':
			if semi < 0 {
				semi = i
			}
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		default:
			i++
			semi = -1
		}
	}
	if semi >= 0 {
		return strings.TrimSpace(q[:semi])
	}
	return strings.TrimSpace(q)
}
