package snowflake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// sendEmail is the statement EmailNotifier runs; every value is bound, never
// spliced into the text.
const sendEmail = "CALL SYSTEM$SEND_EMAIL(?, ?, ?, ?)"

// EmailNotifier sends alert emails through Snowflake's SYSTEM$SEND_EMAIL
// and a notification integration, so alerts need no mail server of their
// own. It has the Notify method of an alert hook.
type EmailNotifier struct {
	db          *sql.DB
	integration string
	recipients  string
}

// NewEmailNotifier returns a notifier that sends through the named
// notification integration to the recipients (who must be allowed by the
// integration). db is used as is; OpenDB makes one from Settings.
func NewEmailNotifier(db *sql.DB, integration string, recipients []string) (*EmailNotifier, error) {
	if db == nil {
		return nil, errors.New("snowflake email: no database")
	}
	if strings.TrimSpace(integration) == "" {
		return nil, errors.New("snowflake email: no notification integration")
	}
	if len(recipients) == 0 {
		return nil, errors.New("snowflake email: no recipients")
	}
	for _, r := range recipients {
		// SYSTEM$SEND_EMAIL takes one comma-separated list.
		if strings.TrimSpace(r) == "" || strings.Contains(r, ",") {
			return nil, fmt.Errorf("snowflake email: recipient %q must be one non-empty address", r)
		}
	}
	return &EmailNotifier{db: db, integration: integration, recipients: strings.Join(recipients, ",")}, nil
}

// Notify sends one email.
func (n *EmailNotifier) Notify(ctx context.Context, subject, body string) error {
	if _, err := n.db.ExecContext(ctx, sendEmail, n.integration, n.recipients, subject, body); err != nil {
		return fmt.Errorf("snowflake email through integration %s: %w", n.integration, err)
	}
	return nil
}
