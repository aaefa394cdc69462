package main

import (
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/examples/demo"
	"github.com/retl-go/retl/reverseetl"
)

func TestUsageAndUnknownCommands(t *testing.T) {
	r := retl(t)
	assert.Equal(t, exitInvalid, r.code)
	assert.Contains(t, r.stderr, "usage: retl <command>")

	r = retl(t, "help")
	assert.Equal(t, exitOK, r.code)
	for _, cmd := range []string{"run", "plan", "validate", "demo"} {
		assert.Contains(t, r.stdout, "\n  "+cmd+" ")
	}

	r = retl(t, "deploy")
	assert.Equal(t, exitInvalid, r.code)
	assert.Contains(t, r.stderr, `retl: unknown command "deploy"`)

	for _, cmd := range []string{"run", "plan", "validate", "demo"} {
		r = retl(t, cmd, "--no-such-flag")
		assert.Equal(t, exitInvalid, r.code, cmd)
		assert.Contains(t, r.stderr, "flag provided but not defined: -no-such-flag", cmd)
	}
}

func TestValidateShippedSyncsWithTheDemoProject(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("..", "demo", "retl.yaml"))
	require.NoError(t, err)
	project := filepath.Join(dir, "retl.yaml")
	require.NoError(t, os.WriteFile(project, b, 0o600))
	t.Setenv(demo.EnvDSN, "file:"+filepath.Join(dir, "none.db"))
	t.Setenv(demo.EnvURL, "http://127.0.0.1:9")

	r := retl(t, "validate", "--configs", filepath.Join("..", "configs"), "--project", project)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "4 syncs valid\n", r.stdout)
}

func TestBrokenConfigExits2WithFileAndLine(t *testing.T) {
	s := newDemoSetup(t, "", func(name, text string) string {
		if name == "accounts.yaml" {
			return strings.Replace(text, "  operation: upsert", "  opration: upsert", 1)
		}
		return text
	})
	want := regexp.MustCompile(`configs/accounts\.yaml:\d+:\d+: key "destination\.opration": unknown key; did you mean "operation"\?`)
	for _, cmd := range []string{"validate", "run", "plan"} {
		r := retl(t, cmd, "--configs", s.configs)
		assert.Equal(t, exitInvalid, r.code, cmd)
		assert.Regexp(t, want, r.stderr, cmd)
		assert.Empty(t, r.stdout, cmd)
	}
	// Nothing was written.
	assert.Len(t, s.env.Server().Records("Account"), 10)
}

func TestInvalidFlagsAndProjectExit2(t *testing.T) {
	s := newDemoSetup(t, "", nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--log-format", "xml"}, `log format must be text or json, not "xml"`},
		{[]string{"run", "--log-level", "loud"}, "--log-level: slog: level string \"loud\": unknown name"},
		{[]string{"validate", "--log-format", "xml"}, `log format must be text or json, not "xml"`},
		{[]string{"run", "--only", "nosuch"}, `no sync named "nosuch"`},
		{[]string{"run", "--configs", filepath.Join(s.dir, "missing")}, "config: reading the configs directory"},
		{[]string{"validate", "--configs", filepath.Join(s.dir, "missing")}, "config: reading the configs directory"},
	} {
		args := tc.args
		if !strings.Contains(strings.Join(args, " "), "--configs") {
			args = append(args, "--configs", s.configs)
		}
		r := retl(t, args...)
		assert.Equal(t, exitInvalid, r.code, args)
		assert.Contains(t, r.stderr, tc.want, args)
	}
}

func TestValidateReportsBuildErrors(t *testing.T) {
	// The connection parses, but the sink cannot be built from it.
	s := newDemoSetup(t, "", nil)
	b, err := os.ReadFile(filepath.Join(s.dir, "retl.yaml"))
	require.NoError(t, err)
	broken := strings.Replace(string(b), "auth: password", "auth: magic", 1)
	require.NoError(t, os.WriteFile(filepath.Join(s.dir, "retl.yaml"), []byte(broken), 0o600))
	for _, cmd := range []string{"validate", "run"} {
		r := retl(t, cmd, "--configs", s.configs)
		assert.Equal(t, exitInvalid, r.code, cmd)
		assert.Contains(t, r.stderr, `auth "magic"`, cmd)
	}
}

func TestRunSucceedsWithReportAndFailedRows(t *testing.T) {
	s := newDemoSetup(t, "reports:\n  dir: "+filepath.Join(t.TempDir(), "reports")+"\n", nil)
	reportPath := filepath.Join(s.dir, "run.json")
	r := retl(t, "run", "--configs", s.configs, "--report", reportPath)
	require.Equal(t, exitOK, r.code, r.stderr)

	// The summary table, then the failed rows and where their file is.
	assert.Regexp(t, `(?m)^accounts\s+succeeded\s+50\s+40\s+10\s+0\s+0\s+0\s+7\s`, r.stdout)
	assert.Regexp(t, `(?m)^contacts\s+succeeded\s+120\s+112\s+5\s+0\s+3\s+0\s+5\s`, r.stdout)
	assert.Contains(t, r.stdout, "contacts: failed rows (3):")
	assert.Regexp(t, `(?m)^contacts: failed rows written to .*/contacts\.failed\.csv$`, r.stdout)

	rep := readReport(t, reportPath)
	require.Len(t, rep.Syncs, 4)
	assert.True(t, rep.OK())
	st, err := os.Stat(reportPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	// The failed-rows file: mode 0600, a header, and one row per failure
	// with Salesforce's code and the values sent.
	m := regexp.MustCompile(`(?m)^contacts: failed rows written to (.*)$`).FindStringSubmatch(r.stdout)
	require.Len(t, m, 2)
	st, err = os.Stat(m[1])
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	f, err := os.Open(m[1])
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 4)
	assert.Equal(t, []string{"row", "key", "error_code", "error_message", "error_fields",
		"External_Id__c", "Account.External_Id__c", "FirstName", "LastName", "Email", "Title", "Phone"}, rows[0])
	byKey := map[string][]string{}
	for _, row := range rows[1:] {
		byKey[row[1]] = row
	}
	assert.Equal(t, "STRING_TOO_LONG", byKey["C-0042"][2])
	assert.Equal(t, "LastName", byKey["C-0042"][4])
	assert.Equal(t, "INVALID_EMAIL_ADDRESS", byKey["C-0077"][2])
	assert.Equal(t, "viktor.jensen@example", byKey["C-0077"][9])
	assert.Equal(t, "INVALID_FIELD", byKey["C-0113"][2])
	assert.Equal(t, "A-999", byKey["C-0113"][6])
	dirInfo, err := os.Stat(filepath.Dir(m[1]))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), dirInfo.Mode().Perm())
}

func TestRunExits1WhenASyncFails(t *testing.T) {
	s := newDemoSetup(t, "", func(name, text string) string {
		if name == "contacts.yaml" {
			return strings.Replace(text, "max_failed_rows: 5", "max_failed_rows: 1", 1)
		}
		return text
	})
	r := retl(t, "run", "--configs", s.configs, "--log-format", "json")
	assert.Equal(t, exitFailed, r.code)
	assert.Regexp(t, `(?m)^contacts\s+failed\s+120\s`, r.stdout)
	assert.Contains(t, r.stdout, "contacts: 3 rows failed, more than on_failure.max_failed_rows (1)")

	// JSON logs: one object a line, the sync's end among them.
	var finished bool
	for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		if rec["msg"] == "sync finished" && rec["sync"] == "contacts" {
			finished = true
			assert.Equal(t, "ERROR", rec["level"])
			assert.Equal(t, "failed", rec["status"])
		}
	}
	assert.True(t, finished, r.stderr)

	// --only runs a subset; the others are not reported.
	r = retl(t, "run", "--configs", s.configs, "--only", "renewals", "--log-level", "error")
	assert.Equal(t, exitOK, r.code, r.stderr)
	// The first run inserted the renewals; change detection sends none again.
	assert.Regexp(t, `(?m)^renewals\s+succeeded\s+6\s+0\s+0\s+6\s`, r.stdout)
	assert.NotContains(t, r.stdout, "accounts")
	assert.Empty(t, r.stderr)
}

// A report that cannot be written is found before the run writes
// anything: exit 2 and no sync run, so a retry cannot send rows twice.
func TestReportThatCannotBeWrittenStopsTheRunFirst(t *testing.T) {
	s := newDemoSetup(t, "", nil)
	r := retl(t, "run", "--configs", s.configs, "--only", "accounts", "--report", filepath.Join(s.dir, "no", "dir", "run.json"))
	assert.NotContains(t, r.stdout, "accounts")
	assert.Equal(t, exitInvalid, r.code)
	assert.Contains(t, r.stderr, "report "+filepath.Join(s.dir, "no", "dir", "run.json")+": open ")
}

// hook records the messages a webhook receives.
type hook struct {
	mu     sync.Mutex
	status int
	texts  []string
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var msg struct{ Text string }
	_ = json.Unmarshal(b, &msg)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.texts = append(h.texts, msg.Text)
	if h.status != 0 {
		w.WriteHeader(h.status)
	}
}

func (h *hook) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.texts...)
}

func TestAlertsAreSentWhenARuleFires(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	alerts := "alerts:\n  on_sync_failure: true\n  webhook:\n    url: " + srv.URL + "/services/T0/B0/tok-Zq9\n"
	s := newDemoSetup(t, alerts, func(name, text string) string {
		if name == "contacts.yaml" {
			return strings.Replace(text, "max_failed_rows: 5", "max_failed_rows: 0", 1)
		}
		return text
	})

	r := retl(t, "validate", "--configs", s.configs)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "4 syncs valid, 1 alert notifiers\n", r.stdout)

	r = retl(t, "run", "--configs", s.configs)
	assert.Equal(t, exitFailed, r.code)
	texts := h.got()
	require.Len(t, texts, 1, "one summary per run")
	assert.True(t, strings.HasPrefix(texts[0], "*retl: 1 of 4 syncs failed*\n"), texts[0])
	assert.Contains(t, texts[0], "contacts: failed (read 120, created 112, updated 5, failed 3, skipped 0)")
	assert.Contains(t, texts[0], "row C-0042: STRING_TOO_LONG (LastName)")
	assert.Contains(t, r.stderr, `msg="alert sent" notifier="webhook 127.0.0.1"`)

	// A plan sends none.
	r = retl(t, "plan", "--configs", s.configs)
	assert.Len(t, h.got(), 1)

	// An alert that cannot be sent is logged and changes nothing else.
	h.mu.Lock()
	h.status = http.StatusGone
	h.mu.Unlock()
	r = retl(t, "run", "--configs", s.configs, "--only", "contacts")
	assert.Equal(t, exitFailed, r.code)
	assert.Contains(t, r.stderr, `msg="alert not sent" notifier="webhook 127.0.0.1" error="webhook to 127.0.0.1: HTTP 410 Gone"`)
	assert.NotContains(t, r.stderr, "tok-Zq9")
	assert.NotContains(t, r.stdout, "tok-Zq9")

	// No rule fires: nothing is sent.
	r = retl(t, "run", "--configs", s.configs, "--only", "renewals")
	assert.Equal(t, exitOK, r.code)
	assert.Len(t, h.got(), 2)
}

func TestEmailAlertNeedsASnowflakeConnection(t *testing.T) {
	alerts := "alerts:\n  on_sync_failure: true\n  email: {connection: warehouse, integration: RETL_EMAIL, recipients: [data@example.com]}\n"
	s := newDemoSetup(t, alerts, nil)
	for _, cmd := range []string{"validate", "run"} {
		r := retl(t, cmd, "--configs", s.configs)
		assert.Equal(t, exitInvalid, r.code, cmd)
		assert.Contains(t, r.stderr, `alerts.email: `, cmd)
		assert.Contains(t, r.stderr, `needs a connection of type snowflake, not "sql"`, cmd)
	}
}

func TestPlanMatchesWhatRunThenDoes(t *testing.T) {
	s := newDemoSetup(t, "", nil)
	planPath := filepath.Join(s.dir, "plan.json")
	r := retl(t, "plan", "--configs", s.configs, "--report", planPath)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Len(t, s.env.Server().Records("Account"), 10, "a plan writes nothing")
	assert.Len(t, s.env.Server().Records("Contact"), 5)
	assert.Empty(t, s.env.Server().Records("Opportunity"))

	assert.Regexp(t, `(?m)^SYNC\s+READ\s+WOULD CREATE\s+WOULD UPDATE\s+UNCHANGED\s+KEPT BACK\s+WOULD FAIL\s+SKIPPED\s+STATUS$`, r.stdout)
	assert.Regexp(t, `(?m)^accounts\s+50\s+40\s+7\s+3\s+7\s+0\s+0\s+succeeded$`, r.stdout)
	assert.Regexp(t, `(?m)^account_health\s+10\s+0\s+7\s+3\s+0\s+0\s+0\s+succeeded$`, r.stdout)
	assert.Regexp(t, `(?m)^contacts\s+120\s+112\s+5\s+0\s+5\s+3\s+0\s+succeeded$`, r.stdout)
	assert.Regexp(t, `(?m)^renewals\s+6\s+6\s+0\s+0\s+0\s+0\s+0\s+succeeded$`, r.stdout)
	assert.Regexp(t, `(?m)^  update A-004: NumberOfEmployees \d+ → \d+, Tier__c SMB → Mid-Market$`, r.stdout)
	assert.Contains(t, r.stdout, "contacts: would fail (3):")
	assert.Contains(t, r.stdout, "Nothing was written.")

	runPath := filepath.Join(s.dir, "run.json")
	r = retl(t, "run", "--configs", s.configs, "--report", runPath)
	require.Equal(t, exitOK, r.code, r.stderr)

	plan, done := readReport(t, planPath), readReport(t, runPath)
	require.Len(t, done.Syncs, len(plan.Syncs))
	for _, p := range plan.Syncs {
		d := done.Sync(p.Name)
		require.NotNil(t, d, p.Name)
		want := countsOf(p)
		// A run writes unchanged records as updates.
		want.Updated += want.Unchanged
		want.Skipped -= want.Unchanged
		want.Unchanged = 0
		assert.Equal(t, want, countsOf(d), p.Name)
		var planFailed, runFailed []string
		for _, o := range p.FailedRows {
			planFailed = append(planFailed, o.Key+" "+o.Err.Code)
		}
		for _, o := range d.FailedRows {
			runFailed = append(runFailed, o.Key+" "+o.Err.Code)
		}
		assert.ElementsMatch(t, planFailed, runFailed, p.Name)
	}
	assert.Positive(t, plan.Sync("accounts").Unchanged)
	assert.Positive(t, plan.Sync("accounts").KeptBack)
}

func TestPlanStatusAndChanges(t *testing.T) {
	s := newDemoSetup(t, "", func(name, text string) string {
		if name == "contacts.yaml" {
			return strings.Replace(text, "max_failed_rows: 5", "max_failed_rows: 1", 1)
		}
		return text
	})
	// contacts needs the accounts its records name: plan both.
	r := retl(t, "plan", "--configs", s.configs, "--changes", "0", "--only", "accounts", "--only", "contacts")
	assert.Equal(t, exitFailed, r.code, "a plan whose failures exceed on_failure fails")
	assert.Regexp(t, `(?m)^contacts\s+120\s+.*\s+would fail$`, r.stdout)
	assert.NotContains(t, r.stdout, "sample changes")

	// Without the accounts, most contacts would fail: the list is cut.
	r = retl(t, "plan", "--configs", s.configs, "--only", "contacts")
	assert.Contains(t, r.stdout, "contacts: would fail (93):")
	assert.Contains(t, r.stdout, "  … 73 more")

	r = retl(t, "plan", "--configs", s.configs, "--changes", "50", "--only", "accounts", "--only", "contacts")
	assert.Contains(t, r.stdout, "contacts: sample changes (20 of 117 records):")
	assert.Contains(t, r.stdout, "  create C-0006: External_Id__c=C-0006, Account.External_Id__c=")
}

func TestEnvironmentDefaults(t *testing.T) {
	s := newDemoSetup(t, "", nil)
	t.Setenv("RETL_CONFIGS", s.configs)
	t.Setenv("RETL_LOG_FORMAT", "json")
	r := retl(t, "run", "--only", "accounts")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stderr, "{"), r.stderr)
}

// The shipped syncs and the deployment's project file validate in a
// pipeline without credentials; --resolve also resolves the references.
func TestValidateShippedExamplesOffline(t *testing.T) {
	for _, k := range []string{"SNOWFLAKE_ACCOUNT", "SALESFORCE_LOGIN_URL"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	r := retl(t, "validate", "--configs", filepath.Join("..", "configs"), "--project", filepath.Join("..", "retl.yaml"))
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "4 syncs valid, 2 alert notifiers\n", r.stdout)

	r = retl(t, "validate", "--resolve", "--configs", filepath.Join("..", "configs"), "--project", filepath.Join("..", "retl.yaml"))
	assert.Equal(t, exitInvalid, r.code)
	assert.Contains(t, r.stderr, `retl.yaml:9:14: key "connections.warehouse.account": environment variable SNOWFLAKE_ACCOUNT is not set`)
}

// A value the warehouse holds but that is not of its column's type (SQLite
// keeps any text in a DATE column) fails its row, with the row's key and
// the column named; the sync's other rows are written.
func TestUnreadableValueFailsItsRowOnly(t *testing.T) {
	s := newDemoSetup(t, "", nil)
	db, err := sql.Open("sqlite", s.env.DSN())
	require.NoError(t, err)
	_, err = db.Exec(`update renewals set close_date = '2026-13-45' where renewal_id = 'R-02'`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	reportPath := filepath.Join(s.dir, "run.json")
	r := retl(t, "run", "--configs", s.configs, "--only", "accounts", "--only", "renewals", "--report", reportPath)
	// The renewals sync allows no failed row: the sync fails, its other
	// rows written.
	require.Equal(t, exitFailed, r.code, r.stderr)
	assert.Contains(t, r.stdout, "1 rows failed (on_failure allows none)")
	rep := readReport(t, reportPath)
	var renewals *reverseetl.SyncReport
	for i := range rep.Syncs {
		if rep.Syncs[i].Name == "renewals" {
			renewals = rep.Syncs[i]
		}
	}
	require.NotNil(t, renewals)
	require.Equal(t, int64(1), renewals.Failed)
	require.Len(t, renewals.FailedRows, 1)
	got := renewals.FailedRows[0]
	assert.Equal(t, "R-02", got.Key)
	require.NotNil(t, got.Err)
	assert.Equal(t, reverseetl.CodeSourceValue, got.Err.Code)
	assert.Equal(t, `CloseDate: column close_date (DATE): "2026-13-45" is not a date`, got.Err.Message)
	assert.Equal(t, renewals.Read-1, renewals.Created+renewals.Updated, "every other row is written")
}

// A failed login says "salesforce:" once, after the step that needed it,
// in run and plan alike.
func TestFailedLoginSaysSalesforceOnce(t *testing.T) {
	s := newDemoSetup(t, "", nil)
	b, err := os.ReadFile(filepath.Join(s.dir, "retl.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(s.dir, "retl.yaml"), []byte(strings.Replace(string(b), "password: demo", "password: wrong", 1)), 0o600))
	for _, cmd := range []string{"run", "plan"} {
		r := retl(t, cmd, "--configs", s.configs, "--only", "accounts")
		assert.Equal(t, exitFailed, r.code, cmd)
		assert.Contains(t, r.stdout, "accounts: preflight: salesforce: describe Account: login (password): POST /services/oauth2/token: 400 invalid_grant: authentication failure", cmd)
		assert.Equal(t, 1, strings.Count(r.stdout, "salesforce:"), r.stdout)
	}
}

// An error a plugin finds in a file leads with the file, line and key, and
// a connection's error is told once, not once per sync using it.
func TestBuildErrorsLeadWithTheirPlace(t *testing.T) {
	s := newDemoSetup(t, "", func(name, text string) string {
		if name == "accounts.yaml" {
			return strings.Replace(text, "  operation: upsert", "  operation: upsert\n  max_deletes: lots", 1)
		}
		return text
	})
	b, err := os.ReadFile(filepath.Join(s.dir, "retl.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(s.dir, "retl.yaml"), []byte(strings.Replace(string(b), "auth: password", "auth: magic", 1)), 0o600))
	// validate reports the files' errors, then what building the syncs
	// whose files are sound finds (the connection); run and plan stop at
	// the files' errors.
	for _, cmd := range []string{"validate", "run", "plan"} {
		r := retl(t, cmd, "--configs", s.configs)
		assert.Equal(t, exitInvalid, r.code, cmd)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		want := 1
		if cmd == "validate" {
			want = 2
		}
		require.Len(t, lines, want, r.stderr)
		assert.Regexp(t, `^.*/configs/accounts\.yaml:\d+:\d+: key "destination\.max_deletes": invalid value: \[value\]: want a count of records such as 500, or a percentage such as 10%$`, lines[0], cmd)
		if cmd == "validate" {
			assert.Regexp(t, `^.*/retl\.yaml:\d+:\d+: key "connections\.crm\.auth": auth "magic": want jwt, client_credentials, password or soap$`, lines[1], cmd)
		}
	}
}
