// Package alert tells people when a run goes wrong. An Observer, added to
// the Engine with reverseetl.WithObserver, checks the project's alert rules
// when the run finishes and, if one fires, sends one summary of the whole
// run to every notifier: a Slack-compatible webhook, Snowflake email, or
// any type with a Notify method.
//
// An alert that cannot be sent is logged and never changes the run's
// outcome: the report, the exit code and the failed-rows files stay the
// record of what happened.
package alert

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
)

// Notifier sends one message.
type Notifier interface {
	Notify(ctx context.Context, subject, body string) error
}

// Named is implemented by notifiers that can say what they are in a log
// line (for example "webhook hooks.slack.com"), without any credential.
type Named interface {
	Name() string
}

// Rules say when a run is worth an alert. The zero Rules never fire.
type Rules struct {
	// OnSyncFailure fires when any sync did not succeed.
	OnSyncFailure bool
	// FailedRowsAbove, when set, fires when any sync has more failed rows.
	FailedRowsAbove *int
}

// RulesFrom takes the rules of the project file's alerts section.
func RulesFrom(a config.Alerts) Rules {
	return Rules{OnSyncFailure: a.OnSyncFailure, FailedRowsAbove: a.FailedRowsAbove}
}

// Check returns why the rules fire for the report, one reason a line; nil
// when they do not.
func (r Rules) Check(rep *reverseetl.Report) []string {
	if rep == nil {
		return nil
	}
	var reasons []string
	if r.OnSyncFailure {
		var names []string
		for _, s := range rep.Syncs {
			if s.Status != reverseetl.Succeeded {
				names = append(names, fmt.Sprintf("%s (%s)", s.Name, s.Status))
			}
		}
		if len(names) > 0 {
			reasons = append(reasons, fmt.Sprintf("%s did not succeed: %s", plural(len(names), "sync", "syncs"), strings.Join(names, ", ")))
		}
		// Outcomes that did not reach the warehouse are a failure of the
		// run even when Salesforce took every row.
		var lost []string
		for _, s := range rep.Syncs {
			if s.WritebackFailed {
				lost = append(lost, s.Name)
			}
		}
		if len(lost) > 0 {
			reasons = append(reasons, "the warehouse writeback failed for "+strings.Join(lost, ", "))
		}
	}
	if r.FailedRowsAbove != nil {
		limit := int64(*r.FailedRowsAbove)
		for _, s := range rep.Syncs {
			if s.Failed > limit {
				reasons = append(reasons, fmt.Sprintf("%s has %d failed rows, more than failed_rows_above (%d)", s.Name, s.Failed, limit))
			}
		}
	}
	return reasons
}

// MaxFailedRowsInAlert bounds the failed rows an alert lists per sync.
const MaxFailedRowsInAlert = 5

// Summary builds the message for a run: a subject that says how many syncs
// failed and a body with each sync's status, counts, error and first failed
// rows (key, code and fields; never the values). reasons are the fired
// rules, listed first.
func Summary(rep *reverseetl.Report, reasons []string) (subject, body string) {
	total := len(rep.Syncs)
	notOK := 0
	var failedRows int64
	rowSyncs := 0
	for _, s := range rep.Syncs {
		if s.Status != reverseetl.Succeeded {
			notOK++
		}
		if s.Failed > 0 {
			failedRows += s.Failed
			rowSyncs++
		}
	}
	switch {
	case notOK > 0:
		subject = fmt.Sprintf("retl: %d of %d syncs failed", notOK, total)
	case failedRows > 0:
		subject = fmt.Sprintf("retl: %d of %d syncs succeeded, %s failed in %s", total, total,
			plural64(failedRows, "row", "rows"), plural(rowSyncs, "sync", "syncs"))
	default:
		subject = fmt.Sprintf("retl: %d of %d syncs succeeded", total, total)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Run %s: %s in %s.\n", rep.RunID, plural(total, "sync", "syncs"), rep.Duration.Round(time.Millisecond))
	for _, r := range reasons {
		fmt.Fprintf(&b, "Alert: %s.\n", r)
	}
	for _, s := range rep.Syncs {
		fmt.Fprintf(&b, "\n%s: %s (read %d, created %d, updated %d, failed %d, skipped %d)\n",
			s.Name, s.Status, s.Read, s.Created, s.Updated, s.Failed, s.Skipped)
		if s.Error != "" {
			fmt.Fprintf(&b, "  error: %s\n", oneLine(s.Error, 300))
		}
		for i, o := range s.FailedRows {
			if i == MaxFailedRowsInAlert {
				fmt.Fprintf(&b, "  … and %d more failed rows\n", s.Failed-int64(i))
				break
			}
			code, fields := "", ""
			if o.Err != nil {
				code = o.Err.Code
				if len(o.Err.Fields) > 0 {
					fields = " (" + strings.Join(o.Err.Fields, ", ") + ")"
				}
			}
			fmt.Fprintf(&b, "  row %s: %s%s\n", oneLine(o.Key, 80), code, fields)
		}
	}
	return subject, b.String()
}

// Observer sends an alert when the run finishes and a rule fires. It
// implements reverseetl.Observer.
type Observer struct {
	reverseetl.NopObserver

	rules     Rules
	notifiers []Notifier
	log       *slog.Logger
	redactor  *config.Redactor
	timeout   time.Duration

	mu   sync.Mutex
	sent []Sent
}

// Sent records one notifier's attempt, for the caller's own report.
type Sent struct {
	Notifier string
	Err      error
}

// Option tunes an Observer.
type Option func(*Observer)

// WithLogger sets where failures to send are logged (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *Observer) { o.log = l } }

// WithRedactor removes the project's secrets from the message and from the
// errors it logs.
func WithRedactor(r *config.Redactor) Option { return func(o *Observer) { o.redactor = r } }

// WithTimeout bounds each notifier's send (default 30s).
func WithTimeout(d time.Duration) Option { return func(o *Observer) { o.timeout = d } }

// NewObserver returns an Observer that sends to notifiers when rules fire.
func NewObserver(rules Rules, notifiers []Notifier, opts ...Option) *Observer {
	o := &Observer{rules: rules, notifiers: notifiers, log: slog.Default(), timeout: 30 * time.Second}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// RunFinished checks the rules and sends the summary to every notifier.
// A notifier that fails is logged; the others are still tried.
func (o *Observer) RunFinished(ctx context.Context, rep *reverseetl.Report) {
	reasons := o.rules.Check(rep)
	if len(reasons) == 0 || len(o.notifiers) == 0 {
		return
	}
	subject, body := Summary(rep, reasons)
	if o.redactor != nil {
		subject, body = o.redactor.Redact(subject), o.redactor.Redact(body)
	}
	for _, n := range o.notifiers {
		name := NameOf(n)
		err := o.send(ctx, n, subject, body)
		o.mu.Lock()
		o.sent = append(o.sent, Sent{Notifier: name, Err: err})
		o.mu.Unlock()
		if err != nil {
			msg := err.Error()
			if o.redactor != nil {
				msg = o.redactor.Redact(msg)
			}
			o.log.Error("alert not sent", "notifier", name, "error", msg)
			continue
		}
		o.log.Info("alert sent", "notifier", name, "subject", subject)
	}
}

// send calls one notifier with a deadline, turning a panic into an error:
// an alert must never take the run down with it.
func (o *Observer) send(ctx context.Context, n Notifier, subject, body string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	return n.Notify(ctx, subject, body)
}

// Sent returns the attempts made so far, in order.
func (o *Observer) Sent() []Sent {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Sent(nil), o.sent...)
}

// NameOf names a notifier for logs: its Name if it has one, else its type.
func NameOf(n Notifier) string {
	if nn, ok := n.(Named); ok {
		return nn.Name()
	}
	return fmt.Sprintf("%T", n)
}

// named gives a notifier a name for logs.
type named struct {
	Notifier
	name string
}

func (n named) Name() string { return n.name }

// WithName returns n named name in logs.
func WithName(name string, n Notifier) Notifier { return named{Notifier: n, name: name} }

func plural(n int, one, many string) string { return plural64(int64(n), one, many) }

func plural64(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}
