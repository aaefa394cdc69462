package review_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
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
	"github.com/retl-go/retl/reverseetl/review"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	"github.com/retl-go/retl/source"
	memsource "github.com/retl-go/retl/source/memory"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// planReport is a plan of three syncs: one that would write, with field
// changes, kept-back fields and skips; one whose failures exceed
// on_failure; one that stopped on an error.
func planReport() *reverseetl.Report {
	limit := &reverseetl.FailureLimitError{Failed: 5, Read: 8, Key: "max_failed_rows", Limit: 2}
	return &reverseetl.Report{RunID: "20260102T030405Z-ab12", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Duration: 1500 * time.Millisecond,
		Syncs: []*reverseetl.SyncReport{
			{Name: "accounts", File: "accounts.yaml", Status: reverseetl.Succeeded, Read: 12, Created: 2, Updated: 5, Unchanged: 4, Skipped: 5,
				KeptBack: 3, KeptBackFields: map[string]int64{"Industry": 2, "Rating": 1},
				KeptEdits: 3, KeptEditRows: []reverseetl.Outcome{{Key: "A-004", Kind: reverseetl.Written, KeptEdits: []string{"Phone", "BillingCity"}}},
				SkipReasons: map[sink.SkipCode]int64{sink.SkipUnchanged: 4, sink.SkipNotFound: 1},
				Changes: []reverseetl.PlannedChange{
					{Key: "A-001", ID: "001000000000001AAA", Fields: []sink.FieldChange{{Field: "NumberOfEmployees", From: "450", To: "900"}, {Field: "Tier__c", From: "SMB", To: "Mid-Market"}}},
					{Key: "A-002", ID: "001000000000002AAA", Fields: []sink.FieldChange{{Field: "Description", From: "", To: "<b>bold</b> & more"}}},
					{Key: "A-003", Create: true, Fields: []sink.FieldChange{{Field: "Name", To: "Initech"}, {Field: "Email__c", To: reverseetl.Excluded}}},
				}},
			{Name: "contacts", File: "contacts.yaml", Status: reverseetl.Failed, Read: 8, Created: 3, Failed: 5,
				Error: limit.Error(), Err: limit,
				FailedRows: []reverseetl.Outcome{
					{Key: "C-1", Kind: reverseetl.RowFailed, Err: &sink.RecordError{Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [LastName]", Fields: []string{"LastName"}}},
					{Key: "C-2", Kind: reverseetl.RowFailed, Err: &sink.RecordError{Code: "INVALID_EMAIL_ADDRESS", Message: "Email: invalid email address: [EXCLUDED]", Fields: []string{"Email"}}},
					{Key: "C-3", Kind: reverseetl.RowFailed, Err: &sink.RecordError{Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [LastName]", Fields: []string{"LastName"}}},
					{Key: "C-4", Kind: reverseetl.RowFailed, Err: &sink.RecordError{Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [LastName]", Fields: []string{"LastName"}}},
					{Key: "C-5", Kind: reverseetl.RowFailed, Err: &sink.RecordError{Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [LastName]", Fields: []string{"LastName"}}},
				}},
			{Name: "renewals", File: "renewals.yaml", Status: reverseetl.Failed, Error: "salesforce: login: invalid_grant: authentication failure",
				Warnings: []string{"writeback: table RETL_RUNS is not writable"}},
		}}
}

// runReport is a run of one sync, with its API use and a delete.
func runReport() *reverseetl.Report {
	return &reverseetl.Report{RunID: "20260102T040000Z-cd34", Started: time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC), Duration: 83 * time.Second,
		Syncs: []*reverseetl.SyncReport{
			{Name: "accounts", Status: reverseetl.Succeeded, Duration: 81250 * time.Millisecond, Read: 10000, Created: 120, Updated: 9800, Failed: 2, Skipped: 78,
				Unchanged: 70, Deleted: 30, SkipReasons: map[sink.SkipCode]int64{sink.SkipUnchanged: 70, sink.SkipDuplicateKey: 8},
				Removed: &reverseetl.RemovedReport{Action: "delete", Found: 3, Done: 3},
				Altered: 2, AlteredRows: []reverseetl.Outcome{{Key: "A-7", ID: "001000000000007AAA", Kind: reverseetl.Written,
					Altered: []sink.FieldChange{{Field: "Name", From: "acme", To: "ACME"}}}},
				Stats: &sink.Statistics{API: "bulk", Calls: 14, Jobs: []string{"750000000000001", "750000000000002"}, Counts: map[string]int64{"daily_api_remaining": 14950}},
				FailedRows: []reverseetl.Outcome{
					{Key: "A-9", Kind: reverseetl.RowFailed, Err: &sink.RecordError{Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: "Employees must be positive"}},
					{Key: "A-10", Kind: reverseetl.RowFailed, Err: &sink.RecordError{Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: "Employees must be positive"}},
				}},
		}}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to write %s", path)
	assert.Equal(t, string(want), string(got), "the page changed: check it, then go test -update")
}

func TestHTMLGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  *reverseetl.Report
		opts review.Options
	}{
		{"plan.html", planReport(), review.Options{Plan: true}},
		{"run.html", runReport(), review.Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, review.HTML(&b, tc.rep, tc.opts))
			golden(t, tc.name, b.Bytes())
		})
	}
}

// The page holds what a reviewer needs, escaped, and refers to nothing
// outside itself.
func TestHTMLContents(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, review.HTML(&b, planReport(), review.Options{Plan: true}))
	page := b.String()
	for _, want := range []string{
		"<title>retl plan 20260102T030405Z-ab12</title>",
		"2 of 3 syncs would fail",
		`<a href="#sync-1">accounts</a>`,
		"<code>A-001</code>", "001000000000001AAA", "NumberOfEmployees", ">450<", ">900<",
		"&lt;b&gt;bold&lt;/b&gt; &amp; more",
		"would fail", "<code>REQUIRED_FIELD_MISSING</code></td><td class=\"n\">4</td><td>LastName</td>",
		"and 1 more", "Industry", "set_if_empty", "not_found",
		"salesforce: login: invalid_grant", "warning: writeback: table RETL_RUNS is not writable",
		"nothing was written",
		"<tr><td>BillingCity</td><td>keep_human_edits: edited in Salesforce since retl wrote it</td><td class=\"n\">1</td></tr>",
		"<tr><td>(in rows not listed)</td><td>keep_human_edits: edited in Salesforce since retl wrote it</td><td class=\"n\">1</td></tr>",
	} {
		assert.Contains(t, page, want)
	}
	assert.NotContains(t, page, "<b>bold")
	for _, external := range []string{"<script", "<link", "src=", "@import", "url(", "http://", "https://"} {
		assert.NotContains(t, page, external, "the page is self-contained")
	}
}

// A run with verify lists the fields Salesforce stored otherwise than
// sent, and counts the altered records it does not list.
func TestHTMLShowsAlteredFields(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, review.HTML(&b, runReport(), review.Options{}))
	page := b.String()
	assert.Contains(t, page, "Stored otherwise than sent (verify)")
	assert.Contains(t, page, `<tr><td><code>A-7</code></td><td class="v">001000000000007AAA</td><td>Name</td><td class="v from">acme</td><td class="v to">ACME</td></tr>`)
	assert.Contains(t, page, "and 1 more altered records, not listed")
}

// Each table holds at most Rows entries per sync and counts the rest.
func TestHTMLCapsRows(t *testing.T) {
	s := &reverseetl.SyncReport{Name: "big", Status: reverseetl.Succeeded, Read: 5000, Updated: 4000, Failed: 1000}
	for i := range 20 {
		s.Changes = append(s.Changes, reverseetl.PlannedChange{Key: fmt.Sprintf("K-%02d", i), ID: fmt.Sprintf("001%015d", i),
			Fields: []sink.FieldChange{{Field: "Name", From: "a", To: "b"}}})
	}
	for i := range 1000 {
		s.FailedRows = append(s.FailedRows, reverseetl.Outcome{Key: fmt.Sprintf("F-%d", i), Kind: reverseetl.RowFailed,
			Err: &sink.RecordError{Code: fmt.Sprintf("CODE_%02d", i%12), Message: "refused"}})
	}
	var b bytes.Buffer
	require.NoError(t, review.HTML(&b, &reverseetl.Report{Syncs: []*reverseetl.SyncReport{s}}, review.Options{Plan: true, Rows: 5}))
	page := b.String()
	assert.Contains(t, page, "<code>K-04</code>")
	assert.NotContains(t, page, "<code>K-05</code>")
	assert.Contains(t, page, "and 3995 more records to write, not listed")
	assert.Equal(t, 5, strings.Count(page, "<tr><td><code>CODE_"), "five codes of twelve")
	assert.Contains(t, page, "and 7 more codes")
	assert.Contains(t, page, "and 81 more</li>", "84 rows of CODE_00, three shown")
}

// A run's page gives its duration and API use; a report without syncs
// still renders.
func TestHTMLRunAndEmpty(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, review.HTML(&b, runReport(), review.Options{Title: "nightly"}))
	page := b.String()
	for _, want := range []string{"<h1>nightly</h1>", "1 of 1 syncs succeeded", "1m23s", "1m21.25s", "<dt>API</dt><dd>bulk</dd>",
		"<dt>API calls</dt><dd>14</dd>", "<code>750000000000002</code>", "<dt>daily_api_remaining</dt><dd>14950</dd>",
		"deleted 30 records", "on_removed: 3 records this sync wrote are no longer in its query: deleted 3, failed 0, skipped 0"} {
		assert.Contains(t, page, want)
	}
	assert.NotContains(t, page, "nothing was written")

	b.Reset()
	require.NoError(t, review.HTML(&b, &reverseetl.Report{}, review.Options{Plan: true}))
	assert.Contains(t, b.String(), `<p class="verdict bad">no sync ran</p>`)

	// A skipped sync is no failure, nor a success.
	rep := runReport()
	rep.Syncs = append(rep.Syncs, &reverseetl.SyncReport{Name: "contacts", Status: reverseetl.SkippedSync, Error: "another run holds the lease"})
	b.Reset()
	require.NoError(t, review.HTML(&b, rep, review.Options{}))
	assert.Contains(t, b.String(), `<p class="verdict bad">1 of 2 syncs succeeded</p>`)
	assert.Contains(t, b.String(), `<span class="badge other">skipped</span>`)
}

type failingWriter struct{}

var errDiskFull = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestWriteErrors(t *testing.T) {
	err := review.HTML(failingWriter{}, planReport(), review.Options{Plan: true})
	assert.ErrorIs(t, err, errDiskFull)
	assert.ErrorContains(t, err, "review page")
	assert.ErrorIs(t, review.Text(failingWriter{}, planReport(), review.Options{Plan: true, Changes: 5}), errDiskFull)
	assert.ErrorIs(t, review.Text(failingWriter{}, runReport(), review.Options{}), errDiskFull)
}

// planner plans every record as an update from "old <value>", but for
// the key K2, which it refuses echoing every value, as Salesforce does.
type planner struct{ *memory.Sink }

func (p planner) Plan(_ context.Context, recs []sink.Record) ([]sink.Result, error) {
	res := make([]sink.Result, len(recs))
	for i, r := range recs {
		var ch []sink.FieldChange
		var values []string
		for j, f := range r.Layout.Fields {
			ch = append(ch, sink.FieldChange{Field: f, From: "old " + r.Values[j].S, To: r.Values[j].S})
			values = append(values, r.Values[j].S)
		}
		res[i] = sink.Result{ID: "001" + r.Key, Changes: ch}
		if r.Key == "K2" {
			res[i] = sink.Result{Err: &sink.RecordError{Code: "INVALID_EMAIL_ADDRESS", Message: "invalid: " + strings.Join(values, " "), Fields: []string{"Email"}}}
		}
	}
	return res, nil
}

// A secret and an excluded field's value, in a plan's values, reach
// neither the page nor the text.
func TestNoSecretOrExcludedValue(t *testing.T) {
	const secret, email = "s3cr3t-api-token-value", "viktor.jensen@example.com"
	reg := reverseetl.NewRegistry()
	reg.RegisterSource("rows", func(context.Context, reverseetl.BuildContext) (source.Source, error) {
		return memsource.New([]string{"ID", "NOTE", "EMAIL"}, [][]any{{"K1", "token " + secret, email}, {"K2", secret, email}}), nil
	})
	reg.RegisterSink("crm", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) {
		return planner{memory.New("Ext")}, nil
	})
	red := &config.Redactor{}
	red.Add(secret)
	s := &config.Sync{Name: "people", Key: "ID", Source: config.SourceSpec{Type: "rows"}, Destination: config.DestinationSpec{Type: "crm"},
		Mapping: []*config.Mapping{{From: "ID", To: "Ext"}, {From: "NOTE", To: "Description"}, {From: "EMAIL", To: "Email"}}}
	p := &config.Project{Syncs: []*config.Sync{s}, Redactor: red, Writeback: &config.Writeback{ExcludeFields: []string{"Email"}}}
	rep, err := reverseetl.New(reg, reverseetl.WithLogger(slog.New(slog.DiscardHandler))).Run(context.Background(), p, reverseetl.RunOptions{Plan: true})
	require.NoError(t, err)
	require.Len(t, rep.Sync("people").Changes, 1, "the plan has the change")

	var page, text bytes.Buffer
	require.NoError(t, review.HTML(&page, rep, review.Options{Plan: true}))
	require.NoError(t, review.Text(&text, rep, review.Options{Plan: true, Changes: 5}))
	for _, out := range []string{page.String(), text.String()} {
		assert.Contains(t, out, "Description")
		assert.Contains(t, out, "INVALID_EMAIL_ADDRESS")
		assert.Contains(t, out, reverseetl.Excluded)
		assert.NotContains(t, out, secret)
		assert.NotContains(t, out, "viktor")
	}
}

// The page file is written whole, and a path retl will not replace is
// refused.
func TestWriteHTMLFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.html")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
	require.NoError(t, review.WriteHTMLFile(path, planReport(), review.Options{Plan: true}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), "<!DOCTYPE html>"))
	assert.Contains(t, string(b), "REQUIRED_FIELD_MISSING")

	err = review.WriteHTMLFile(dir, planReport(), review.Options{Plan: true})
	assert.ErrorIs(t, err, reverseetl.ErrNotReplaceable)
	assert.ErrorContains(t, err, "review page "+dir)

	err = review.WriteHTMLFile(filepath.Join(dir, "missing", "plan.html"), planReport(), review.Options{Plan: true})
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorContains(t, err, "the previous file, if any, is unchanged")
}
