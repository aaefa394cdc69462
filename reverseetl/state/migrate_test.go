package state_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/state"
	"github.com/retl-go/retl/sink"
)

func TestWritebackAltered(t *testing.T) {
	st, db := newSQLiteStore(t, state.Options{})
	wb := st.Writeback("r1")
	ctx := context.Background()
	outs := outcomes(2)
	outs[1].Altered = []sink.FieldChange{{Field: "Title", From: "mgr", To: "MGR"}}
	require.NoError(t, wb.Outcomes(ctx, writebackSync(), outs))
	var none sql.NullString
	var altered string
	require.NoError(t, db.QueryRow("SELECT ALTERED FROM RETL_RECORD_RESULTS WHERE SEQ = 1").Scan(&none))
	assert.False(t, none.Valid, "an unaltered row has no ALTERED")
	require.NoError(t, db.QueryRow("SELECT ALTERED FROM RETL_RECORD_RESULTS WHERE SEQ = 2").Scan(&altered))
	assert.JSONEq(t, `[{"field":"Title","from":"mgr","to":"MGR"}]`, altered)

	wb.SyncFinished(ctx, writebackSync(), &reverseetl.SyncReport{Name: "people", Status: reverseetl.Succeeded, Read: 2, Created: 2, Altered: 1})
	assert.Equal(t, 1, count(t, db, "SELECT ROWS_ALTERED FROM RETL_RUNS WHERE RUN_ID = 'r1'"))
}

// layout1 is the tables as layout version 1 made them.
var layout1 = []string{
	"CREATE TABLE RETL_SCHEMA_VERSION (VERSION INTEGER, APPLIED_AT TEXT)",
	"INSERT INTO RETL_SCHEMA_VERSION VALUES (1, '2024-01-01 00:00:00.000000')",
	"CREATE TABLE RETL_RUNS (RUN_ID TEXT NOT NULL, SYNC TEXT NOT NULL, STARTED_AT TEXT, ENDED_AT TEXT, STATUS TEXT, ROWS_READ INTEGER, " +
		"ROWS_CREATED INTEGER, ROWS_UPDATED INTEGER, ROWS_UNCHANGED INTEGER, ROWS_UNCHANGED_NOT_READ INTEGER, ROWS_FAILED INTEGER, " +
		"ROWS_SKIPPED INTEGER, FIELDS_KEPT_BACK INTEGER, API TEXT, BULK_JOB_IDS TEXT, ERROR TEXT, WARNINGS TEXT, PRIMARY KEY (RUN_ID, SYNC))",
	"CREATE TABLE RETL_RECORD_RESULTS (RUN_ID TEXT, SYNC TEXT, SEQ INTEGER, RECORD_KEY TEXT, OPERATION TEXT, OUTCOME TEXT, " +
		"SALESFORCE_ID TEXT, CREATED INTEGER, ERROR_CODE TEXT, ERROR_MESSAGE TEXT, ERROR_FIELDS TEXT, REASON TEXT, KEPT_BACK TEXT, " +
		"VALUES_JSON TEXT, RECORDED_AT TEXT)",
	"INSERT INTO RETL_RECORD_RESULTS (RUN_ID, SYNC, SEQ, OUTCOME) VALUES ('old', 'people', 1, 'written')",
}

func TestMigrateFromLayout1(t *testing.T) {
	db, _ := sqliteDB(t)
	for _, stmt := range layout1 {
		_, err := db.Exec(stmt)
		require.NoError(t, err, stmt)
	}
	st, err := state.New(db, state.SQLite, state.Options{})
	require.NoError(t, err)
	wb := st.Writeback("r2")
	ctx := context.Background()
	outs := outcomes(1)
	outs[0].Altered = []sink.FieldChange{{Field: "Title", From: "a", To: "A"}}
	require.NoError(t, wb.Outcomes(ctx, writebackSync(), outs))
	var altered string
	require.NoError(t, db.QueryRow("SELECT ALTERED FROM RETL_RECORD_RESULTS WHERE RUN_ID = 'r2'").Scan(&altered))
	assert.JSONEq(t, `[{"field":"Title","from":"a","to":"A"}]`, altered)
	assert.Equal(t, 1, count(t, db, "SELECT COUNT(*) FROM RETL_RECORD_RESULTS WHERE RUN_ID = 'old'"), "rows of layout 1 are kept")
	assert.Equal(t, 2, count(t, db, "SELECT MAX(VERSION) FROM RETL_SCHEMA_VERSION"))
	wb.SyncFinished(ctx, writebackSync(), &reverseetl.SyncReport{Name: "people", Status: reverseetl.Succeeded, Altered: 1})
	assert.Equal(t, 1, count(t, db, "SELECT ROWS_ALTERED FROM RETL_RUNS WHERE RUN_ID = 'r2'"))

	// A second store finds the tables at this layout.
	st2, err := state.New(db, state.SQLite, state.Options{})
	require.NoError(t, err)
	require.NoError(t, st2.Writeback("r3").Outcomes(ctx, writebackSync(), outcomes(1)))
}

// A column another process added meanwhile is no failure: the migration
// goes on with the rest.
func TestMigrationToleratesAnAddedColumn(t *testing.T) {
	db, _ := sqliteDB(t)
	for _, stmt := range layout1 {
		_, err := db.Exec(stmt)
		require.NoError(t, err, stmt)
	}
	_, err := db.Exec("ALTER TABLE RETL_RUNS ADD COLUMN ROWS_ALTERED INTEGER")
	require.NoError(t, err)
	st, err := state.New(db, state.SQLite, state.Options{})
	require.NoError(t, err)
	require.NoError(t, st.Writeback("r").Outcomes(context.Background(), writebackSync(), outcomes(1)))
	assert.Equal(t, 2, count(t, db, "SELECT MAX(VERSION) FROM RETL_SCHEMA_VERSION"))
	assert.Equal(t, 0, count(t, db, "SELECT COUNT(KEPT_EDITED) FROM RETL_RECORD_RESULTS WHERE RUN_ID = 'r'"), "the later columns were added")
}

// On both warehouses, ALTERED reaches RECORD_RESULTS (loaded from files on
// Snowflake, by position), and tables of layout 1 gain the columns at their
// end.
func TestAlteredInBothWarehouses(t *testing.T) {
	warehouses(t, func(t *testing.T, w *warehouse) {
		ctx := context.Background()
		// Layout 1 tables: this release's tables without the new columns.
		old, err := state.New(w.db, w.dialect, state.Options{Schema: "M"})
		require.NoError(t, err)
		require.NoError(t, old.Writeback("r0").Prepare(ctx))
		runs, results, _, version := old.Tables()
		w.exec(t, "ALTER TABLE "+results+" DROP COLUMN ALTERED")
		w.exec(t, "ALTER TABLE "+results+" DROP COLUMN REASON_DETAIL")
		w.exec(t, "ALTER TABLE "+results+" DROP COLUMN KEPT_EDITED")
		w.exec(t, "ALTER TABLE "+runs+" DROP COLUMN FIELDS_KEPT_EDITED")
		w.exec(t, "ALTER TABLE "+runs+" DROP COLUMN ROWS_ALTERED")
		w.exec(t, "DELETE FROM "+version)
		w.exec(t, "INSERT INTO "+version+" (VERSION) VALUES (1)")

		st, err := state.New(w.db, w.dialect, state.Options{Schema: "M"})
		require.NoError(t, err)
		wb := st.Writeback("r1")
		outs := outcomes(2)
		outs[1].Altered = []sink.FieldChange{{Field: "Title", From: "a|b", To: "A\"B"}}
		outs = append(outs, reverseetl.Outcome{Seq: 3, Key: "k3", Kind: reverseetl.RowSkipped, Reason: sink.SkipNotFound, Detail: "no record has its match_on value"})
		outs[0].KeptEdits = []string{"Phone", "Title"}
		require.NoError(t, wb.Outcomes(ctx, writebackSync(), outs))
		rep := &reverseetl.SyncReport{Name: "people", Status: reverseetl.Succeeded, Read: 3, Created: 2, Skipped: 1, Altered: 1}
		wb.SyncFinished(ctx, writebackSync(), rep)
		require.False(t, rep.WritebackFailed, "%v", rep.Warnings)
		var altered string
		var none sql.NullString
		require.NoError(t, w.db.QueryRow("SELECT ALTERED FROM "+results+" WHERE RUN_ID = 'r1' AND SEQ = 2").Scan(&altered))
		assert.JSONEq(t, `[{"field":"Title","from":"a|b","to":"A\"B"}]`, altered)
		require.NoError(t, w.db.QueryRow("SELECT ALTERED FROM "+results+" WHERE RUN_ID = 'r1' AND SEQ = 1").Scan(&none))
		assert.False(t, none.Valid && none.String != "")
		var created string
		require.NoError(t, w.db.QueryRow("SELECT SALESFORCE_ID FROM "+results+" WHERE RUN_ID = 'r1' AND SEQ = 2").Scan(&created))
		assert.Equal(t, "0031", created, "the columns before ALTERED keep their places")
		var code, detail string
		require.NoError(t, w.db.QueryRow("SELECT REASON, REASON_DETAIL FROM "+results+" WHERE RUN_ID = 'r1' AND SEQ = 3").Scan(&code, &detail))
		assert.Equal(t, [2]string{"not_found", "no record has its match_on value"}, [2]string{code, detail})
		var kept string
		require.NoError(t, w.db.QueryRow("SELECT KEPT_EDITED FROM "+results+" WHERE RUN_ID = 'r1' AND SEQ = 1").Scan(&kept))
		assert.Equal(t, "Phone,Title", kept)
		assert.Equal(t, int64(1), w.int(t, "SELECT ROWS_ALTERED FROM "+runs+" WHERE RUN_ID = 'r1'"))
		assert.Equal(t, int64(2), w.int(t, "SELECT MAX(VERSION) FROM "+version))
	})
}
