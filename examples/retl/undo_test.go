package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/state"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// undoScenario runs the accounts sync twice with keep_prior_values: the
// first run creates 1,000 accounts, the second updates them (city and
// phone; one phone was empty) and creates 100 more. It returns the second
// run's id.
func undoScenario(t *testing.T, e *railsEnv, api string) string {
	t.Helper()
	e.sync(t, "  api: "+api+"\n  keep_prior_values: true\n", railsMapping)
	var rows []string
	for i := 1; i <= 1000; i++ {
		phone := fmt.Sprintf("'%d'", 1000+i)
		if i == 2 {
			phone = "null"
		}
		rows = append(rows, fmt.Sprintf("('A-%04d', 'Name %d', 'City %d', %s, null, null)", i, i, i, phone))
	}
	e.exec(t, "insert into accounts values "+strings.Join(rows, ", "))
	r, report := e.run(t)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	require.EqualValues(t, 1000, readReport(t, report).Sync("accounts").Created)

	e.exec(t, "update accounts set city = 'New ' || substr(account_id, 3), phone = '999'")
	rows = rows[:0]
	for i := 1; i <= 100; i++ {
		rows = append(rows, fmt.Sprintf("('B-%03d', 'New %d', 'Town', '555', null, null)", i, i))
	}
	e.exec(t, "insert into accounts values "+strings.Join(rows, ", "))
	r, report = e.run(t)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	rep := readReport(t, report)
	require.EqualValues(t, 1000, rep.Sync("accounts").Updated)
	require.EqualValues(t, 100, rep.Sync("accounts").Created)
	require.Len(t, e.accounts(), 1100)
	return rep.RunID
}

// A run that updated 1,000 records and created 100 is undone through the
// command, with the state in SQLite and in fakesnow: the dry run says what
// it would put back and writes nothing; --apply puts every prior value
// back (an empty phone too), keeps a field edited by hand after the run
// and reports it, and --delete-created deletes the 100. The undo is a run
// of its own in the warehouse.
func TestUndoThroughTheCommand(t *testing.T) {
	for _, c := range []struct{ state, api string }{{"sqlite", "bulk"}, {"fakesnow", "rest"}} {
		t.Run(c.state, func(t *testing.T) {
			e := newRails(t, c.state)
			runID := undoScenario(t, e, c.api)
			edited := e.accounts()["A-0001"]["Id"].(string)
			e.handEdit(t, edited, map[string]any{"BillingCity": "Bergen"})

			dry := retl(t, "undo", runID, "--configs", e.configs)
			require.Equal(t, exitOK, dry.code, dry.stdout+dry.stderr)
			assert.Contains(t, dry.stdout, "accounts: would put back 2000 fields of 1000 records; the run created 100 records (--delete-created deletes them)\n")
			assert.Contains(t, dry.stdout, `  A-0001 BillingCity: "New 0001" → "City 1"`)
			assert.Contains(t, dry.stdout, `  A-0002 Phone: "999" → (empty)`)
			assert.Contains(t, dry.stdout, "nothing written")
			assert.Equal(t, "New 0005", e.accounts()["A-0005"]["BillingCity"], "the dry run wrote nothing")

			report := filepath.Join(e.dir, "undo.json")
			u := retl(t, "undo", runID, "--configs", e.configs, "--apply", "--delete-created", "--report", report)
			require.Equal(t, exitOK, u.code, u.stdout+u.stderr)
			got := e.accounts()
			require.Len(t, got, 1000, "the 100 records the run created are deleted")
			for i := 1; i <= 1000; i++ {
				a := got[fmt.Sprintf("A-%04d", i)]
				require.NotNil(t, a)
				city, phone := any(fmt.Sprintf("City %d", i)), any(fmt.Sprintf("%d", 1000+i))
				if i == 1 {
					city = "Bergen"
				}
				if i == 2 {
					phone = nil
				}
				assert.Equal(t, city, a["BillingCity"], "A-%04d", i)
				assert.Equal(t, phone, a["Phone"], "A-%04d", i)
			}
			rep := readReport(t, report)
			assert.NotEqual(t, runID, rep.RunID, "the undo is a run of its own")
			assert.Equal(t, runID, rep.Undoes)
			s := rep.Sync("accounts")
			// A deletion counts among the records written and in Deleted.
			assert.EqualValues(t, 1100, s.Updated)
			assert.EqualValues(t, 100, s.Deleted)
			assert.Zero(t, s.Failed)
			assert.EqualValues(t, 1, s.KeptEdits)
			require.Len(t, s.KeptEditRows, 1)
			assert.Equal(t, "A-0001", s.KeptEditRows[0].Key)
			assert.Equal(t, []string{"BillingCity"}, s.KeptEditRows[0].KeptEdits)
			assert.Contains(t, u.stdout, "accounts: 1 fields kept, edited in Salesforce since retl wrote it:\n  A-0001: BillingCity\n")

			var runs, results, deletes int
			require.NoError(t, e.state.QueryRow("SELECT COUNT(*) FROM "+e.prefix+"RUNS WHERE RUN_ID = ? AND SYNC = 'accounts'", rep.RunID).Scan(&runs))
			require.NoError(t, e.state.QueryRow("SELECT COUNT(*) FROM "+e.prefix+"RECORD_RESULTS WHERE RUN_ID = ?", rep.RunID).Scan(&results))
			require.NoError(t, e.state.QueryRow("SELECT COUNT(*) FROM "+e.prefix+"RECORD_RESULTS WHERE RUN_ID = ? AND OPERATION = 'delete'", rep.RunID).Scan(&deletes))
			assert.Equal(t, 1, runs, "the undo's run log")
			assert.Equal(t, 1100, results, "a row outcome per record put back or deleted")
			assert.Equal(t, 100, deletes)
		})
	}
}

// Undo refuses, writing nothing, a run the warehouse does not know and a
// run that kept no prior values; a sync whose lease another run holds is
// left alone (exit 4); a Salesforce call that fails fails the undo's sync
// and puts nothing back, and the undo can be run again.
func TestUndoErrors(t *testing.T) {
	e := newRails(t, "sqlite")
	e.sync(t, "  api: bulk\n", railsMapping)
	e.exec(t, "insert into accounts values ('A-1', 'One', 'Oslo', '111', null, null)")
	r, report := e.run(t)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	created := readReport(t, report).RunID
	e.exec(t, "update accounts set city = 'Rome'")
	r, report = e.run(t)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	updatedWithout := readReport(t, report).RunID

	u := retl(t, "undo", "no-such-run", "--configs", e.configs, "--apply")
	assert.Equal(t, exitInvalid, u.code)
	assert.Contains(t, u.stderr, `has no run "no-such-run"`)

	u = retl(t, "undo", updatedWithout, "--configs", e.configs, "--apply")
	assert.Equal(t, exitInvalid, u.code)
	assert.Contains(t, u.stderr, "kept no prior values")
	u = retl(t, "undo", created, "--configs", e.configs, "--apply")
	assert.Equal(t, exitInvalid, u.code)
	assert.Contains(t, u.stderr, "it created 1 records, which DeleteCreated (--delete-created) deletes")

	u = retl(t, "undo", "--configs", e.configs)
	assert.Equal(t, exitInvalid, u.code)
	assert.Contains(t, u.stderr, "name the run to undo")

	u = retl(t, "undo", updatedWithout, "--configs", e.configs, "--only", "contacts")
	assert.Equal(t, exitInvalid, u.code)
	assert.Contains(t, u.stderr, `wrote no sync named "contacts"`)

	e.sync(t, "  api: bulk\n  keep_prior_values: true\n", railsMapping)
	e.exec(t, "update accounts set city = 'Lima'")
	r, report = e.run(t)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	kept := readReport(t, report).RunID
	// A run of the sync holding its lease keeps the undo out.
	st, err := state.New(e.state, state.SQLite, state.Options{})
	require.NoError(t, err)
	other := reverseetl.LeaseOwner{RunID: "other-run", Host: "elsewhere"}
	require.NoError(t, st.TakeLease(t.Context(), "accounts", other, time.Hour))
	u = retl(t, "undo", kept, "--configs", e.configs, "--apply")
	assert.Equal(t, exitLocked, u.code, u.stdout+u.stderr)
	assert.Equal(t, "Lima", e.accounts()["A-1"]["BillingCity"], "nothing was put back")
	require.NoError(t, st.ReleaseLease(t.Context(), "accounts", other))

	e.srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Status: 400, Path: "/query"})
	u = retl(t, "undo", kept, "--configs", e.configs, "--apply")
	assert.Equal(t, exitFailed, u.code, u.stdout+u.stderr)
	assert.Equal(t, "Lima", e.accounts()["A-1"]["BillingCity"], "nothing was put back")
	e.srv.ClearFaults()
	u = retl(t, "undo", kept, "--configs", e.configs, "--apply")
	require.Equal(t, exitOK, u.code, u.stdout+u.stderr)
	assert.Equal(t, "Rome", e.accounts()["A-1"]["BillingCity"])
}
