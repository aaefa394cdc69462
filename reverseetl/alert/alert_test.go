package alert

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
)

// fake records the messages it is asked to send.
type fake struct {
	name string
	err  error
	mu   sync.Mutex
	msgs [][2]string
}

func (f *fake) Notify(_ context.Context, subject, body string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, [2]string{subject, body})
	return f.err
}

func (f *fake) Name() string { return f.name }

type panicky struct{}

func (panicky) Notify(context.Context, string, string) error { panic("boom") }

type slow struct{}

func (slow) Notify(ctx context.Context, _, _ string) error {
	<-ctx.Done()
	return ctx.Err()
}

func intp(n int) *int { return &n }

func failedRow(key, code string, fields ...string) reverseetl.Outcome {
	return reverseetl.Outcome{Key: key, Kind: reverseetl.RowFailed, Err: &sink.RecordError{Code: code, Message: "value secret-value-1 rejected", Fields: fields}}
}

func report() *reverseetl.Report {
	return &reverseetl.Report{
		RunID: "20240501T100000Z-abcdef", Duration: 1500 * time.Millisecond,
		Syncs: []*reverseetl.SyncReport{
			{Name: "accounts", Status: reverseetl.Succeeded, Read: 50, Created: 40, Updated: 10},
			{Name: "contacts", Status: reverseetl.Failed, Read: 120, Created: 100, Updated: 8, Failed: 12,
				Error: "12 rows failed, more than on_failure.max_failed_rows (5)",
				FailedRows: []reverseetl.Outcome{
					failedRow("C-001", "INVALID_EMAIL_ADDRESS", "Email"),
					failedRow("C-002", "STRING_TOO_LONG", "LastName"),
					failedRow("C-003", "INVALID_FIELD"),
					failedRow("C-004", "INVALID_FIELD"),
					failedRow("C-005", "INVALID_FIELD"),
					failedRow("C-006", "INVALID_FIELD"),
				}},
			{Name: "account_health", Status: reverseetl.SkippedSync, Error: `parent sync "contacts" failed`},
		},
	}
}

func TestRulesCheck(t *testing.T) {
	rep := report()
	assert.Nil(t, Rules{}.Check(rep), "no rule set")
	assert.Nil(t, Rules{OnSyncFailure: true}.Check(nil))

	got := Rules{OnSyncFailure: true}.Check(rep)
	require.Len(t, got, 1)
	assert.Equal(t, "2 syncs did not succeed: contacts (failed), account_health (skipped)", got[0])

	got = Rules{FailedRowsAbove: intp(10)}.Check(rep)
	require.Len(t, got, 1)
	assert.Equal(t, "contacts has 12 failed rows, more than failed_rows_above (10)", got[0])

	assert.Nil(t, Rules{FailedRowsAbove: intp(12)}.Check(rep), "12 is not above 12")

	ok := &reverseetl.Report{Syncs: []*reverseetl.SyncReport{{Name: "a", Status: reverseetl.Succeeded, Failed: 3}}}
	assert.Nil(t, Rules{OnSyncFailure: true}.Check(ok))
	assert.Len(t, Rules{OnSyncFailure: true, FailedRowsAbove: intp(0)}.Check(ok), 1, "0 fires on any failed row")

	lost := &reverseetl.Report{Syncs: []*reverseetl.SyncReport{{Name: "a", Status: reverseetl.Succeeded, WritebackFailed: true}}}
	assert.Equal(t, []string{"the warehouse writeback failed for a"}, Rules{OnSyncFailure: true}.Check(lost))
}

func TestRulesFrom(t *testing.T) {
	r := RulesFrom(config.Alerts{OnSyncFailure: true, FailedRowsAbove: intp(7)})
	assert.True(t, r.OnSyncFailure)
	assert.Equal(t, 7, *r.FailedRowsAbove)
}

func TestSummary(t *testing.T) {
	subject, body := Summary(report(), []string{"2 syncs did not succeed"})
	assert.Equal(t, "retl: 2 of 3 syncs failed", subject)
	for _, want := range []string{
		"Run 20240501T100000Z-abcdef: 3 syncs in 1.5s.",
		"Alert: 2 syncs did not succeed.",
		"accounts: succeeded (read 50, created 40, updated 10, failed 0, skipped 0)",
		"contacts: failed (read 120, created 100, updated 8, failed 12, skipped 0)",
		"  error: 12 rows failed, more than on_failure.max_failed_rows (5)",
		"  row C-001: INVALID_EMAIL_ADDRESS (Email)",
		"  row C-002: STRING_TOO_LONG (LastName)",
		"  row C-005: INVALID_FIELD",
		"  … and 7 more failed rows",
		"account_health: skipped",
	} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, "C-006", "only the first rows are listed")
	assert.NotContains(t, body, "secret-value-1", "messages may quote values; the alert leaves them out")

	ok := &reverseetl.Report{Syncs: []*reverseetl.SyncReport{
		{Name: "a", Status: reverseetl.Succeeded, Failed: 1}, {Name: "b", Status: reverseetl.Succeeded, Failed: 2}}}
	subject, _ = Summary(ok, nil)
	assert.Equal(t, "retl: 2 of 2 syncs succeeded, 3 rows failed in 2 syncs", subject)
	ok.Syncs = ok.Syncs[:1]
	subject, _ = Summary(ok, nil)
	assert.Equal(t, "retl: 1 of 1 syncs succeeded, 1 row failed in 1 sync", subject)
	ok.Syncs[0].Failed = 0
	subject, _ = Summary(ok, nil)
	assert.Equal(t, "retl: 1 of 1 syncs succeeded", subject)
}

func TestSummaryLongError(t *testing.T) {
	rep := &reverseetl.Report{Syncs: []*reverseetl.SyncReport{{Name: "a", Status: reverseetl.Failed,
		Error: "line one\nline two " + strings.Repeat("x", 400)}}}
	_, body := Summary(rep, nil)
	assert.Contains(t, body, "error: line one line two xxx")
	assert.Contains(t, body, "…\n")
}

func logger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

func TestObserverSendsOneSummaryToEveryNotifier(t *testing.T) {
	a, b := &fake{name: "a"}, &fake{name: "b"}
	log, buf := logger()
	o := NewObserver(Rules{OnSyncFailure: true, FailedRowsAbove: intp(10)}, []Notifier{a, b}, WithLogger(log))
	var _ reverseetl.Observer = o
	o.RunFinished(context.Background(), report())

	for _, f := range []*fake{a, b} {
		require.Len(t, f.msgs, 1, "one message per run, however many rules fire")
		assert.Equal(t, "retl: 2 of 3 syncs failed", f.msgs[0][0])
		assert.Contains(t, f.msgs[0][1], "Alert: 2 syncs did not succeed")
		assert.Contains(t, f.msgs[0][1], "Alert: contacts has 12 failed rows")
	}
	assert.Equal(t, []Sent{{Notifier: "a"}, {Notifier: "b"}}, o.Sent())
	assert.Contains(t, buf.String(), `msg="alert sent" notifier=a`)
}

func TestObserverQuietWhenNoRuleFires(t *testing.T) {
	a := &fake{name: "a"}
	rep := &reverseetl.Report{Syncs: []*reverseetl.SyncReport{{Name: "a", Status: reverseetl.Succeeded, Failed: 2}}}
	NewObserver(Rules{OnSyncFailure: true, FailedRowsAbove: intp(2)}, []Notifier{a}).RunFinished(context.Background(), rep)
	assert.Empty(t, a.msgs)

	// Rules fire but nobody is configured: nothing to do, nothing logged.
	log, buf := logger()
	NewObserver(Rules{OnSyncFailure: true}, nil, WithLogger(log)).RunFinished(context.Background(), report())
	assert.Empty(t, buf.String())
}

func TestObserverFailureIsLoggedAndOthersStillSent(t *testing.T) {
	red := &config.Redactor{}
	red.Add("tok-123456")
	broken := &fake{name: "broken", err: errors.New("refused with tok-123456")}
	good := &fake{name: "good"}
	log, buf := logger()
	o := NewObserver(Rules{OnSyncFailure: true}, []Notifier{broken, panicky{}, slow{}, good},
		WithLogger(log), WithRedactor(red), WithTimeout(20*time.Millisecond))
	o.RunFinished(context.Background(), report())

	require.Len(t, good.msgs, 1)
	sent := o.Sent()
	require.Len(t, sent, 4)
	assert.EqualError(t, sent[0].Err, "refused with tok-123456")
	assert.EqualError(t, sent[1].Err, "panic: boom")
	assert.Equal(t, "alert.panicky", sent[1].Notifier)
	assert.ErrorIs(t, sent[2].Err, context.DeadlineExceeded)
	assert.NoError(t, sent[3].Err)

	logs := buf.String()
	assert.Contains(t, logs, `level=ERROR msg="alert not sent" notifier=broken error="refused with [REDACTED]"`)
	assert.Contains(t, logs, `notifier=alert.panicky error="panic: boom"`)
	assert.NotContains(t, logs, "tok-123456")
}

func TestObserverRedactsMessage(t *testing.T) {
	red := &config.Redactor{}
	red.Add("hunter2-password")
	rep := report()
	rep.Syncs[1].Error = "login failed for hunter2-password"
	a := &fake{name: "a"}
	NewObserver(Rules{OnSyncFailure: true}, []Notifier{a}, WithRedactor(red)).RunFinished(context.Background(), rep)
	require.Len(t, a.msgs, 1)
	assert.NotContains(t, a.msgs[0][1], "hunter2-password")
	assert.Contains(t, a.msgs[0][1], "login failed for [REDACTED]")
}

func TestObserverInEngine(t *testing.T) {
	// The Engine calls RunFinished once, after every sync.
	a := &fake{name: "a"}
	o := NewObserver(Rules{OnSyncFailure: true}, []Notifier{a})
	reg := reverseetl.NewRegistry()
	eng := reverseetl.New(reg, reverseetl.WithObserver(o), reverseetl.WithLogger(slog.New(slog.DiscardHandler)))
	p, err := config.Parse(context.Background(), "", nil, map[string][]byte{"s.yaml": []byte(`
source: {type: nowhere, query: select 1}
destination: {type: nothing}
mapping: [{from: A, to: Name}]
`)})
	require.NoError(t, err)
	rep, err := eng.Run(context.Background(), p, reverseetl.RunOptions{})
	require.NoError(t, err)
	require.False(t, rep.OK())
	require.Len(t, a.msgs, 1)
	assert.Equal(t, "retl: 1 of 1 syncs failed", a.msgs[0][0])
	assert.Contains(t, a.msgs[0][1], `source type "nowhere" is not registered`)
}

func TestNameOf(t *testing.T) {
	assert.Equal(t, "x", NameOf(&fake{name: "x"}))
	assert.Equal(t, "mail", NameOf(WithName("mail", panicky{})))
	assert.Equal(t, "alert.slow", NameOf(slow{}))
}
