package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/retl-go/retl/examples/demo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDemoShowsRealOutcomes(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	r := retl(t, "demo")
	require.Equal(t, exitOK, r.code, r.stderr)
	out := r.stdout
	t.Log("\n" + out)

	assert.Contains(t, out, "Salesforce: emulator at http://127.0.0.1:")
	assert.Contains(t, out, "holding 10 accounts and 5 contacts entered by hand")
	assert.Contains(t, out, "accounts 50 rows, account_health 50 rows, contacts 120 rows, renewals 6 rows")

	// The plan, then the run, with the same numbers.
	plan := out[strings.Index(out, "== retl plan"):strings.Index(out, "== retl run")]
	assert.Regexp(t, `(?m)^accounts\s+50\s+40\s+7\s+3\s+7\s+0\s+0\s+succeeded$`, plan)
	assert.Regexp(t, `(?m)^contacts\s+120\s+112\s+5\s+0\s+5\s+3\s+0\s+succeeded$`, plan)
	assert.Contains(t, plan, "Nothing was written.")
	runOut := out[strings.Index(out, "== retl run"):strings.Index(out, "== What Salesforce holds now")]
	assert.Regexp(t, `(?m)^accounts\s+succeeded\s+50\s+40\s+10\s+0\s+0\s+0\s+7\s`, runOut)
	assert.Regexp(t, `(?m)^account_health\s+succeeded\s+10\s+0\s+10\s+0\s+0\s+0\s+0\s`, runOut)
	assert.Regexp(t, `(?m)^contacts\s+succeeded\s+120\s+112\s+5\s+0\s+3\s+0\s+5\s`, runOut)
	assert.Regexp(t, `(?m)^renewals\s+succeeded\s+6\s+6\s+0\s+0\s+0\s+0\s+0\s`, runOut)

	// The failed rows, with Salesforce's own codes.
	assert.Regexp(t, `(?m)^  C-0042\s+STRING_TOO_LONG\s+Last Name: data value too large`, runOut)
	assert.Regexp(t, `(?m)^  C-0077\s+INVALID_EMAIL_ADDRESS\s+Email: invalid email address: viktor.jensen@example`, runOut)
	assert.Regexp(t, `(?m)^  C-0113\s+INVALID_FIELD\s+Foreign key external ID: A-999 not found`, runOut)

	// What the emulator holds: the kept-back owner emails and phones
	// survive, the rest follows the warehouse.
	held := out[strings.Index(out, "== What Salesforce holds now"):strings.Index(out, "== retl run, again")]
	assert.Contains(t, held, "Account: 50 records")
	assert.Contains(t, held, "Contact: 117 records")
	assert.Contains(t, held, "Opportunity: 6 records")
	assert.Regexp(t, `(?m)^  A-004\s+\S.*account\.owner@retl-demo\.example`, held)
	assert.Regexp(t, `(?m)^  C-0001\s+A-004\s+\S+\s+\+1 555 0100\s`, held)
	assert.Contains(t, held, "  … 45 more")
	assert.Contains(t, out, "The sync files are in examples/configs.")

	// The second run sends only the rows Salesforce rejected the first time.
	again := out[strings.Index(out, "== retl run, again"):strings.Index(out, "== The run log")]
	assert.Regexp(t, `(?m)^accounts\s+succeeded\s+50\s+0\s+0\s+50\s+0\s+0\s`, again)
	assert.Regexp(t, `(?m)^contacts\s+succeeded\s+120\s+0\s+0\s+117\s+3\s+0\s`, again)
	assert.Regexp(t, `(?m)^renewals\s+succeeded\s+6\s+0\s+0\s+6\s+0\s+0\s`, again)

	// Both runs are in the warehouse's run table.
	runLog := out[strings.Index(out, "== The run log"):]
	assert.Contains(t, runLog, "from RETL_RUNS order by STARTED_AT, SYNC;")
	assert.Regexp(t, `(?m)^\S+\s+contacts\s+succeeded\s+120\s+112\s+5\s+0\s+3$`, runLog)
	assert.Regexp(t, `(?m)^\S+\s+contacts\s+succeeded\s+120\s+0\s+0\s+117\s+3$`, runLog)
}

func TestDemoWithOwnConfigs(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	dir := t.TempDir()
	configs := copyConfigs(t, dir, func(name, text string) string {
		if name == "accounts.yaml" {
			return text
		}
		return ""
	})
	for _, name := range []string{"account_health.yaml", "contacts.yaml", "renewals.yaml"} {
		require.NoError(t, os.Remove(filepath.Join(configs, name)))
	}
	r := retl(t, "demo", "--configs", configs)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Syncs: accounts (upsert Account).")
	assert.Regexp(t, `(?m)^accounts\s+succeeded\s+50\s+40\s+10\s`, r.stdout)
	assert.NotContains(t, r.stdout, "The sync files are in examples/configs.")

	// A project file of one's own, with the demo's references.
	project := filepath.Join(dir, "mine.yaml")
	b, err := os.ReadFile(filepath.Join("..", "demo", "retl.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(project, b, 0o600))
	r = retl(t, "demo", "--configs", configs, "--project", project, "--report", filepath.Join(dir, "demo.json"))
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.True(t, readReport(t, filepath.Join(dir, "demo.json")).OK())

	r = retl(t, "demo", "--project", project)
	assert.Equal(t, exitInvalid, r.code)
	assert.Contains(t, r.stderr, "demo: --project needs --configs")

	r = retl(t, "demo", "--configs", filepath.Join(dir, "nowhere"))
	assert.Equal(t, exitInvalid, r.code)

	r = retl(t, "demo", "--log-format", "xml")
	assert.Equal(t, exitInvalid, r.code)
	assert.Contains(t, r.stderr, "log format must be text or json")
}

func TestDemoKeepRunsUntilInterrupted(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"demo", "--keep"}, &out, &errOut) }()

	urlRe := regexp.MustCompile(`The emulator keeps running at (http://\S+) until Ctrl-C`)
	var url string
	require.Eventually(t, func() bool {
		if m := urlRe.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
			return true
		}
		return false
	}, time.Minute, 20*time.Millisecond, "stdout: %s\nstderr: %s", out.String(), errOut.String())

	// Still answering after the demo printed its results.
	resp, err := http.Get(url + "/__sftest/records/Opportunity")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "renewal 2026")

	// The printed command reaches the same emulator and warehouse.
	m := regexp.MustCompile(`(?m)^  (RETL_DEMO_SALESFORCE_URL)=(\S+) (RETL_DEMO_WAREHOUSE_DSN)=(\S+) \\\n\s+go run \./examples/retl plan --configs examples/configs --project (\S+)$`).FindStringSubmatch(out.String())
	require.Len(t, m, 6, out.String())
	t.Setenv(m[1], m[2])
	t.Setenv(m[3], m[4])
	r := retl(t, "plan", "--configs", filepath.Join("..", "configs"), "--project", m[5])
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, `(?m)^accounts\s+50\s+0\s+0\s+50\s`, r.stdout, "everything is in place now")
	// Converged: after the demo's runs, no shipped sync has anything left
	// to create or update (rows Salesforce refuses fail the same way again).
	for _, name := range []string{"accounts", "contacts", "account_health", "renewals"} {
		m := regexp.MustCompile(`(?m)^` + name + `\s+(\d+)\s+(\d+)\s+(\d+)\s`).FindStringSubmatch(r.stdout)
		require.Len(t, m, 4, "plan row of %s:\n%s", name, r.stdout)
		assert.Equal(t, "0", m[2], "%s would create nothing", name)
		assert.Equal(t, "0", m[3], "%s would update nothing", name)
	}
	assert.Contains(t, out.String(), "failed rows written to", "--keep keeps the failed-rows files")

	cancel()
	select {
	case code := <-done:
		assert.Equal(t, exitOK, code)
	case <-time.After(30 * time.Second):
		t.Fatal("demo --keep did not stop when interrupted")
	}
	left, err := filepath.Glob(filepath.Join(tmp, "retl-demo-*"))
	require.NoError(t, err)
	assert.Empty(t, left, "the interrupted demo removes its temporary directory")
}

// withDemoFiles replaces the demo's embedded files for one test.
func withDemoFiles(t *testing.T, edit func(m fstest.MapFS)) {
	t.Helper()
	m := fstest.MapFS{}
	require.NoError(t, fs.WalkDir(demo.Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(demo.Files, path)
		m[path] = &fstest.MapFile{Data: b}
		return err
	}))
	edit(m)
	old := demoOptions
	demoOptions.Files = m
	t.Cleanup(func() { demoOptions = old })
}

func TestDemoSetupErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(m fstest.MapFS)
		code int
		want string
	}{
		{"no schema", func(m fstest.MapFS) { delete(m, "schema.yaml") }, exitFailed, "demo: open schema.yaml"},
		{"bad schema", func(m fstest.MapFS) { m["schema.yaml"].Data = []byte("objects: [{name: 1x, fields: oops}]") }, exitFailed, "demo: starting the Salesforce emulator"},
		{"no warehouse", func(m fstest.MapFS) { delete(m, "warehouse.sql") }, exitFailed, "demo: open warehouse.sql"},
		{"bad sql", func(m fstest.MapFS) { m["warehouse.sql"].Data = []byte("create tabel x (a int);") }, exitFailed, "demo: warehouse: "},
		{"missing table", func(m fstest.MapFS) {
			m["warehouse.sql"].Data = []byte("create table accounts (a int);")
		}, exitFailed, "demo: warehouse: "},
		{"no seed", func(m fstest.MapFS) { delete(m, "seed.yaml") }, exitFailed, "demo: open seed.yaml"},
		{"bad seed", func(m fstest.MapFS) { m["seed.yaml"].Data = []byte("Lead: []\n") }, exitFailed, "demo: seed: "},
		{"seed rejected", func(m fstest.MapFS) {
			m["seed.yaml"].Data = []byte("Account:\n  - {Name: x, Nope__c: 1}\n")
		}, exitFailed, "demo: seed: sftest: insert Account"},
		{"seed without replica", func(m fstest.MapFS) {
			m["warehouse.sql"].Data = []byte(strings.Replace(string(m["warehouse.sql"].Data), "create table crm_accounts", "create table crm_elsewhere", 1))
		}, exitFailed, "demo: warehouse: "},
		{"no project", func(m fstest.MapFS) { delete(m, "retl.yaml") }, exitInvalid, "demo: open retl.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TMPDIR", t.TempDir())
			withDemoFiles(t, tc.edit)
			r := retl(t, "demo")
			assert.Equal(t, tc.code, r.code, r.stderr)
			assert.Contains(t, r.stderr, tc.want)
		})
	}

	t.Run("no temporary directory", func(t *testing.T) {
		t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
		r := retl(t, "demo")
		assert.Equal(t, exitFailed, r.code)
		assert.Contains(t, r.stderr, "demo: ")
	})
}

func TestDemoStopsWhenTheProjectIsInvalid(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("..", "demo", "retl.yaml"))
	require.NoError(t, err)

	// The plan finds the sink cannot be built.
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(strings.Replace(string(b), "auth: password", "auth: magic", 1)), 0o600))
	r := retl(t, "demo", "--configs", filepath.Join("..", "configs"), "--project", bad)
	assert.Equal(t, exitInvalid, r.code)
	assert.Contains(t, r.stderr, `auth "magic"`)
	assert.NotContains(t, r.stdout, "== retl run")

	// Alerts are built for the run only: it stops there.
	email := filepath.Join(dir, "email.yaml")
	require.NoError(t, os.WriteFile(email, append(b, []byte("alerts:\n  on_sync_failure: true\n  email: {connection: warehouse, integration: X, recipients: [a@example.com]}\n")...), 0o600))
	r = retl(t, "demo", "--configs", filepath.Join("..", "configs"), "--project", email)
	assert.Equal(t, exitInvalid, r.code)
	assert.Contains(t, r.stdout, "== retl run")
	assert.NotContains(t, r.stdout, "== What Salesforce holds now")
}

// brokenWriter fails once it has taken limit bytes.
type brokenWriter struct{ n, limit int }

func (w *brokenWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.limit {
		return 0, errors.New("write failed")
	}
	w.n += len(p)
	return len(p), nil
}

func TestSummaryThatCannotBePrinted(t *testing.T) {
	s := newDemoSetup(t, "", nil)
	for _, tc := range []struct {
		cmd   string
		limit int
	}{{"plan", 1}, {"plan", 600}, {"run", 1}} {
		var errOut syncBuffer
		code := run(context.Background(), []string{tc.cmd, "--configs", s.configs, "--log-level", "error"}, &brokenWriter{limit: tc.limit}, &errOut)
		assert.Equal(t, exitOK, code, "%s: the run's outcome does not depend on its printout", tc.cmd)
		assert.Contains(t, errOut.String(), "write failed", tc.cmd)
	}
}
