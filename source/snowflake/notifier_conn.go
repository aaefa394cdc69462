package snowflake

import (
	"io"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl/alert"
)

// OpenEmailNotifier returns an EmailNotifier over a project connection of
// type snowflake, as the project file's alerts.email names one, and the
// connection pool to close once alerts are sent. Like OpenDB it does not
// connect until the first Notify, so a run that sends no alert never
// reaches Snowflake for it.
func OpenEmailNotifier(c *config.Connection, integration string, recipients []string, opts ...Option) (*EmailNotifier, io.Closer, error) {
	settings, err := SettingsFromConnection(c)
	if err != nil {
		return nil, nil, err
	}
	db, err := OpenDB(settings, opts...)
	if err != nil {
		return nil, nil, err
	}
	n, err := NewEmailNotifier(db, integration, recipients)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return n, db, nil
}

// AlertEmail is an alert.EmailFunc: it sends the project file's
// alerts.email through the Snowflake connection it names.
func AlertEmail(c *config.Connection, e config.EmailAlert) (alert.Notifier, io.Closer, error) {
	return OpenEmailNotifier(c, e.Integration, e.Recipients)
}

// CheckAlertEmail is an alert.CheckEmailFunc: it checks alerts.email's
// connection as an offline validation can, its keys and not their values.
func CheckAlertEmail(c *config.Connection, _ config.EmailAlert) error {
	_, err := DecodeSettings(c)
	return err
}
