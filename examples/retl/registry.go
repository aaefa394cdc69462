package main

import (
	"context"
	"errors"
	"io"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/config/awssm"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/alert"
	"github.com/retl-go/retl/sink/salesforce"
	"github.com/retl-go/retl/source/snowflake"
	"github.com/retl-go/retl/source/sqlsource"
)

func init() {
	// gosnowflake logs routine events (telemetry, retries) at error level
	// on its own logger; retl reports what matters through its own.
	snowflake.QuietDriverLogs()
}

// newRegistry registers every source and sink type this binary knows.
func newRegistry() *reverseetl.Registry {
	r := reverseetl.NewRegistry()
	sqlsource.Register(r)
	snowflake.Register(r)
	salesforce.Register(r)
	return r
}

// loadOptions are the config options every command uses: ${aws-sm:...}
// references resolve through AWS Secrets Manager, configured by the project
// file's secrets.aws section and the default credential chain; each sink
// type checks its own keys with every other check of the files.
func loadOptions() []config.Option {
	return []config.Option{config.WithResolverFactory(awssm.Scheme, awssm.Factory), config.WithCheck(newRegistry().Check)}
}

// emailNotifier sends the project's alert emails through Snowflake.
func emailNotifier(conn *config.Connection, e config.EmailAlert) (alert.Notifier, io.Closer, error) {
	return snowflake.OpenEmailNotifier(conn, e.Integration, e.Recipients)
}

// offlineEmailNotifier checks an email alert's connection as an offline
// validation can (its keys, not their values) and returns a notifier that
// refuses to send.
func offlineEmailNotifier(conn *config.Connection, _ config.EmailAlert) (alert.Notifier, io.Closer, error) {
	if _, err := snowflake.DecodeSettings(conn); err != nil {
		return nil, nil, err
	}
	return offlineNotifier{}, io.NopCloser(nil), nil
}

type offlineNotifier struct{}

func (offlineNotifier) Notify(context.Context, string, string) error {
	return errors.New("alert notifier built for offline validation cannot send")
}
