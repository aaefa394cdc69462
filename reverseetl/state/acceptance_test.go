package state_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/internal/standin"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/state"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	"github.com/retl-go/retl/source/snowflake"
	"github.com/retl-go/retl/source/sqlsource"
)

func TestMain(m *testing.M) {
	snowflake.QuietDriverLogs()
	os.Exit(m.Run())
}

// warehouse is a database holding the source table PEOPLE and, through the
// project's writeback, retl's tables.
type warehouse struct {
	name     string
	db       *sql.DB // for the test's own statements
	dialect  state.Dialect
	conn     string // the project file's connections section
	pushdown bool
}

func sqliteWarehouse(t *testing.T) *warehouse {
	path := filepath.Join(t.TempDir(), "wh.db")
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(30000)"
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return &warehouse{name: "sqlite", db: db, dialect: state.SQLite,
		conn: fmt.Sprintf("  wh: {type: sql, driver: sqlite, dsn: %q}\n", dsn)}
}

func fakesnowWarehouse(t *testing.T) *warehouse {
	fs := standin.Fakesnow(t)
	setup, err := sql.Open("snowflake", fs.DSN("", ""))
	require.NoError(t, err)
	for _, q := range []string{"CREATE DATABASE D", "CREATE SCHEMA D.SRC"} {
		_, err := setup.Exec(q)
		require.NoError(t, err, q)
	}
	require.NoError(t, setup.Close())
	// Sessions need a current database: fakesnow defines FLATTEN's
	// helper per database.
	db, err := sql.Open("snowflake", fs.DSN("D", "SRC"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return &warehouse{name: "fakesnow", db: db, dialect: state.Snowflake, pushdown: true,
		conn: fmt.Sprintf("  wh: {type: snowflake, account: fakesnow, user: fake, password: snow-password, host: %s, port: %d, protocol: http, insecure_mode: true, database: D, schema: SRC}\n", fs.Host, fs.Port)}
}

// warehouses runs f against SQLite and fakesnow.
func warehouses(t *testing.T, f func(t *testing.T, w *warehouse)) {
	t.Run("sqlite", func(t *testing.T) { f(t, sqliteWarehouse(t)) })
	t.Run("fakesnow", func(t *testing.T) { f(t, fakesnowWarehouse(t)) })
}

var peopleCols = []state.Column{{Name: "ID", Kind: state.Int}, {Name: "NAME", Kind: state.Text}, {Name: "EMAIL", Kind: state.Text}}

// load creates PEOPLE with n rows: ID 1..n.
func (w *warehouse) load(t *testing.T, n int) {
	t.Helper()
	w.exec(t, "CREATE TABLE PEOPLE (ID "+w.dialect.Type(state.Int)+", NAME "+w.dialect.Type(state.Text)+", EMAIL "+w.dialect.Type(state.Text)+")")
	type person struct {
		ID    int    `json:"ID"`
		Name  string `json:"NAME"`
		Email string `json:"EMAIL"`
	}
	rows := make([]person, n)
	for i := range rows {
		rows[i] = person{i + 1, fmt.Sprintf("Person %d", i+1), fmt.Sprintf("p%d@example.com", i+1)}
	}
	b, err := json.Marshal(rows)
	require.NoError(t, err)
	w.exec(t, "INSERT INTO PEOPLE (ID, NAME, EMAIL) "+w.dialect.FromJSON(peopleCols, "?"), string(b))
}

func (w *warehouse) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	_, err := w.db.Exec(q, args...)
	require.NoError(t, err, q)
}

func (w *warehouse) int(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	var n sql.NullInt64
	require.NoError(t, w.db.QueryRow(q, args...).Scan(&n), q)
	return n.Int64
}

// keptSink is one in-memory Salesforce for every run of a test: it stays
// open, and counts what each run sends.
type keptSink struct {
	*memory.Sink
	sent atomic.Int64
	mu   sync.Mutex
	keys []string
}

func (k *keptSink) Write(ctx context.Context, recs []sink.Record) ([]sink.Result, error) {
	k.sent.Add(int64(len(recs)))
	k.mu.Lock()
	for _, r := range recs {
		k.keys = append(k.keys, r.Key)
	}
	k.mu.Unlock()
	return k.Sink.Write(ctx, recs)
}

func (k *keptSink) Close(context.Context) error { return nil }

// Plan answers that every record would be updated, writing nothing.
func (k *keptSink) Plan(_ context.Context, recs []sink.Record) ([]sink.Result, error) {
	return make([]sink.Result, len(recs)), nil
}

// take returns the keys sent since the last call, sorted.
func (k *keptSink) take() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	keys := k.keys
	k.keys = nil
	k.sent.Store(0)
	slices.Sort(keys)
	return keys
}

// project is a parsed project with its store, run by one Engine per run.
type project struct {
	w     *warehouse
	p     *config.Project
	store *state.Store
	sinks map[string]*keptSink
	reg   *reverseetl.Registry
	// sourceExtra adds keys to the syncs' source sections.
	sourceExtra string
}

const personSync = `name: %s
source: {type: %s, connection: wh, query: "select id, name, email from people"%s}
destination: {type: mem}
mapping:
  - {from: ID, to: Ext__c}
  - {from: NAME, to: %s}
  - {from: EMAIL, to: Email}
key: ID
change_detection: true
on_failure: {max_failed_rows: 10}
`

// newProject parses the project file (connections and writeback) and the
// syncs, given as name → the target of NAME.
func newProject(t *testing.T, w *warehouse, writeback string, syncs map[string]string) *project {
	t.Helper()
	pr := &project{w: w, sinks: map[string]*keptSink{}}
	pr.parse(t, writeback, syncs)
	pr.reg = reverseetl.NewRegistry()
	sqlsource.Register(pr.reg)
	snowflake.Register(pr.reg)
	pr.reg.RegisterSink("mem", func(_ context.Context, b reverseetl.BuildContext) (sink.Sink, error) {
		return pr.sinks[b.Sync.Name], nil
	})
	return pr
}

func (pr *project) parse(t *testing.T, writeback string, syncs map[string]string) {
	t.Helper()
	srcType := "sql"
	if pr.w.dialect == state.Snowflake {
		srcType = "snowflake"
	}
	files := map[string][]byte{}
	for name, nameField := range syncs {
		files[name+".yaml"] = []byte(fmt.Sprintf(personSync, name, srcType, pr.sourceExtra, nameField))
		if pr.sinks[name] == nil {
			pr.sinks[name] = &keptSink{Sink: memory.New("Ext__c")}
		}
	}
	projectFile := "connections:\n" + pr.w.conn + "writeback: " + writeback + "\n"
	p, err := config.Parse(context.Background(), "retl.yaml", []byte(projectFile), files)
	require.NoError(t, err)
	if pr.store != nil {
		require.NoError(t, pr.store.Close())
	}
	st, err := state.Open(p)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	pr.p, pr.store = p, st
}

// run runs every sync as one run and returns the report.
func (pr *project) run(t *testing.T, runID string, opts reverseetl.RunOptions) *reverseetl.Report {
	t.Helper()
	eng := reverseetl.New(pr.reg, reverseetl.WithRunID(runID), reverseetl.WithParallel(2),
		reverseetl.WithLogger(slog.New(slog.DiscardHandler)),
		reverseetl.WithState(pr.store), reverseetl.WithObserver(pr.store.Writeback(runID)))
	rep, err := eng.Run(context.Background(), pr.p, opts)
	require.NoError(t, err)
	for _, s := range rep.Syncs {
		require.True(t, s.Accounted(), "%+v", s)
		require.Empty(t, s.Warnings, s.Name)
		require.False(t, s.WritebackFailed, s.Name)
	}
	return rep
}

// checkTables compares the run table and the record results table with
// the report: one result row per input row, and the same counts.
func (pr *project) checkTables(t *testing.T, runID string, r *reverseetl.SyncReport) {
	t.Helper()
	runs, results, _, _ := pr.store.Tables()
	w := pr.w
	args := []any{runID, r.Name}
	where := " WHERE RUN_ID = ? AND SYNC = ?"
	assert.Equal(t, r.Read, w.int(t, "SELECT COUNT(*) FROM "+results+where, args...), "one result per row read")
	assert.Equal(t, r.Read, w.int(t, "SELECT COUNT(DISTINCT SEQ) FROM "+results+where, args...), "no row twice")
	count := func(cond string) int64 {
		return w.int(t, "SELECT COALESCE(SUM(CASE WHEN "+cond+" THEN 1 ELSE 0 END), 0) FROM "+results+where, args...)
	}
	assert.Equal(t, r.Created, count("OUTCOME = 'written' AND CREATED"))
	assert.Equal(t, r.Updated, count("OUTCOME = 'written' AND NOT CREATED"))
	assert.Equal(t, r.Failed, count("OUTCOME = 'failed'"))
	assert.Equal(t, r.Skipped, count("OUTCOME = 'skipped'"))
	assert.Equal(t, r.Unchanged-r.UnchangedNotRead, count("REASON = 'unchanged'"))

	var read, created, updated, unchanged, notRead, failed, skipped int64
	var status string
	require.NoError(t, w.db.QueryRow("SELECT STATUS, ROWS_READ, ROWS_CREATED, ROWS_UPDATED, ROWS_UNCHANGED, ROWS_UNCHANGED_NOT_READ, ROWS_FAILED, ROWS_SKIPPED FROM "+runs+where, args...).
		Scan(&status, &read, &created, &updated, &unchanged, &notRead, &failed, &skipped))
	assert.Equal(t, string(r.Status), status)
	assert.Equal(t, []int64{r.Read, r.Created, r.Updated, r.Unchanged, r.UnchangedNotRead, r.Failed, r.Skipped},
		[]int64{read, created, updated, unchanged, notRead, failed, skipped})
}

const rows = 2000

func TestChangeDetectionAcceptance(t *testing.T) {
	warehouses(t, func(t *testing.T, w *warehouse) {
		w.load(t, rows)
		pr := newProject(t, w, "{connection: wh}", map[string]string{"people": "Name"})
		snk := pr.sinks["people"]
		reject := "7"
		snk.Reject = func(r *sink.Record) *sink.RecordError {
			if r.Key == reject {
				return &sink.RecordError{Code: "INVALID_EMAIL_ADDRESS", Message: "Email: invalid email address", Fields: []string{"Email"}}
			}
			return nil
		}

		// Run 1 sends everything; one row is rejected.
		rep := pr.run(t, "run1", reverseetl.RunOptions{})
		r := rep.Sync("people")
		require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
		assert.Equal(t, int64(rows), r.Read)
		assert.Equal(t, int64(rows-1), r.Created)
		assert.Equal(t, int64(1), r.Failed)
		assert.Len(t, snk.take(), rows)
		pr.checkTables(t, "run1", r)
		_, _, st, _ := pr.store.Tables()
		assert.Equal(t, int64(rows-1), w.int(t, "SELECT COUNT(*) FROM "+st+" WHERE SYNC = 'people'"), "no state for the rejected row")
		var id string
		require.NoError(t, w.db.QueryRow("SELECT SALESFORCE_ID FROM "+st+" WHERE SYNC = 'people' AND RECORD_KEY = '1'").Scan(&id))
		assert.Equal(t, snk.Rows()["1"]["Id"], id, "created ids land in the state table")

		// Run 2, same data: only the rejected row goes again.
		reject = ""
		rep = pr.run(t, "run2", reverseetl.RunOptions{})
		r = rep.Sync("people")
		assert.Equal(t, []string{"7"}, snk.take())
		assert.Equal(t, int64(1), r.Created)
		assert.Equal(t, int64(rows-1), r.Unchanged)
		pr.checkTables(t, "run2", r)
		if w.pushdown {
			assert.Equal(t, int64(1), r.Read, "unchanged rows stay in the warehouse")
			assert.Equal(t, int64(rows-1), r.UnchangedNotRead)
		} else {
			assert.Equal(t, int64(rows), r.Read)
			assert.Equal(t, int64(rows-1), r.Skipped)
		}

		// Run 3: every row unchanged, nothing sent.
		rep = pr.run(t, "run3", reverseetl.RunOptions{})
		r = rep.Sync("people")
		assert.Empty(t, snk.take())
		assert.Equal(t, int64(rows), r.Unchanged)
		assert.Zero(t, r.Written())
		pr.checkTables(t, "run3", r)
		if w.pushdown {
			assert.Zero(t, r.Read)
		}

		// 1% of the rows change: exactly those are sent.
		w.exec(t, "UPDATE PEOPLE SET NAME = NAME || ' (moved)' WHERE ID % 100 = 0")
		rep = pr.run(t, "run4", reverseetl.RunOptions{})
		r = rep.Sync("people")
		var want []string
		for i := 100; i <= rows; i += 100 {
			want = append(want, fmt.Sprint(i))
		}
		slices.Sort(want)
		assert.Equal(t, want, snk.take())
		assert.Equal(t, int64(rows/100), r.Updated)
		assert.Equal(t, int64(rows-rows/100), r.Unchanged)
		pr.checkTables(t, "run4", r)
		if w.pushdown {
			assert.Equal(t, int64(rows/100), r.Read, "only changed rows leave the warehouse")
		}

		// --full sends everything and still saves the state.
		rep = pr.run(t, "run5", reverseetl.RunOptions{Full: true})
		r = rep.Sync("people")
		assert.Len(t, snk.take(), rows)
		assert.Zero(t, r.Unchanged)
		pr.checkTables(t, "run5", r)
		assert.Equal(t, int64(rows), w.int(t, "SELECT COUNT(*) FROM "+st+" WHERE SYNC = 'people' AND RUN_ID = 'run5'"))

		// A plan counts the unchanged rows and saves nothing.
		rep = pr.run(t, "plan", reverseetl.RunOptions{Plan: true})
		r = rep.Sync("people")
		require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
		assert.Equal(t, int64(rows), r.Unchanged)
		assert.Zero(t, w.int(t, "SELECT COUNT(*) FROM "+st+" WHERE RUN_ID = 'plan'"))

		// A new mapping sends everything again.
		pr.parse(t, "{connection: wh}", map[string]string{"people": "LastName"})
		rep = pr.run(t, "run6", reverseetl.RunOptions{})
		r = rep.Sync("people")
		assert.Len(t, snk.take(), rows)
		assert.Zero(t, r.Unchanged)
		pr.checkTables(t, "run6", r)
	})
}

func TestSyncsWritingStateAtOnceKeepTheirOwnRows(t *testing.T) {
	warehouses(t, func(t *testing.T, w *warehouse) {
		const n = 500
		w.load(t, n)
		// Same keys, different mappings: each sync's hashes differ.
		pr := newProject(t, w, "{connection: wh}", map[string]string{"a": "Name", "b": "LastName"})
		rep := pr.run(t, "run1", reverseetl.RunOptions{})
		for _, name := range []string{"a", "b"} {
			r := rep.Sync(name)
			require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
			assert.Equal(t, int64(n), r.Created)
			pr.checkTables(t, "run1", r)
			pr.sinks[name].take()
		}
		_, _, st, _ := pr.store.Tables()
		assert.Equal(t, int64(n), w.int(t, "SELECT COUNT(*) FROM "+st+" WHERE SYNC = 'a'"))
		assert.Equal(t, int64(n), w.int(t, "SELECT COUNT(*) FROM "+st+" WHERE SYNC = 'b'"))
		assert.Zero(t, w.int(t, "SELECT COUNT(*) FROM "+st+" a JOIN "+st+" b ON a.RECORD_KEY = b.RECORD_KEY AND a.ROW_HASH = b.ROW_HASH WHERE a.SYNC = 'a' AND b.SYNC = 'b'"))

		rep = pr.run(t, "run2", reverseetl.RunOptions{})
		for _, name := range []string{"a", "b"} {
			assert.Equal(t, int64(n), rep.Sync(name).Unchanged, name)
			assert.Empty(t, pr.sinks[name].take(), name)
		}
	})
}

func TestResultsFailedAndExcludedFields(t *testing.T) {
	warehouses(t, func(t *testing.T, w *warehouse) {
		w.load(t, 20)
		pr := newProject(t, w, "{connection: wh, results: all, exclude_fields: [email]}", map[string]string{"people": "Name"})
		pr.sinks["people"].Reject = func(r *sink.Record) *sink.RecordError {
			if r.Key == "3" {
				return &sink.RecordError{Code: "DUPLICATE_VALUE", Message: "duplicate", Fields: []string{"Email", "Name"}}
			}
			return nil
		}
		pr.run(t, "run1", reverseetl.RunOptions{})
		_, results, _, _ := pr.store.Tables()
		var values, code, fields, msg string
		var op sql.NullString
		require.NoError(t, w.db.QueryRow("SELECT VALUES_JSON, ERROR_CODE, ERROR_FIELDS, ERROR_MESSAGE, OPERATION FROM "+results+" WHERE RECORD_KEY = '3'").Scan(&values, &code, &fields, &msg, &op))
		assert.JSONEq(t, `{"Ext__c":"3","Name":"Person 3"}`, values, "Email is excluded")
		assert.Equal(t, []string{"DUPLICATE_VALUE", "Email,Name", "duplicate"}, []string{code, fields, msg})
		assert.False(t, op.Valid && op.String != "", "a row not written has no operation: %q", op.String)
		require.NoError(t, w.db.QueryRow("SELECT OPERATION FROM "+results+" WHERE RECORD_KEY = '4'").Scan(&op))
		assert.Equal(t, "create", op.String, "what the write did")

		pr.parse(t, "{connection: wh, results: failed}", map[string]string{"people": "Name"})
		w.exec(t, "UPDATE PEOPLE SET NAME = 'x'")
		rep := pr.run(t, "run2", reverseetl.RunOptions{})
		assert.Equal(t, int64(1), rep.Sync("people").Failed)
		assert.Equal(t, int64(1), w.int(t, "SELECT COUNT(*) FROM "+results+" WHERE RUN_ID = 'run2'"), "only the failed row")
		assert.Contains(t, func() string {
			var v string
			require.NoError(t, w.db.QueryRow("SELECT VALUES_JSON FROM "+results+" WHERE RUN_ID = 'run2'").Scan(&v))
			return v
		}(), `"Name":"x"`)

		pr.parse(t, "{connection: wh, results: none}", map[string]string{"people": "Name"})
		w.exec(t, "UPDATE PEOPLE SET NAME = 'y'")
		pr.run(t, "run3", reverseetl.RunOptions{})
		assert.Zero(t, w.int(t, "SELECT COUNT(*) FROM "+results+" WHERE RUN_ID = 'run3'"))
		runs, _, _, _ := pr.store.Tables()
		assert.Equal(t, int64(1), w.int(t, "SELECT COUNT(*) FROM "+runs+" WHERE RUN_ID = 'run3' AND STATUS = 'succeeded'"), "the run log is still written")
	})
}

func TestWrappedQueryRunsOnFakesnow(t *testing.T) {
	w := fakesnowWarehouse(t)
	w.load(t, 5)
	pr := newProject(t, w, "{connection: wh}", map[string]string{"people": "Name"})
	for name, query := range map[string]string{
		"trailing semicolon and comment": "select id, name, email from people; -- all of them\n",
		"own WITH":                       "with p as (select * from people) select id, name, email from p",
		"lower-case key":                 "select id, name, email from people",
	} {
		t.Run(name, func(t *testing.T) {
			q, ok, err := pr.store.WrapQuery(context.Background(), reverseetl.ChangeQuery{Sync: "s'q", Connection: "wh",
				Query: query, KeyColumn: "id", Fingerprint: "fp"})
			require.NoError(t, err)
			require.True(t, ok)
			rows, err := w.db.Query(q)
			require.NoError(t, err)
			cols, err := rows.Columns()
			require.NoError(t, err)
			assert.Equal(t, []string{"ID", "NAME", "EMAIL", reverseetl.HashColumn, reverseetl.KeyColumn, "__RETL_OLD", reverseetl.UnchangedColumn}, cols)
			n := 0
			for rows.Next() {
				n++
			}
			require.NoError(t, rows.Err())
			rows.Close()
			assert.Equal(t, 5, n)
		})
	}
}

func TestSQLiteComparesInRetl(t *testing.T) {
	w := sqliteWarehouse(t)
	pr := newProject(t, w, "{connection: wh}", map[string]string{"people": "Name"})
	_, ok, err := pr.store.WrapQuery(context.Background(), reverseetl.ChangeQuery{Sync: "people", Connection: "wh", Query: "select 1", KeyColumn: "ID"})
	require.NoError(t, err)
	assert.False(t, ok, "SQLite cannot hash a whole row")
}

// TestLargeSQLiteSourceBesideItsState reads more rows than the pipeline
// buffers from a SQLite file in its default journal mode while the state
// and results go to the same file. Prepared before the run, the store has
// switched the file to WAL, so reading and writing never wait on each
// other; in rollback mode the writes would wait for the read to end, which
// waits for them, until the busy timeout fails them (warnings).
func TestLargeSQLiteSourceBesideItsState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wh.db")
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	w := &warehouse{name: "sqlite", db: db, dialect: state.SQLite, conn: fmt.Sprintf("  wh: {type: sql, driver: sqlite, dsn: %q}\n", "file:"+path)}
	const n = 5000
	w.load(t, n)
	var mode string
	require.NoError(t, db.QueryRow("PRAGMA journal_mode").Scan(&mode))
	require.Equal(t, "delete", mode)

	pr := &project{w: w, sinks: map[string]*keptSink{}, sourceExtra: ", batch_size: 200"}
	pr.parse(t, "{connection: wh}", map[string]string{"people": "Name"})
	pr.reg = reverseetl.NewRegistry()
	sqlsource.Register(pr.reg)
	pr.reg.RegisterSink("mem", func(_ context.Context, b reverseetl.BuildContext) (sink.Sink, error) {
		return pr.sinks[b.Sync.Name], nil
	})
	wb := pr.store.Writeback("big")
	require.NoError(t, wb.Prepare(context.Background()))
	eng := reverseetl.New(pr.reg, reverseetl.WithRunID("big"), reverseetl.WithLogger(slog.New(slog.DiscardHandler)),
		reverseetl.WithState(pr.store), reverseetl.WithObserver(wb))
	rep, err := eng.Run(context.Background(), pr.p, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("people")
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	assert.Empty(t, r.Warnings, "no write waited out its lock")
	assert.Equal(t, int64(n), r.Created)
	pr.checkTables(t, "big", r)
}
