package state_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/state"
	"github.com/retl-go/retl/sink"
)

func sqliteDB(t *testing.T) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db, path
}

func newSQLiteStore(t *testing.T, o state.Options) (*state.Store, *sql.DB) {
	t.Helper()
	db, _ := sqliteDB(t)
	st, err := state.New(db, state.SQLite, o)
	require.NoError(t, err)
	return st, db
}

func count(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(q, args...).Scan(&n), q)
	return n
}

func TestNewChecksOptions(t *testing.T) {
	db, _ := sqliteDB(t)
	for _, c := range []struct {
		d    state.Dialect
		o    state.Options
		want string
	}{
		{state.SQLite, state.Options{Schema: "A.B"}, `state: schema "A.B": sqlite takes a schema name without dots`},
		{state.Snowflake, state.Options{Schema: "A.B.C"}, `state: schema "A.B.C": snowflake takes a schema name without dots`},
		{state.Snowflake, state.Options{Schema: "RETL; DROP"}, `state: schema "RETL; DROP": use letters, digits and _ only`},
		{state.Snowflake, state.Options{Results: "some"}, `state: results must be all, failed or none, not "some"`},
		{state.Snowflake, state.Options{RetentionDays: -1}, `state: retention_days must not be negative`},
	} {
		_, err := state.New(db, c.d, c.o)
		assert.EqualError(t, err, c.want)
	}
	_, err := state.New(nil, state.SQLite, state.Options{})
	assert.EqualError(t, err, "state: no database or dialect")

	st, err := state.New(db, state.Snowflake, state.Options{Schema: "ANALYTICS.RETL"})
	require.NoError(t, err)
	runs, results, stt, version := st.Tables()
	assert.Equal(t, []string{"ANALYTICS.RETL.RUNS", "ANALYTICS.RETL.RECORD_RESULTS", "ANALYTICS.RETL.STATE", "ANALYTICS.RETL.SCHEMA_VERSION"},
		[]string{runs, results, stt, version})
	st, err = state.New(db, state.SQLite, state.Options{})
	require.NoError(t, err)
	runs, results, stt, version = st.Tables()
	assert.Equal(t, []string{"RETL_RUNS", "RETL_RECORD_RESULTS", "RETL_STATE", "RETL_SCHEMA_VERSION"}, []string{runs, results, stt, version})
	assert.Same(t, db, st.DB())
	assert.NoError(t, st.Close(), "a store given a database leaves it open")
	assert.NoError(t, db.Ping())
}

func TestStateRoundTrip(t *testing.T) {
	st, db := newSQLiteStore(t, state.Options{})
	ctx := context.Background()
	got, err := st.StoredHashes(ctx, "s", []string{"a"})
	require.NoError(t, err)
	assert.Empty(t, got)

	var rows []reverseetl.StateRow
	keys := make([]string, 1200)
	for i := range keys {
		keys[i] = fmt.Sprint(i)
		rows = append(rows, reverseetl.StateRow{Key: keys[i], Hash: "h" + keys[i], ID: "id" + keys[i]})
	}
	// The same key twice keeps its last row.
	rows = append(rows, reverseetl.StateRow{Key: "5", Hash: "again"})
	require.NoError(t, st.SaveState(ctx, "r1", "s", rows))
	require.NoError(t, st.SaveState(ctx, "r1", "other", []reverseetl.StateRow{{Key: "5", Hash: "x"}}))
	got, err = st.StoredHashes(ctx, "s", append(keys, "missing"))
	require.NoError(t, err)
	assert.Len(t, got, 1200, "three look-ups of at most 500 keys")
	assert.Equal(t, "again", got["5"])
	assert.Equal(t, "h1199", got["1199"])

	// An update without an id keeps the stored one.
	require.NoError(t, st.SaveState(ctx, "r2", "s", []reverseetl.StateRow{{Key: "7", Hash: "new"}}))
	var id, run string
	require.NoError(t, db.QueryRow("SELECT SALESFORCE_ID, RUN_ID FROM RETL_STATE WHERE SYNC = 's' AND RECORD_KEY = '7'").Scan(&id, &run))
	assert.Equal(t, []string{"id7", "r2"}, []string{id, run})
	assert.Equal(t, 1, count(t, db, "SELECT COUNT(*) FROM RETL_SCHEMA_VERSION WHERE VERSION = 2"))
}

func TestLayoutVersions(t *testing.T) {
	ctx := context.Background()
	st, db := newSQLiteStore(t, state.Options{})
	_, err := st.StoredHashes(ctx, "s", []string{"a"})
	require.NoError(t, err)
	_, err = db.Exec("INSERT INTO RETL_SCHEMA_VERSION (VERSION) VALUES (3)")
	require.NoError(t, err)
	// A later process finds tables a newer retl made.
	st2, err := state.New(db, state.SQLite, state.Options{})
	require.NoError(t, err)
	_, err = st2.StoredHashes(ctx, "s", []string{"a"})
	assert.EqualError(t, err, "state tables in RETL: the tables are at layout version 3, newer than this release of retl knows (2): upgrade retl")
	// The failure is kept: the next call does not try again.
	_, err = db.Exec("DELETE FROM RETL_SCHEMA_VERSION")
	require.NoError(t, err)
	err = st2.SaveState(ctx, "r", "s", []reverseetl.StateRow{{Key: "a"}})
	assert.ErrorContains(t, err, "newer than this release")

	_, err = db.Exec("INSERT INTO RETL_SCHEMA_VERSION (VERSION) VALUES (0)")
	require.NoError(t, err)
	st3, err := state.New(db, state.SQLite, state.Options{})
	require.NoError(t, err)
	_, err = st3.StoredHashes(ctx, "s", []string{"a"})
	assert.EqualError(t, err, "state tables in RETL: the tables are at layout version 0, which this release of retl cannot migrate")
}

func TestCancelledPreparationIsRetried(t *testing.T) {
	st, _ := newSQLiteStore(t, state.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := st.StoredHashes(ctx, "s", []string{"a"})
	require.Error(t, err)
	_, err = st.StoredHashes(context.Background(), "s", []string{"a"})
	assert.NoError(t, err)
}

func TestStoreErrors(t *testing.T) {
	ctx := context.Background()
	st, db := newSQLiteStore(t, state.Options{})
	_, err := st.StoredHashes(ctx, "s", []string{"a"})
	require.NoError(t, err)
	_, err = db.Exec("DROP TABLE RETL_STATE")
	require.NoError(t, err)
	_, err = st.StoredHashes(ctx, "s", []string{"a"})
	assert.ErrorContains(t, err, "no such table: RETL_STATE")
	err = st.SaveState(ctx, "r", "s", []reverseetl.StateRow{{Key: "a"}})
	assert.ErrorContains(t, err, "no such table: RETL_STATE")

	// A database that refuses the schema: the dialect does not fit it.
	wrong, err := state.New(db, state.Snowflake, state.Options{Connection: "wh"})
	require.NoError(t, err)
	_, _, err = wrong.WrapQuery(ctx, reverseetl.ChangeQuery{Connection: "wh", Query: "select 1", KeyColumn: "ID"})
	assert.ErrorContains(t, err, "state tables in RETL")
	err = wrong.SaveState(ctx, "r", "s", nil)
	assert.ErrorContains(t, err, "state tables in RETL", "the failure is kept for the run")
}

func TestWrapQueryOnlyForItsOwnConnection(t *testing.T) {
	db, _ := sqliteDB(t)
	ctx := context.Background()
	st, err := state.New(db, state.Snowflake, state.Options{Connection: "wh"})
	require.NoError(t, err)
	_, ok, err := st.WrapQuery(ctx, reverseetl.ChangeQuery{Connection: "other", Query: "select 1"})
	assert.NoError(t, err)
	assert.False(t, ok)
	st, err = state.New(db, state.Snowflake, state.Options{})
	require.NoError(t, err)
	_, ok, err = st.WrapQuery(ctx, reverseetl.ChangeQuery{Connection: "", Query: "select 1"})
	assert.NoError(t, err)
	assert.False(t, ok, "a store without a connection name compares nowhere")
}

func TestDialects(t *testing.T) {
	cols := []state.Column{{"K", state.Text}, {"N", state.Int}, {"B", state.Bool}, {"T", state.Time}}
	assert.Equal(t, "SELECT f.value:K::VARCHAR AS K, f.value:N::NUMBER(38,0) AS N, f.value:B::BOOLEAN AS B, f.value:T::TIMESTAMP_NTZ AS T FROM (SELECT PARSE_JSON(?) AS J) x, LATERAL FLATTEN(INPUT => x.J) f",
		state.Snowflake.FromJSON(cols, "?"))
	assert.Equal(t, "MERGE INTO T t USING (SEL) s ON t.K = s.K WHEN MATCHED THEN UPDATE SET N = COALESCE(s.N, t.N), B = s.B, T = s.T WHEN NOT MATCHED THEN INSERT (K, N, B, T) VALUES (s.K, s.N, s.B, s.T)",
		state.Snowflake.Upsert("T", cols, []string{"K"}, []string{"N"}, "SEL"))
	assert.Equal(t, "INSERT INTO T (K, N, B, T) SEL WHERE true ON CONFLICT (K) DO UPDATE SET N = COALESCE(excluded.N, T.N), B = excluded.B, T = excluded.T",
		state.SQLite.Upsert("T", cols, []string{"K"}, []string{"N"}, "SEL"))
	assert.Equal(t, `'a''b\\c'`, state.Snowflake.Literal(`a'b\c`))
	assert.Equal(t, `'a''b\c'`, state.SQLite.Literal(`a'b\c`))
	assert.Equal(t, "ID", state.Snowflake.Ident("ID"))
	assert.Equal(t, `"Account Id"`, state.Snowflake.Ident("Account Id"))
	assert.Equal(t, `"a""b"`, state.SQLite.Ident(`a"b`))
	assert.Equal(t, "CAST(x AS VARCHAR)", state.Snowflake.CastText("x"))
	assert.Equal(t, "CAST(x AS TEXT)", state.SQLite.CastText("x"))
	assert.Equal(t, "CAST(? AS TIMESTAMP_NTZ)", state.Snowflake.Timestamp("?"))
	assert.Equal(t, "?", state.SQLite.Timestamp("?"))
	h, ok := state.Snowflake.RowHash("f'p")
	assert.True(t, ok)
	assert.Equal(t, "SHA2('f''p' || TO_JSON(OBJECT_CONSTRUCT(*)), 256)", h)
	_, ok = state.SQLite.RowHash("fp")
	assert.False(t, ok)
	assert.Equal(t, []string{"VARCHAR", "NUMBER(38,0)", "BOOLEAN", "TIMESTAMP_NTZ"},
		[]string{state.Snowflake.Type(state.Text), state.Snowflake.Type(state.Int), state.Snowflake.Type(state.Bool), state.Snowflake.Type(state.Time)})
	assert.Equal(t, []string{"TEXT", "INTEGER", "INTEGER", "TEXT"},
		[]string{state.SQLite.Type(state.Text), state.SQLite.Type(state.Int), state.SQLite.Type(state.Bool), state.SQLite.Type(state.Time)})
	assert.Equal(t, "CREATE SCHEMA IF NOT EXISTS RETL", state.Snowflake.CreateSchema("RETL"))
	assert.Empty(t, state.SQLite.CreateSchema("RETL"))
	assert.Equal(t, "?", state.Snowflake.Placeholder(3))
	assert.Equal(t, "?", state.SQLite.Placeholder(3))
}

// writebackSync is a sync for observer tests.
func writebackSync() *config.Sync {
	return &config.Sync{Name: "people", Destination: config.DestinationSpec{Type: "salesforce"}}
}

func outcomes(n int) []reverseetl.Outcome {
	l := sink.NewLayout([]string{"Ext__c", "Email", "Phone", "Title"}, nil)
	out := make([]reverseetl.Outcome, n)
	for i := range out {
		out[i] = reverseetl.Outcome{Seq: int64(i + 1), Key: fmt.Sprint(i + 1), Kind: reverseetl.Written, ID: fmt.Sprint("003", i), Created: true,
			Record: &sink.Record{Layout: l, Values: []sink.Value{sink.TextValue(fmt.Sprint(i + 1)), sink.TextValue("a@b.c"), sink.NullValue(), {}}}}
	}
	return out
}

func TestWritebackRowsAndValues(t *testing.T) {
	st, db := newSQLiteStore(t, state.Options{ExcludeFields: []string{"EMAIL"}})
	wb := st.Writeback("r1")
	ctx := context.Background()
	outs := outcomes(3)
	outs[1] = reverseetl.Outcome{Seq: 2, Key: "2", Kind: reverseetl.RowFailed, Err: &sink.RecordError{Code: "C", Message: "m", Fields: []string{"A", "B"}}}
	outs[2].KeptBack = []string{"Phone", "Title"}
	outs[2].KeptEdits = []string{"Name", "Fax"}
	outs = append(outs, reverseetl.Outcome{Seq: 4, Key: "4", Kind: reverseetl.RowSkipped, Reason: sink.SkipUnchanged, KeptEdits: []string{"Name"}})
	require.NoError(t, wb.Outcomes(ctx, writebackSync(), outs))
	var values string
	require.NoError(t, db.QueryRow("SELECT VALUES_JSON FROM RETL_RECORD_RESULTS WHERE SEQ = 1").Scan(&values))
	assert.JSONEq(t, `{"Ext__c":"1","Phone":null}`, values, "excluded and absent fields are left out; null stays")
	var nullValues sql.NullString
	var code, fields string
	require.NoError(t, db.QueryRow("SELECT VALUES_JSON, ERROR_CODE, ERROR_FIELDS FROM RETL_RECORD_RESULTS WHERE SEQ = 2").Scan(&nullValues, &code, &fields))
	assert.False(t, nullValues.Valid, "a row that never became a record has no values")
	assert.Equal(t, []string{"C", "A,B"}, []string{code, fields})
	var kept string
	require.NoError(t, db.QueryRow("SELECT KEPT_BACK FROM RETL_RECORD_RESULTS WHERE SEQ = 3").Scan(&kept))
	assert.Equal(t, "Phone,Title", kept)
	var edited string
	require.NoError(t, db.QueryRow("SELECT KEPT_EDITED FROM RETL_RECORD_RESULTS WHERE SEQ = 3").Scan(&edited))
	assert.Equal(t, "Name,Fax", edited, "kept edits read apart from set_if_empty's")
	var reason string
	require.NoError(t, db.QueryRow("SELECT REASON || '/' || KEPT_EDITED FROM RETL_RECORD_RESULTS WHERE SEQ = 4").Scan(&reason))
	assert.Equal(t, "unchanged/Name", reason, "a skip's code and its kept edits, each in its column")
	assert.Equal(t, 1, count(t, db, "SELECT COUNT(*) FROM RETL_RUNS WHERE RUN_ID = 'r1' AND STATUS = 'running'"))

	rep := &reverseetl.SyncReport{Name: "people", Status: reverseetl.Succeeded, Started: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
		Duration: time.Minute, Read: 3, Created: 2, Failed: 1, Warnings: []string{"w1", "w2"},
		Stats: &sink.Statistics{API: "bulk", Jobs: []string{"750a", "750b"}}}
	wb.SyncFinished(ctx, writebackSync(), rep)
	assert.False(t, rep.WritebackFailed)
	var status, api, jobs, started, ended, warnings string
	require.NoError(t, db.QueryRow("SELECT STATUS, API, BULK_JOB_IDS, STARTED_AT, ENDED_AT, WARNINGS FROM RETL_RUNS WHERE RUN_ID = 'r1'").
		Scan(&status, &api, &jobs, &started, &ended, &warnings))
	assert.Equal(t, []string{"succeeded", "bulk", "750a,750b", "2024-05-01 10:00:00.000000", "2024-05-01 10:01:00.000000", "w1\nw2"},
		[]string{status, api, jobs, started, ended, warnings})

	// Job ids may come as []any too; a sync with no rows still gets its row.
	rep2 := &reverseetl.SyncReport{Name: "other", Status: reverseetl.SkippedSync, Stats: &sink.Statistics{Jobs: []string{"750c"}}}
	wb.SyncFinished(ctx, &config.Sync{Name: "other"}, rep2)
	require.NoError(t, db.QueryRow("SELECT BULK_JOB_IDS FROM RETL_RUNS WHERE SYNC = 'other'").Scan(&jobs))
	assert.Equal(t, "750c", jobs)
	wb.RunFinished(ctx, &reverseetl.Report{})
}

func TestRetentionDeletesOldRowsAtRunStart(t *testing.T) {
	ctx := context.Background()
	db, _ := sqliteDB(t)
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	at := now.AddDate(0, 0, -40)
	old, err := state.New(db, state.SQLite, state.Options{Now: func() time.Time { return at }})
	require.NoError(t, err)
	wb := old.Writeback("old")
	require.NoError(t, wb.Outcomes(ctx, writebackSync(), outcomes(2)))
	wb.SyncFinished(ctx, writebackSync(), &reverseetl.SyncReport{Started: at, Status: reverseetl.Succeeded})
	require.NoError(t, old.SaveState(ctx, "old", "people", []reverseetl.StateRow{{Key: "1", Hash: "h"}}))

	st, err := state.New(db, state.SQLite, state.Options{RetentionDays: 30, Now: func() time.Time { return now }})
	require.NoError(t, err)
	wb = st.Writeback("new")
	require.NoError(t, wb.Prepare(ctx))
	assert.Equal(t, 0, count(t, db, "SELECT COUNT(*) FROM RETL_RECORD_RESULTS WHERE RUN_ID = 'old'"))
	assert.Equal(t, 0, count(t, db, "SELECT COUNT(*) FROM RETL_RUNS WHERE RUN_ID = 'old'"))
	require.NoError(t, wb.Outcomes(ctx, writebackSync(), outcomes(1)))
	assert.Equal(t, 1, count(t, db, "SELECT COUNT(*) FROM RETL_RECORD_RESULTS WHERE RUN_ID = 'new'"))
	assert.Equal(t, 1, count(t, db, "SELECT COUNT(*) FROM RETL_STATE"), "state is kept")
}

func TestWritebackFailures(t *testing.T) {
	ctx := context.Background()

	t.Run("retention", func(t *testing.T) {
		// A retention that cannot delete is reported once per sync and
		// stops no write: the tables are there.
		db, _ := sqliteDB(t)
		now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
		old, err := state.New(db, state.SQLite, state.Options{Now: func() time.Time { return now.AddDate(0, 0, -40) }})
		require.NoError(t, err)
		require.NoError(t, old.Writeback("old").Outcomes(ctx, writebackSync(), outcomes(1)))
		_, err = db.Exec("CREATE TRIGGER keep BEFORE DELETE ON RETL_RECORD_RESULTS BEGIN SELECT RAISE(ABORT, 'kept by policy'); END")
		require.NoError(t, err)
		st, err := state.New(db, state.SQLite, state.Options{RetentionDays: 1, Now: func() time.Time { return now }})
		require.NoError(t, err)
		wb := st.Writeback("r")
		assert.ErrorContains(t, wb.Prepare(ctx), "retention: constraint failed: kept by policy")
		err = wb.Outcomes(ctx, writebackSync(), outcomes(2))
		assert.ErrorContains(t, err, "warehouse writeback: retention: constraint failed: kept by policy")
		assert.NoError(t, wb.Outcomes(ctx, writebackSync(), outcomes(1)), "reported once per sync")
		assert.Equal(t, 3, count(t, db, "SELECT COUNT(*) FROM RETL_RECORD_RESULTS WHERE RUN_ID = 'r'"))
		rep := &reverseetl.SyncReport{}
		wb.SyncFinished(ctx, writebackSync(), rep)
		assert.True(t, rep.WritebackFailed)
		assert.Empty(t, rep.Warnings, "the Engine has the chunk's error already")
		assert.Equal(t, 1, count(t, db, "SELECT COUNT(*) FROM RETL_RUNS WHERE RUN_ID = 'r'"))

		// A sync with no rows hears of it when it finishes.
		other := &config.Sync{Name: "other"}
		rep = &reverseetl.SyncReport{}
		wb.SyncFinished(ctx, other, rep)
		assert.True(t, rep.WritebackFailed)
		assert.Equal(t, []string{"warehouse writeback: retention: constraint failed: kept by policy (1811)"}, rep.Warnings)
	})
	t.Run("run log", func(t *testing.T) {
		st, db := newSQLiteStore(t, state.Options{Redact: func(s string) string { return strings.ReplaceAll(s, "RETL_RUNS", "[runs]") }})
		_, err := st.StoredHashes(ctx, "s", nil)
		require.NoError(t, err)
		_, err = db.Exec("DROP TABLE RETL_RUNS")
		require.NoError(t, err)
		wb := st.Writeback("r")
		assert.ErrorContains(t, wb.Outcomes(ctx, writebackSync(), outcomes(1)), "warehouse writeback: run log: SQL logic error: no such table")
		// The run log is tried once while the sync runs; every chunk's
		// outcomes still reach RECORD_RESULTS.
		for range 20 {
			assert.NoError(t, wb.Outcomes(ctx, writebackSync(), outcomes(2)))
		}
		assert.Equal(t, 41, count(t, db, "SELECT COUNT(*) FROM RETL_RECORD_RESULTS WHERE RUN_ID = 'r'"))
		rep := &reverseetl.SyncReport{}
		wb.SyncFinished(ctx, writebackSync(), rep)
		assert.True(t, rep.WritebackFailed)
		assert.Equal(t, []string{"warehouse writeback: run log: SQL logic error: no such table: [runs] (1)"}, rep.Warnings, "redacted")
	})
	t.Run("record results", func(t *testing.T) {
		st, db := newSQLiteStore(t, state.Options{})
		wb := st.Writeback("r")
		require.NoError(t, wb.Outcomes(ctx, writebackSync(), outcomes(1)))
		_, err := db.Exec("DROP TABLE RETL_RECORD_RESULTS")
		require.NoError(t, err)
		assert.ErrorContains(t, wb.Outcomes(ctx, writebackSync(), outcomes(1)), "warehouse writeback: record results: SQL logic error: no such table")
		rep := &reverseetl.SyncReport{}
		wb.SyncFinished(ctx, writebackSync(), rep)
		assert.True(t, rep.WritebackFailed, "a failed chunk marks the sync")
		assert.Empty(t, rep.Warnings, "the Engine already has the chunk's error; the run row was written")
	})
}

// Records on_removed acted on go to RECORD_RESULTS with their own
// operation; excluded values are taken out of messages here too.
func TestWritebackRemovedAndExcludedMessages(t *testing.T) {
	ctx := context.Background()
	st, db := newSQLiteStore(t, state.Options{ExcludeFields: []string{"email"}})
	wb := st.Writeback("r1")
	outs := outcomes(1)
	outs[0].Kind, outs[0].Err = reverseetl.RowFailed, &sink.RecordError{Code: "INVALID_EMAIL_ADDRESS", Message: "invalid email address: a@b.c"}
	require.NoError(t, wb.Outcomes(ctx, writebackSync(), outs))
	var msg string
	require.NoError(t, db.QueryRow("SELECT ERROR_MESSAGE FROM RETL_RECORD_RESULTS WHERE RUN_ID = 'r1'").Scan(&msg))
	assert.Equal(t, "invalid email address: [EXCLUDED]", msg)

	removed := []reverseetl.Outcome{
		{Seq: 1, Key: "9", ID: "0019", Kind: reverseetl.Written},
		{Seq: 2, Key: "8", ID: "0018", Kind: reverseetl.RowFailed, Err: &sink.RecordError{Code: "DELETE_FAILED", Message: "no"}},
		{Seq: 3, Key: "7", Kind: reverseetl.RowSkipped, Reason: sink.SkipNoID, Detail: "no destination id in the state"},
	}
	require.NoError(t, wb.Removed(ctx, writebackSync(), "delete", removed))
	rows, err := db.Query("SELECT RECORD_KEY, OPERATION, OUTCOME, COALESCE(SALESFORCE_ID, ''), COALESCE(ERROR_CODE, ''), COALESCE(REASON, '') || '/' || COALESCE(REASON_DETAIL, '') FROM RETL_RECORD_RESULTS WHERE OPERATION <> 'upsert' ORDER BY SEQ")
	require.NoError(t, err)
	defer rows.Close()
	var got [][]string
	for rows.Next() {
		r := make([]string, 6)
		require.NoError(t, rows.Scan(&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]))
		got = append(got, r)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, [][]string{
		{"9", "on_removed:delete", "written", "0019", "", "/"},
		{"8", "on_removed:delete", "failed", "0018", "DELETE_FAILED", "/"},
		{"7", "on_removed:delete", "skipped", "", "", "no_id/no destination id in the state"},
	}, got)

	_, err = db.Exec("DROP TABLE RETL_RECORD_RESULTS")
	require.NoError(t, err)
	assert.ErrorContains(t, wb.Removed(ctx, writebackSync(), "set", removed), "warehouse writeback: record results:")
	broken, err := state.New(db, state.Snowflake, state.Options{})
	require.NoError(t, err)
	assert.ErrorContains(t, broken.Writeback("r2").Removed(ctx, writebackSync(), "delete", removed), "warehouse writeback: state tables in RETL")
}

// TestRefusingTargetKeepsOutcomes runs syncs against a writeback target
// that refuses every write: a read-only SQLite file on the SQLite side, a
// database that does not exist on fakesnow.
func TestRefusingTargetKeepsOutcomes(t *testing.T) {
	warehouses(t, func(t *testing.T, w *warehouse) {
		w.load(t, 30)
		wbConf := "{connection: wh, schema: NOWHERE.RETL}"
		if w.dialect == state.SQLite {
			path := filepath.Join(t.TempDir(), "ro.db")
			require.NoError(t, os.WriteFile(path, nil, 0o444))
			w.conn += fmt.Sprintf("  ro: {type: sql, driver: sqlite, dsn: %q}\n", "file:"+path+"?mode=ro")
			wbConf = "{connection: ro}"
		}
		pr := newProject(t, w, wbConf, map[string]string{"people": "Name"})
		pr.sinks["people"].Reject = func(r *sink.Record) *sink.RecordError {
			if r.Key == "4" {
				return &sink.RecordError{Code: "INVALID", Message: "bad"}
			}
			return nil
		}
		dir := t.TempDir()
		failed := &reverseetl.FailedRowsCSV{Dir: dir, RunID: "r1"}
		eng := reverseetl.New(pr.reg, reverseetl.WithRunID("r1"), reverseetl.WithLogger(slog.New(slog.DiscardHandler)),
			reverseetl.WithState(pr.store), reverseetl.WithObserver(pr.store.Writeback("r1")), reverseetl.WithObserver(failed))
		rep, err := eng.Run(context.Background(), pr.p, reverseetl.RunOptions{})
		require.NoError(t, err)
		r := rep.Sync("people")
		assert.Equal(t, reverseetl.Succeeded, r.Status, "a writeback failure does not fail the sync")
		assert.True(t, rep.WritebackFailed())
		assert.True(t, r.Accounted())
		assert.Equal(t, int64(30), r.Read)
		assert.Equal(t, int64(29), r.Created)
		assert.Equal(t, int64(1), r.Failed)
		require.Len(t, r.FailedRows, 1)
		assert.Equal(t, "4", r.FailedRows[0].Key)
		assert.NotEmpty(t, r.Warnings)
		for _, msg := range r.Warnings {
			assert.Contains(t, msg, "state tables in", msg)
		}
		b, err := os.ReadFile(failed.Paths()["people"])
		require.NoError(t, err)
		assert.Contains(t, string(b), "4,INVALID,bad")
	})
}

// fakePG is a database/sql driver that is not SQLite.
type fakePG struct{}

func (fakePG) Open(string) (driver.Conn, error) { return nil, errors.New("no") }

func init() { sql.Register("fakepg", fakePG{}) }

func TestOpen(t *testing.T) {
	parse := func(project string) *config.Project {
		p, err := config.Parse(context.Background(), "retl.yaml", []byte(project), nil)
		require.NoError(t, err)
		return p
	}
	st, err := state.Open(parse("connections: {wh: {type: sql, dsn: x.db}}\n"))
	require.NoError(t, err)
	assert.Nil(t, st, "no writeback, no store")

	for project, want := range map[string]string{
		"connections: {wh: {type: sql, driver: fakepg, dsn: x}}\nwriteback: {connection: wh}\n":                                `writeback: connection "wh": no state dialect for database/sql driver "fakepg" (retl has sqlite)`,
		"connections: {wh: {type: sql}}\nwriteback: {connection: wh}\n":                                                        `writeback: retl.yaml:1:15: key "connections.wh.dsn": missing required key`,
		"connections: {wh: {type: salesforce}}\nwriteback: {connection: wh}\n":                                                 `writeback: connection "wh" is of type "salesforce"; the warehouse writeback needs snowflake or sql`,
		"connections: {wh: {type: snowflake}}\nwriteback: {connection: wh}\n":                                                  `writeback: retl.yaml:1:15: key "connections.wh.account": missing required key`,
		"connections: {wh: {type: sql, dsn: x.db}}\nwriteback: {connection: wh, schema: A.B}\n":                                `writeback: state: schema "A.B": sqlite takes a schema name without dots`,
		"connections: {wh: {type: snowflake, account: a, user: u, password: p}}\nwriteback: {connection: wh, schema: A.B.C}\n": `writeback: state: schema "A.B.C": snowflake takes a schema name without dots`,
	} {
		_, err := state.Open(parse(project))
		assert.EqualError(t, err, want, project)
	}

	p := parse("connections: {wh: {type: sql, dsn: x.db}}\nwriteback: {connection: wh}\n")
	p.Writeback.Connection = "gone"
	_, err = state.Open(p)
	assert.EqualError(t, err, `writeback: no connection named "gone"`)

	dir := t.TempDir()
	st, err = state.Open(parse(fmt.Sprintf("connections: {wh: {type: sql, dsn: %q}}\nwriteback: {connection: wh, schema: AUDIT}\n", filepath.Join(dir, "s.db"))))
	require.NoError(t, err)
	require.NoError(t, st.Prepare(context.Background()))
	assert.Equal(t, 1, count(t, st.DB(), "SELECT COUNT(*) FROM AUDIT_SCHEMA_VERSION"))
	var mode string
	require.NoError(t, st.DB().QueryRow("PRAGMA journal_mode").Scan(&mode))
	assert.Equal(t, "wal", mode)
	require.NoError(t, st.Close())
	assert.Error(t, st.DB().Ping(), "the store closes what it opened")

	st, err = state.Open(parse("connections: {wh: {type: snowflake, account: a, user: u, password: p}}\nwriteback: {connection: wh}\n"))
	require.NoError(t, err, "opens nothing yet")
	require.NoError(t, st.Close())
}

// oddDriver answers the layout query with version 1 and a state look-up
// with what rowsFor says, so that scan and iteration errors can be tried.
type oddDriver struct{}

type oddConn struct{ name string }

func (oddDriver) Open(name string) (driver.Conn, error) { return &oddConn{name: name}, nil }
func (c *oddConn) Prepare(string) (driver.Stmt, error)  { return nil, errors.New("not prepared") }
func (c *oddConn) Close() error                         { return nil }
func (c *oddConn) Begin() (driver.Tx, error)            { return nil, errors.New("no transactions") }
func (c *oddConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	return driver.RowsAffected(0), nil
}

func (c *oddConn) QueryContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Rows, error) {
	if strings.Contains(q, "MAX(VERSION)") {
		return &oddRows{cols: []string{"V"}, vals: [][]driver.Value{{int64(1)}}}, nil
	}
	switch c.name {
	case "badvalue":
		return &oddRows{cols: []string{"RECORD_KEY", "ROW_HASH"}, vals: [][]driver.Value{{struct{}{}, "h"}}}, nil
	default:
		return &oddRows{cols: []string{"RECORD_KEY", "ROW_HASH"}, vals: [][]driver.Value{{"k", "h"}}, err: errors.New("connection reset")}, nil
	}
}

type oddRows struct {
	cols []string
	vals [][]driver.Value
	err  error
}

func (r *oddRows) Columns() []string { return r.cols }
func (r *oddRows) Close() error      { return nil }
func (r *oddRows) Next(dest []driver.Value) error {
	if len(r.vals) == 0 {
		if r.err != nil {
			return r.err
		}
		return io.EOF
	}
	copy(dest, r.vals[0])
	r.vals = r.vals[1:]
	return nil
}

func init() { sql.Register("retl-odd", oddDriver{}) }

func TestLookupReadErrors(t *testing.T) {
	for dsn, want := range map[string]string{
		"badvalue": "unsupported Scan, storing driver.Value type struct {}",
		"reset":    "connection reset",
	} {
		db, err := sql.Open("retl-odd", dsn)
		require.NoError(t, err)
		st, err := state.New(db, state.SQLite, state.Options{})
		require.NoError(t, err)
		_, err = st.StoredHashes(context.Background(), "s", []string{"k"})
		assert.ErrorContains(t, err, want, dsn)
		db.Close()
	}
}

func TestForeignTablesInTheWay(t *testing.T) {
	ctx := context.Background()
	st, db := newSQLiteStore(t, state.Options{})
	_, err := db.Exec("CREATE TABLE RETL_SCHEMA_VERSION (SOMETHING TEXT)")
	require.NoError(t, err)
	_, err = st.StoredHashes(ctx, "s", []string{"k"})
	assert.ErrorContains(t, err, "no such column: VERSION")

	st, db = newSQLiteStore(t, state.Options{})
	_, err = db.Exec("CREATE TABLE OTHER (X TEXT)")
	require.NoError(t, err)
	_, err = db.Exec("CREATE INDEX RETL_RUNS ON OTHER (X)")
	require.NoError(t, err)
	err = st.SaveState(ctx, "r", "s", []reverseetl.StateRow{{Key: "k"}})
	assert.ErrorContains(t, err, "state tables in RETL: SQL logic error: there is already an index named RETL_RUNS")
}

func TestOpenSnowflakeKeyFails(t *testing.T) {
	key, err := filepath.Abs("../../source/snowflake/testdata/rsa_key_aes256.p8")
	require.NoError(t, err)
	p, err := config.Parse(context.Background(), "retl.yaml", []byte(fmt.Sprintf(
		"connections: {wh: {type: snowflake, account: a, user: u, authenticator: jwt, private_key_file: %q, private_key_passphrase: wrong-passphrase-123}}\nwriteback: {connection: wh}\n", key)), nil)
	require.NoError(t, err)
	_, err = state.Open(p)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "writeback: snowflake: private_key_file")
	assert.NotContains(t, err.Error(), "wrong-passphrase-123")

	// A project built by hand may have no redactor.
	p, err = config.Parse(context.Background(), "retl.yaml", []byte("connections: {wh: {type: sql, dsn: x.db}}\nwriteback: {connection: wh}\n"), nil)
	require.NoError(t, err)
	p.Redactor = nil
	st, err := state.Open(p)
	require.NoError(t, err)
	require.NoError(t, st.Close())
}
