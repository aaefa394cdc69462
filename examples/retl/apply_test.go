package main

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl/sealed"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// applyEnv is a rails project whose sync created A-1..A-3, and whose
// warehouse then changed A-1's and A-2's city and gained A-4.
func applyEnv(t *testing.T, kind string) *railsEnv {
	t.Helper()
	e := newRails(t, kind)
	e.sync(t, "  api: rest\n", railsMapping)
	e.exec(t, "insert into accounts values ('A-1', 'One', 'Oslo', '111', null, null), ('A-2', 'Two', 'Rome', '222', null, null), ('A-3', 'Three', 'Lima', '333', null, null)")
	r, _ := e.run(t)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	e.exec(t, "update accounts set city = 'Paris' where account_id in ('A-1', 'A-2')")
	e.exec(t, "insert into accounts values ('A-4', 'Four', 'Kyiv', '444', null, null)")
	e.writes()
	return e
}

// seal runs retl plan --out and returns the plan file's path.
func (e *railsEnv) seal(t *testing.T) string {
	t.Helper()
	return e.sealN(t, 3)
}

// sealN is seal for a plan of n records.
func (e *railsEnv) sealN(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(e.dir, "plan.json")
	r := retl(t, "plan", "--configs", e.configs, "--out", path)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf("plan sealed in %s: %d records to write", path, n))
	return path
}

func (e *railsEnv) apply(t *testing.T, args ...string) (result, string) {
	t.Helper()
	report := filepath.Join(e.dir, "apply.json")
	return retl(t, append([]string{"apply", "--configs", e.configs, "--report", report}, args...)...), report
}

// plan → apply through the command, with the state in SQLite and in
// fakesnow: apply sends exactly the planned records and fields (the
// request log), not what the warehouse holds by then, and writes its
// outcomes back.
func TestApplySendsExactlyThePlan(t *testing.T) {
	for _, kind := range []string{"sqlite", "fakesnow"} {
		t.Run(kind, func(t *testing.T) {
			e := applyEnv(t, kind)
			path := e.seal(t)
			assert.Empty(t, e.writes(), "a plan writes nothing")

			f, err := sealed.Read(path)
			require.NoError(t, err)
			require.Len(t, f.Syncs, 1)
			s := f.Syncs[0]
			assert.Equal(t, "accounts", s.Name)
			assert.Equal(t, "External_Id__c", s.KeyField)
			assert.Len(t, s.SHA256, 64)
			assert.Len(t, f.Project.SHA256, 64)
			assert.NotEmpty(t, f.RunID)
			require.Len(t, s.Records, 3)
			a1, a4 := s.Records[0], s.Records[2]
			assert.Equal(t, "A-1", a1.Key)
			assert.Equal(t, sealed.OpUpdate, a1.Op)
			assert.Equal(t, e.accounts()["A-1"]["Id"], a1.ID)
			assert.Equal(t, []sealed.Field{{Name: "BillingCity", Old: "Oslo", New: sealed.Value{Kind: "text", S: "Paris"}}}, a1.Fields)
			assert.Equal(t, "A-4", a4.Key)
			assert.Equal(t, sealed.OpCreate, a4.Op)
			assert.Len(t, a4.Fields, 4, "External_Id__c, Name, BillingCity, Phone")

			// What the warehouse says after the plan is not applied.
			e.exec(t, "update accounts set phone = '999' where account_id in ('A-1', 'A-3')")
			page := filepath.Join(e.dir, "apply.html")
			r, report := e.apply(t, path, "--html", page)
			require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
			assert.FileExists(t, page)
			got := sent(t, e.writes())
			assert.Equal(t, map[string][]string{"A-1": {"BillingCity"}, "A-2": {"BillingCity"}, "A-4": {"BillingCity", "Name", "Phone"}}, got)
			acc := e.accounts()
			assert.Equal(t, "Paris", acc["A-2"]["BillingCity"])
			assert.Equal(t, "111", acc["A-1"]["Phone"], "the phone changed after the plan is not sent")
			assert.Equal(t, "Kyiv", acc["A-4"]["BillingCity"])
			rep := readReport(t, report).Sync("accounts")
			assert.EqualValues(t, 3, rep.Read)
			assert.EqualValues(t, 1, rep.Created)
			assert.EqualValues(t, 2, rep.Updated)
			var n int
			require.NoError(t, e.state.QueryRow("SELECT COUNT(*) FROM "+e.prefix+"RECORD_RESULTS WHERE RUN_ID = ? AND OUTCOME = 'written'", readReport(t, report).RunID).Scan(&n))
			assert.Equal(t, 3, n, "the apply's outcomes are written back")
		})
	}
}

// A record edited in Salesforce between plan and apply is not sent: it is
// reported drifted; above --max-drift nothing is sent at all.
func TestApplyRefusesDriftedRecords(t *testing.T) {
	for _, kind := range []string{"sqlite", "fakesnow"} {
		t.Run(kind, func(t *testing.T) {
			e := applyEnv(t, kind)
			path := e.seal(t)
			e.handEdit(t, e.accounts()["A-2"]["Id"].(string), map[string]any{"BillingCity": "Bergen"})

			// One of three drifted: more than the default 5%.
			r, _ := e.apply(t, path)
			require.Equal(t, exitDrifted, r.code, r.stdout+r.stderr)
			assert.Contains(t, r.stderr, "1 of 3 planned records drifted since the plan, more than --max-drift 0.05; nothing was sent")
			assert.Contains(t, r.stderr, "accounts: 1 drifted since the plan, not sent:\n  A-2: changed in Salesforce since the plan: BillingCity\n")
			assert.Empty(t, e.writes(), "nothing is sent")
			assert.Nil(t, e.accounts()["A-4"])

			r, report := e.apply(t, path, "--max-drift", "0.5")
			require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
			assert.Contains(t, r.stdout, "accounts: 1 drifted since the plan, not sent:\n  A-2: changed in Salesforce since the plan: BillingCity\n")
			assert.Equal(t, map[string][]string{"A-1": {"BillingCity"}, "A-4": {"BillingCity", "Name", "Phone"}}, sent(t, e.writes()))
			assert.Equal(t, "Bergen", e.accounts()["A-2"]["BillingCity"], "the person's edit stays")
			rep := readReport(t, report)
			s := rep.Sync("accounts")
			assert.EqualValues(t, 1, s.SkipReasons[sealed.SkipDrifted])
			assert.EqualValues(t, 2, s.Written())
			var detail string
			require.NoError(t, e.state.QueryRow("SELECT REASON_DETAIL FROM "+e.prefix+"RECORD_RESULTS WHERE RUN_ID = ? AND RECORD_KEY = 'A-2' AND REASON = 'drifted'", rep.RunID).Scan(&detail))
			assert.Equal(t, "changed in Salesforce since the plan: BillingCity", detail)
		})
	}
}

// A plan made from other configuration, or too old, is refused with its
// own exit code before anything is read or sent.
func TestApplyRefusesOtherConfigAndOldPlans(t *testing.T) {
	e := applyEnv(t, "sqlite")
	path := e.seal(t)

	r, _ := e.apply(t, "--max-age", "1ns", path)
	assert.Equal(t, exitTooOld, r.code, r.stdout+r.stderr)
	assert.Regexp(t, `^plan made \S+ ago, more than --max-age 1ns; make a new plan\n$`, r.stderr)

	syncFile := filepath.Join(e.configs, "accounts.yaml")
	require.NoError(t, appendFile(syncFile, "# reviewed\n"))
	r, _ = e.apply(t, path)
	assert.Equal(t, exitOtherConfig, r.code, r.stdout+r.stderr)
	assert.Equal(t, fmt.Sprintf("plan made from other configuration: sync accounts (%s) has changed since the plan; make a new plan\n", syncFile), r.stderr)

	e.seal(t)
	require.NoError(t, appendFile(filepath.Join(e.dir, "retl.yaml"), "# reviewed\n"))
	r, _ = e.apply(t, path)
	assert.Equal(t, exitOtherConfig, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stderr, "plan made from other configuration: the project file")
	assert.Empty(t, e.writes())
}

// What cannot be sealed is refused when the plan is made, and no file is
// written; a broken plan file is a usage error.
func TestPlanOutRefusesWhatCannotBeSealed(t *testing.T) {
	e := newRails(t, "sqlite")
	e.sync(t, "  api: rest\n", railsMapping)
	require.NoError(t, appendFile(filepath.Join(e.configs, "accounts.yaml"), "change_detection: true\non_removed: delete\n"))
	e.exec(t, "insert into accounts values ('A-1', 'One', 'Oslo', '111', null, null)")
	path := filepath.Join(e.dir, "plan.json")
	r := retl(t, "plan", "--configs", e.configs, "--out", path)
	assert.Equal(t, exitFailed, r.code)
	assert.Contains(t, r.stdout+r.stderr, "sync accounts cannot be sealed in a plan file: on_removed is set")
	assert.Contains(t, r.stderr, "plan file "+path+" not written")
	assert.NoFileExists(t, path)

	r = retl(t, "plan", "--configs", e.configs, "--out", filepath.Join(e.dir, "no", "dir", "plan.json"))
	assert.Equal(t, exitInvalid, r.code)
	assert.Contains(t, r.stderr, "--out: ")

	require.NoError(t, os.WriteFile(path, []byte(`{"version": 99}`), 0o644))
	r, _ = e.apply(t, path)
	assert.Equal(t, exitInvalid, r.code)
	assert.Contains(t, r.stderr, "version 99")
	r, _ = e.apply(t)
	assert.Equal(t, exitInvalid, r.code)
	assert.Contains(t, r.stderr, "name one plan file")
}

// The GitLab example seals the plan in the merge request and applies that
// artifact on merge, with flags the command parses.
func TestGitLabExampleAppliesTheReviewedPlan(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "deploy", ".gitlab-ci.yml"))
	require.NoError(t, err)
	type job struct {
		Stage         string   `yaml:"stage"`
		Script        []string `yaml:"script"`
		ResourceGroup string   `yaml:"resource_group"`
		Artifacts     struct {
			Paths []string `yaml:"paths"`
		} `yaml:"artifacts"`
		Rules []struct {
			If string `yaml:"if"`
		} `yaml:"rules"`
	}
	var jobs struct {
		Plan  job `yaml:"plan"`
		Apply job `yaml:"apply"`
	}
	require.NoError(t, yaml.Unmarshal(b, &jobs))
	assert.Contains(t, jobs.Plan.Script[0], "--out plan.json")
	assert.Contains(t, jobs.Plan.Artifacts.Paths, "plan.json", "the sealed plan is the merge request's artifact")
	a := jobs.Apply
	require.NotEmpty(t, a.Script)
	last := a.Script[len(a.Script)-1]
	assert.Regexp(t, `^retl apply .* plan\.json$`, last)
	assert.Contains(t, strings.Join(a.Script, "\n"), "/jobs/artifacts/refs%2Fmerge-requests%2F$MR_IID%2Fhead/raw/plan.json?job=plan", "the plan the merge request's plan job sealed")
	assert.Equal(t, "retl-production", a.ResourceGroup)
	require.Len(t, a.Rules, 1)
	assert.Contains(t, a.Rules[0].If, "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH")

	// The merge request number comes from GitLab's merge commit message.
	sedExpr := regexp.MustCompile(`sed -n '([^']*)'`).FindStringSubmatch(a.Script[0])
	require.NotNil(t, sedExpr)
	sed := exec.Command("sed", "-n", sedExpr[1])
	sed.Stdin = strings.NewReader("Merge branch 'tier' into 'main'\n\nMap the tier\n\nSee merge request retl/syncs!42")
	out, err := sed.Output()
	require.NoError(t, err)
	assert.Equal(t, "42", strings.TrimSpace(string(out)))

	// The flags are the command's: it parses them.
	r := retl(t, append(strings.Fields(last)[1:], "-h")...)
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "usage: retl apply")
}

// The command's other refusals: a bad share, a plan with nothing to write,
// a configuration that does not load, and a Salesforce that cannot be
// reached for the check (nothing is sent).
func TestApplyUsageAndCheckFailures(t *testing.T) {
	e := applyEnv(t, "sqlite")
	path := e.seal(t)

	r, _ := e.apply(t, path, "--max-drift", "1.5")
	assert.Equal(t, exitInvalid, r.code)
	assert.Contains(t, r.stderr, "--max-drift 1.5: a share from 0 to 1")
	r, _ = e.apply(t, path, "another.json")
	assert.Equal(t, exitInvalid, r.code)
	assert.Contains(t, r.stderr, "name one plan file")
	r = retl(t, "apply", "--configs", filepath.Join(e.dir, "none"), path)
	assert.Equal(t, exitInvalid, r.code)
	assert.Contains(t, r.stderr, "reading the configs directory")

	f, err := sealed.Read(path)
	require.NoError(t, err)
	f.Syncs[0].Records = nil
	empty := filepath.Join(e.dir, "empty.json")
	require.NoError(t, f.Write(empty))
	r, _ = e.apply(t, empty)
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Equal(t, "the plan "+empty+" holds no record to write\n", r.stdout)

	e.srv.Fault(sftest.Fault{Path: "/services/oauth2/token", Status: http.StatusBadRequest})
	r, _ = e.apply(t, path)
	assert.Equal(t, exitFailed, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stderr, "accounts: ")
	assert.Contains(t, r.stderr, "retl apply: the current values could not be checked; nothing was sent")
	assert.Empty(t, e.writes())
}

// A planned value that holds a secret of the configuration (here the
// Salesforce password) refuses the plan file: it would carry the secret.
func TestPlanOutRefusesSecretValues(t *testing.T) {
	e := newRails(t, "sqlite")
	project := filepath.Join(e.dir, "retl.yaml")
	b, err := os.ReadFile(project)
	require.NoError(t, err)
	text := strings.Replace(string(b), "password: "+sftest.DefaultPassword+"\n", "password: ${RETL_TEST_SF_PASSWORD}\n", 1)
	require.NotEqual(t, string(b), text)
	require.NoError(t, os.WriteFile(project, []byte(text), 0o600))
	t.Setenv("RETL_TEST_SF_PASSWORD", sftest.DefaultPassword)
	e.sync(t, "  api: rest\n", railsMapping)
	e.exec(t, "insert into accounts values ('A-1', ?, 'Oslo', '111', null, null)", sftest.DefaultPassword)
	path := filepath.Join(e.dir, "plan.json")
	r := retl(t, "plan", "--configs", e.configs, "--out", path)
	assert.Equal(t, exitFiles, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stderr, "sync accounts, record A-1: Name holds a secret the configuration resolved; the plan file is not written")
	assert.NoFileExists(t, path)
}

// Through Bulk, the fields a record does not change are empty cells, which
// Salesforce ignores on update: apply still sends only the planned values.
func TestApplyThroughBulkSendsOnlyThePlannedValues(t *testing.T) {
	e := newRails(t, "sqlite")
	e.sync(t, "  api: bulk\n", railsMapping)
	e.exec(t, "insert into accounts values ('A-1', 'One', 'Oslo', '111', null, null), ('A-2', 'Two', 'Rome', '222', null, null), ('A-3', 'Three', 'Lima', '333', null, null)")
	r, _ := e.run(t)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	e.exec(t, "update accounts set city = 'Paris' where account_id = 'A-1'")
	e.exec(t, "update accounts set phone = '999' where account_id = 'A-2'")
	e.writes()
	path := filepath.Join(e.dir, "plan.json")
	r = retl(t, "plan", "--configs", e.configs, "--out", path)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	e.exec(t, "update accounts set name = 'Renamed'")

	r, _ = e.apply(t, path, "--max-drift", "0")
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	bodies := e.writes()
	require.Len(t, bodies, 1)
	rows, err := csv.NewReader(strings.NewReader(bodies[0])).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3, "a header and the two planned records")
	got := map[string]map[string]string{}
	for _, row := range rows[1:] {
		fields := map[string]string{}
		for i, v := range row {
			if v != "" && rows[0][i] != "External_Id__c" {
				fields[rows[0][i]] = v
			}
		}
		got[row[slices.Index(rows[0], "External_Id__c")]] = fields
	}
	assert.Equal(t, map[string]map[string]string{"A-1": {"BillingCity": "Paris"}, "A-2": {"Phone": "999"}}, got)
	acc := e.accounts()
	assert.Equal(t, "Paris", acc["A-1"]["BillingCity"])
	assert.Equal(t, "111", acc["A-1"]["Phone"], "an empty cell leaves the field as it is")
	assert.Equal(t, "One", acc["A-1"]["Name"], "the warehouse's later change is not sent")
	assert.Equal(t, "999", acc["A-2"]["Phone"])
	assert.Equal(t, "Rome", acc["A-2"]["BillingCity"])
}

// Change detection goes on from what apply wrote: with keep_human_edits,
// the next run takes apply's write for retl's own, not for a person's, and
// still keeps a person's edit; an insert sync's next run does not insert
// what apply inserted; a plan applied twice sends nothing the second time.
func TestApplyKeepsChangeDetectionsState(t *testing.T) {
	for _, kind := range []string{"sqlite", "fakesnow"} {
		t.Run(kind+"/keep_human_edits", func(t *testing.T) {
			e := newRails(t, kind)
			e.sync(t, "  api: rest\n  keep_human_edits: true\n", railsMapping)
			require.NoError(t, appendFile(filepath.Join(e.configs, "accounts.yaml"), "change_detection: true\n"))
			e.exec(t, "insert into accounts values ('A-1', 'One', 'Oslo', '111', null, null), ('A-2', 'Two', 'Rome', '222', null, null)")
			r, _ := e.run(t)
			require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
			e.exec(t, "update accounts set city = 'Paris'")
			path := e.sealN(t, 2)
			e.writes()
			r, report := e.apply(t, path)
			require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
			assert.EqualValues(t, 2, readReport(t, report).Sync("accounts").Updated)
			assert.Equal(t, map[string][]string{"A-1": {"BillingCity"}, "A-2": {"BillingCity"}}, sent(t, e.writes()))

			r, _ = e.apply(t, path, "--max-drift", "1")
			require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
			assert.Empty(t, e.writes(), "applied twice, nothing is sent again")

			// A person edits A-2's city; the warehouse changes both cities.
			e.handEdit(t, e.accounts()["A-2"]["Id"].(string), map[string]any{"BillingCity": "Bergen"})
			e.exec(t, "update accounts set city = 'Lyon'")
			r, report = e.run(t)
			require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
			rep := readReport(t, report).Sync("accounts")
			require.EqualValues(t, 1, rep.KeptEdits, r.stdout)
			assert.Equal(t, "A-2", rep.KeptEditRows[0].Key)
			acc := e.accounts()
			assert.Equal(t, "Lyon", acc["A-1"]["BillingCity"], "apply's write is retl's own: the run overwrites it")
			assert.Equal(t, "Bergen", acc["A-2"]["BillingCity"], "the person's edit is kept")
		})
	}
	t.Run("sqlite/insert", func(t *testing.T) {
		e := newRails(t, "sqlite")
		text := "name: accounts\nkey: ACCOUNT_ID\nsource:\n  connection: warehouse\n  query: select account_id, name from accounts order by account_id\n" +
			"destination:\n  connection: crm\n  object: Account\n  operation: insert\n  api: rest\n" +
			"mapping:\n  - {from: ACCOUNT_ID, to: External_Id__c}\n  - {from: NAME, to: Name}\nchange_detection: true\n"
		require.NoError(t, os.WriteFile(filepath.Join(e.configs, "accounts.yaml"), []byte(text), 0o644))
		e.exec(t, "insert into accounts values ('A-1', 'One', null, null, null, null), ('A-2', 'Two', null, null, null, null)")
		path := e.sealN(t, 2)
		r, _ := e.apply(t, path)
		require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
		require.Len(t, e.accounts(), 2)
		e.exec(t, "update accounts set name = 'Renamed'")
		r, report := e.run(t)
		require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
		rep := readReport(t, report).Sync("accounts")
		assert.Zero(t, rep.Created, "the run does not insert what apply inserted")
		assert.EqualValues(t, 2, rep.SkipReasons[sink.SkipAlreadyInserted], "the state holds both keys")
		assert.Len(t, e.accounts(), 2)
	})
}

// The shipped syncs (lookups, depends_on, an insert with change
// detection) seal and apply: what the plan would write, apply writes, and
// a plan made afterwards finds nothing left to create.
func TestApplyTheShippedSyncs(t *testing.T) {
	s := newDemoSetup(t, "", nil)
	path := filepath.Join(s.dir, "plan.json")
	p := retl(t, "plan", "--configs", s.configs, "--out", path, "--report", filepath.Join(s.dir, "plan-report.json"))
	require.Equal(t, exitOK, p.code, p.stdout+p.stderr)
	planRep := readReport(t, filepath.Join(s.dir, "plan-report.json"))
	f, err := sealed.Read(path)
	require.NoError(t, err)
	require.Len(t, f.Syncs, len(planRep.Syncs))
	require.Positive(t, f.Records())
	for _, ps := range f.Syncs {
		pr := planRep.Sync(ps.Name)
		require.NotNil(t, pr, ps.Name)
		assert.EqualValues(t, pr.Created+pr.Updated, len(ps.Records), ps.Name)
	}

	report := filepath.Join(s.dir, "apply.json")
	r := retl(t, "apply", "--configs", s.configs, "--report", report, path)
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	rep := readReport(t, report)
	for _, ps := range f.Syncs {
		if len(ps.Records) == 0 {
			continue
		}
		ar := rep.Sync(ps.Name)
		require.NotNil(t, ar, ps.Name)
		pr := planRep.Sync(ps.Name)
		assert.Equal(t, [2]int64{pr.Created, pr.Updated}, [2]int64{ar.Created, ar.Updated}, ps.Name)
		assert.Zero(t, ar.Failed, ps.Name)
	}

	again := retl(t, "plan", "--configs", s.configs, "--report", filepath.Join(s.dir, "again.json"))
	require.Equal(t, exitOK, again.code, again.stdout+again.stderr)
	for _, sr := range readReport(t, filepath.Join(s.dir, "again.json")).Syncs {
		assert.Zero(t, sr.Created, sr.Name)
	}
}
