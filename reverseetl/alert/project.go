package alert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/retl-go/retl/config"
)

// EmailFunc builds the notifier of the project file's alerts.email over the
// connection it names, and what to close after the run. The alert package
// leaves it to the caller so that it does not depend on any warehouse
// driver; for Snowflake use snowflake.OpenEmailNotifier.
type EmailFunc func(conn *config.Connection, e config.EmailAlert) (Notifier, io.Closer, error)

// Notifiers builds the notifiers configured in the project file's alerts
// section: email through email, webhook as a Webhook. It does no I/O. The
// returned Closer releases what they hold (a warehouse connection pool);
// it is never nil.
func Notifiers(p *config.Project, email EmailFunc, opts ...WebhookOption) ([]Notifier, io.Closer, error) {
	var out []Notifier
	var closers closeAll
	a := p.Alerts
	if e := a.Email; e != nil {
		if email == nil {
			return nil, closers, errors.New("alerts.email: this program has no email sender; remove alerts.email or use a build that has one")
		}
		conn := p.Connections[e.Connection]
		if conn == nil {
			return nil, closers, fmt.Errorf("alerts.email: unknown connection %q", e.Connection)
		}
		n, c, err := email(conn, *e)
		if err != nil {
			return nil, closers, fmt.Errorf("alerts.email: %w", err)
		}
		if c != nil {
			closers = append(closers, c)
		}
		out = append(out, WithName(fmt.Sprintf("email via %s integration %s", e.Connection, e.Integration), n))
	}
	if w := a.Webhook; w != nil && p.Offline && strings.Contains(w.URL, "${") {
		// An offline validation leaves the URL unresolved: nothing to check.
		out = append(out, WithName("webhook (unresolved)", unresolvedNotifier{}))
	} else if w != nil {
		n, err := NewWebhook(w.URL, opts...)
		if err != nil {
			_ = closers.Close()
			return nil, closeAll(nil), fmt.Errorf("alerts.webhook: %w", err)
		}
		out = append(out, n)
	}
	return out, closers, nil
}

type closeAll []io.Closer

func (c closeAll) Close() error {
	var errs []error
	for _, x := range c {
		if err := x.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unresolvedNotifier stands for a notifier whose settings an offline
// validation left unresolved; it refuses to send.
type unresolvedNotifier struct{}

func (unresolvedNotifier) Notify(context.Context, string, string) error {
	return errors.New("alert: notifier built from an offline validation cannot send")
}
