package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/internal/standin"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// railsEnv is a project of one sync against the emulator, whose API
// calls pass through a proxy that keeps the body of every write (Bulk
// uploads and REST saves): what Salesforce was sent, request by request.
type railsEnv struct {
	srv     *sftest.Server
	dir     string
	configs string
	wh      *sql.DB // the source warehouse (SQLite)
	state   *sql.DB // where the writeback lives
	prefix  string  // of the writeback's tables: RETL_ or RETL.

	mu     sync.Mutex
	bodies []string
}

// newRails starts the emulator and a SQLite warehouse holding accounts,
// with the writeback in SQLite or in fakesnow.
func newRails(t *testing.T, stateKind string) *railsEnv {
	t.Helper()
	e := &railsEnv{srv: sftest.NewServer(), dir: t.TempDir()}
	t.Cleanup(e.srv.Close)
	require.NoError(t, e.srv.DefineObject(sftest.Object{Name: "Account", Fields: []sftest.Field{
		{Name: "Tier__c", Type: sftest.TypePicklist, Values: []string{"Enterprise", "SMB"}, Restricted: true},
		{Name: "Since__c", Type: sftest.TypeDate},
	}}))
	target, err := url.Parse(e.srv.URL())
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if strings.HasSuffix(r.URL.Path, "/batches") || strings.Contains(r.URL.Path, "/composite/sobjects") && r.Method != http.MethodGet {
			e.mu.Lock()
			e.bodies = append(e.bodies, string(body))
			e.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)

	warehouse := filepath.Join(e.dir, "warehouse.db")
	e.wh, err = sql.Open("sqlite", warehouse)
	require.NoError(t, err)
	t.Cleanup(func() { e.wh.Close() })
	e.exec(t, "create table accounts (account_id text, name text, city text, phone text, tier text, since text)")

	extra := "writeback: {connection: warehouse}\n"
	e.state, e.prefix = e.wh, "RETL_"
	if stateKind == "fakesnow" {
		fs := standin.Fakesnow(t)
		setup, err := sql.Open("snowflake", fs.DSN("", ""))
		require.NoError(t, err)
		_, err = setup.Exec("CREATE DATABASE D")
		require.NoError(t, err)
		require.NoError(t, setup.Close())
		e.state, err = sql.Open("snowflake", fs.DSN("D", "PUBLIC"))
		require.NoError(t, err)
		t.Cleanup(func() { e.state.Close() })
		e.prefix = "RETL."
		extra = fmt.Sprintf("  state: {type: snowflake, account: fakesnow, user: fake, password: snow-password, host: %s, port: %d, protocol: http, insecure_mode: true, database: D, schema: PUBLIC}\nwriteback: {connection: state}\n", fs.Host, fs.Port)
	}
	e.configs = filepath.Join(e.dir, "configs")
	require.NoError(t, os.MkdirAll(e.configs, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(e.dir, "retl.yaml"), fmt.Appendf(nil, `connections:
  warehouse:
    type: sql
    driver: sqlite
    dsn: %s
  crm:
    type: salesforce
    login_url: %s
    instance_url: %s
    auth: password
    client_id: %s
    client_secret: %s
    username: %s
    password: %s
%s`, warehouse, e.srv.URL(), ts.URL, sftest.DefaultClientID, sftest.DefaultClientSecret, sftest.DefaultUsername, sftest.DefaultPassword, extra), 0o600))
	return e
}

func (e *railsEnv) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	_, err := e.wh.Exec(q, args...)
	require.NoError(t, err, q)
}

// sync writes the sync file accounts.yaml: an upsert of Account by
// External_Id__c with the destination options and mapping given.
func (e *railsEnv) sync(t *testing.T, options, mapping string) {
	t.Helper()
	text := `name: accounts
key: ACCOUNT_ID
source:
  connection: warehouse
  query: select account_id, name, city, phone, tier, since from accounts order by account_id
destination:
  connection: crm
  object: Account
  operation: upsert
  match_on: External_Id__c
` + options + `mapping:
  - {from: ACCOUNT_ID, to: External_Id__c}
` + mapping + `on_failure: {max_failed_rows: 100}
`
	require.NoError(t, os.WriteFile(filepath.Join(e.configs, "accounts.yaml"), []byte(text), 0o644))
}

// writes returns, and forgets, the bodies of the writes sent so far.
func (e *railsEnv) writes() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.bodies
	e.bodies = nil
	return out
}

// sent returns, by external id, the fields each REST save carried
// besides the key.
func sent(t *testing.T, bodies []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, b := range bodies {
		var req struct {
			Records []map[string]any `json:"records"`
		}
		require.NoError(t, json.Unmarshal([]byte(b), &req), "a REST save: %s", b)
		for _, r := range req.Records {
			var fields []string
			for k := range r {
				if k != "attributes" && k != "External_Id__c" {
					fields = append(fields, k)
				}
			}
			slices.Sort(fields)
			out[fmt.Sprint(r["External_Id__c"])] = fields
		}
	}
	return out
}

// accounts returns the emulator's Accounts by external id.
func (e *railsEnv) accounts() map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range e.srv.Records("Account") {
		if k, ok := r["External_Id__c"].(string); ok && r["IsDeleted"] != true {
			out[k] = r
		}
	}
	return out
}

// handEdit changes an Account as a person would, through the emulator's
// REST API: a token by the password flow, then PATCH of the record.
func (e *railsEnv) handEdit(t *testing.T, id string, fields map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "client_id": {sftest.DefaultClientID}, "client_secret": {sftest.DefaultClientSecret},
		"username": {sftest.DefaultUsername}, "password": {sftest.DefaultPassword}}
	res, err := http.PostForm(e.srv.URL()+"/services/oauth2/token", form)
	require.NoError(t, err)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&tok))
	res.Body.Close()
	require.NotEmpty(t, tok.AccessToken)
	body, err := json.Marshal(fields)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPatch, e.srv.URL()+"/services/data/v62.0/sobjects/Account/"+id, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNoContent, res.StatusCode)
}

func (e *railsEnv) run(t *testing.T, args ...string) (result, string) {
	t.Helper()
	report := filepath.Join(e.dir, "run.json")
	r := retl(t, append([]string{"run", "--configs", e.configs, "--report", report}, args...)...)
	return r, report
}

var railsMapping = "  - {from: NAME, to: Name}\n  - {from: CITY, to: BillingCity}\n  - {from: PHONE, to: Phone}\n"

// keep_human_edits through the command, with the state in SQLite and in
// fakesnow: a sync writes records; a person edits a field through the
// REST API; the warehouse changes that field and another. With the option
// the next run keeps the edit, updates the other field and reports the
// kept field (summary, report, plan, writeback); without it both are
// overwritten.
func TestKeepHumanEditsThroughTheCommand(t *testing.T) {
	for _, kind := range []string{"sqlite", "fakesnow"} {
		for _, keep := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/keep=%v", kind, keep), func(t *testing.T) {
				e := newRails(t, kind)
				api := map[string]string{"sqlite": "bulk", "fakesnow": "rest"}[kind]
				options := "  api: " + api + "\n"
				if keep {
					options += "  keep_human_edits: true\n"
				}
				e.sync(t, options, railsMapping)
				require.NoError(t, appendFile(filepath.Join(e.configs, "accounts.yaml"), "change_detection: true\n"))
				e.exec(t, "insert into accounts values ('A-1', 'One', 'Oslo', '111', null, null), ('A-2', 'Two', 'Rome', '222', null, null)")
				r, report := e.run(t)
				require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
				require.EqualValues(t, 2, readReport(t, report).Sync("accounts").Created)

				e.handEdit(t, e.accounts()["A-1"]["Id"].(string), map[string]any{"BillingCity": "Bergen"})
				e.exec(t, "update accounts set city = 'Paris', phone = '999' where account_id = 'A-1'")

				p := retl(t, "plan", "--configs", e.configs)
				require.Equal(t, exitOK, p.code, p.stdout+p.stderr)
				r, report = e.run(t)
				require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
				rep := readReport(t, report).Sync("accounts")
				assert.EqualValues(t, 1, rep.Updated)
				assert.EqualValues(t, 1, rep.Unchanged, "change detection still skips A-2")
				got := e.accounts()["A-1"]
				assert.Equal(t, "999", got["Phone"], "the field nobody edited is updated")
				if !keep {
					assert.Equal(t, "Paris", got["BillingCity"], "without the option the edit is overwritten")
					assert.Zero(t, rep.KeptEdits)
					assert.NotContains(t, r.stdout, "edited in Salesforce")
					return
				}
				assert.Equal(t, "Bergen", got["BillingCity"], "the hand edit is kept")
				assert.EqualValues(t, 1, rep.KeptEdits)
				require.Len(t, rep.KeptEditRows, 1)
				assert.Equal(t, "A-1", rep.KeptEditRows[0].Key)
				assert.Equal(t, []string{"BillingCity"}, rep.KeptEditRows[0].KeptEdits)
				assert.Contains(t, r.stdout, "accounts: 1 fields kept, edited in Salesforce since retl wrote it:\n  A-1: BillingCity\n")
				assert.Contains(t, p.stdout, "accounts: 1 fields kept, edited in Salesforce since retl wrote it:\n  A-1: BillingCity\n", "the plan shows it")
				var edited string
				require.NoError(t, e.state.QueryRow("SELECT KEPT_EDITED FROM "+e.prefix+"RECORD_RESULTS WHERE RECORD_KEY = 'A-1' AND KEPT_EDITED IS NOT NULL AND KEPT_EDITED <> ''").Scan(&edited))
				assert.Equal(t, "BillingCity", edited)
				var counted int
				require.NoError(t, e.state.QueryRow("SELECT MAX(FIELDS_KEPT_EDITED) FROM "+e.prefix+"RUNS WHERE SYNC = 'accounts'").Scan(&counted))
				assert.Equal(t, 1, counted, "the run log counts the kept field")

				// The edit stays kept in later runs: retl's last write is
				// still what the field is compared with.
				e.exec(t, "update accounts set city = 'Lyon' where account_id = 'A-1'")
				r, _ = e.run(t)
				require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
				assert.Equal(t, "Bergen", e.accounts()["A-1"]["BillingCity"])
			})
		}
	}
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// only_if_different through the command: a rerun on unchanged data sends
// no record, and one changed field sends that field alone.
func TestOnlyIfDifferentThroughTheCommand(t *testing.T) {
	e := newRails(t, "sqlite")
	e.sync(t, "  api: rest\n  only_if_different: true\n", railsMapping)
	e.exec(t, "insert into accounts values ('A-1', 'One', 'Oslo', '111', null, null), ('A-2', 'Two', 'Rome', '222', null, null)")
	r, _ := e.run(t)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	require.Len(t, e.writes(), 1)

	r, report := e.run(t)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	assert.Empty(t, e.writes(), "no record was sent")
	assert.EqualValues(t, 2, readReport(t, report).Sync("accounts").Unchanged)

	e.exec(t, "update accounts set phone = '999' where account_id = 'A-2'")
	r, report = e.run(t)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	assert.Equal(t, map[string][]string{"A-2": {"Phone"}}, sent(t, e.writes()), "only the changed field was sent")
	rep := readReport(t, report).Sync("accounts")
	assert.EqualValues(t, 1, rep.Updated)
	assert.EqualValues(t, 1, rep.Unchanged)
	assert.Equal(t, "999", e.accounts()["A-2"]["Phone"])
}

// A bad restricted-picklist value, an over-long text and a date out of
// range fail before any request carries them, in the plan and the run
// alike: the first two with Salesforce's codes, the date with retl's
// screen's.
func TestPredictedRejectsThroughTheCommand(t *testing.T) {
	e := newRails(t, "sqlite")
	e.sync(t, "  api: rest\n", "  - {from: NAME, to: Name}\n  - {from: TIER, to: Tier__c}\n  - {from: SINCE, to: Since__c, type: date}\n")
	e.exec(t, "insert into accounts values ('A-1', 'One', null, null, 'SMB', '2024-05-01'), ('A-2', 'Two', null, null, 'Platinum', null), "+
		"(?, ?, null, null, null, null), ('A-4', 'Four', null, null, null, '1699-12-31')", "A-3", strings.Repeat("x", 256))
	want := map[string]string{"A-2": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "A-3": "STRING_TOO_LONG", "A-4": "RETL_OUT_OF_RANGE"}

	report := filepath.Join(e.dir, "plan.json")
	p := retl(t, "plan", "--configs", e.configs, "--report", report)
	require.Equal(t, exitOK, p.code, p.stdout+p.stderr)
	for key, code := range want {
		assert.Regexp(t, `(?m)^  `+key+`\s+`+code+`\s`, p.stdout)
	}
	planned := map[string]string{}
	for _, o := range readReport(t, report).Sync("accounts").FailedRows {
		planned[o.Key] = o.Err.Code
	}
	assert.Equal(t, want, planned)

	r, report := e.run(t)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	ran := map[string]string{}
	for _, o := range readReport(t, report).Sync("accounts").FailedRows {
		ran[o.Key] = o.Err.Code
		// Salesforce's own codes are marked predicted; the date range is
		// retl's own screen (RETL_OUT_OF_RANGE).
		assert.Equal(t, !strings.HasPrefix(o.Err.Code, "RETL_"), o.Err.Predicted, o.Key)
	}
	assert.Equal(t, want, ran, "the run fails the rows the plan said")
	carried := sent(t, e.writes())
	assert.Equal(t, []string{"A-1"}, slices.Sorted(mapKeys(carried)), "no request carried the bad rows")
	assert.Len(t, e.accounts(), 1)
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// A record type named by its DeveloperName and an assignment rule reach
// the emulator as Salesforce expects them: the record type's Id in the
// record, the rule's Id on the Bulk job. A restricted picklist value the
// record type lacks fails unsent, in the plan and the run.
func TestRecordTypeAndAssignmentRuleThroughTheCommand(t *testing.T) {
	e := newRails(t, "sqlite")
	require.NoError(t, e.srv.DefineObject(sftest.Object{Name: "Lead", Fields: []sftest.Field{{Name: "Channel__c", Type: sftest.TypePicklist,
		Values: []string{"Direct", "Reseller"}, Restricted: true, RecordTypeValues: map[string][]string{"Partner_Lead": {"Reseller"}}}}}))
	rt, err := e.srv.AddRecordType("Lead", "Partner_Lead", "Partner Lead")
	require.NoError(t, err)
	rule, err := e.srv.Insert("AssignmentRule", map[string]any{"Name": "Round robin", "SobjectType": "Lead", "Active": true})
	require.NoError(t, err)
	text := `name: leads
source:
  connection: warehouse
  query: select account_id, name, tier from accounts
destination:
  connection: crm
  object: Lead
  operation: upsert
  match_on: External_Id__c
  api: bulk
  assignment_rule: default
mapping:
  - {from: ACCOUNT_ID, to: External_Id__c}
  - {from: NAME, to: LastName}
  - {value: Acme, to: Company}
  - {value: Partner_Lead, to: RecordTypeId}
  - {from: TIER, to: Channel__c}
on_failure: {max_failed_rows: 10}
`
	require.NoError(t, os.WriteFile(filepath.Join(e.configs, "leads.yaml"), []byte(text), 0o644))
	e.exec(t, "insert into accounts values ('L-1', 'Ada', null, null, 'Reseller', null), ('L-2', 'Bo', null, null, null, null), "+
		"('L-3', 'Cy', null, null, 'Direct', null)")
	p := retl(t, "plan", "--configs", e.configs, "--only", "leads")
	require.Equal(t, exitOK, p.code, p.stdout+p.stderr)
	assert.Regexp(t, `(?m)^  L-3\s+INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST\s`, p.stdout, "a value the record type lacks")
	report := filepath.Join(e.dir, "leads.json")
	r := retl(t, "run", "--configs", e.configs, "--only", "leads", "--report", report)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	failed := readReport(t, report).Sync("leads").FailedRows
	require.Len(t, failed, 1)
	assert.Equal(t, "L-3", failed[0].Key)
	assert.Equal(t, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", failed[0].Err.Code)
	assert.True(t, failed[0].Err.Predicted)
	bodies := e.writes()
	require.NotEmpty(t, bodies)
	for _, b := range bodies {
		assert.NotContains(t, b, "L-3", "never sent")
	}
	jobs := e.srv.Jobs()
	require.Len(t, jobs, 1)
	assert.Equal(t, rule, jobs[0].AssignmentRuleID, "the job names the active rule")
	n := 0
	for _, l := range e.srv.Records("Lead") {
		if l["IsDeleted"] != true {
			n++
			assert.Equal(t, rt, l["RecordTypeId"], "the record type's Id, not its name")
		}
	}
	assert.Equal(t, 2, n)
}
