package main

import (
	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/config/awssm"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/alert"
	"github.com/retl-go/retl/reverseetl/state"
	"github.com/retl-go/retl/sink/salesforce"
	"github.com/retl-go/retl/source/snowflake"
	"github.com/retl-go/retl/source/sqlsource"
)

func init() {
	// gosnowflake logs routine events (telemetry, retries) at error level
	// on its own logger; retl reports what matters through its own.
	snowflake.QuietDriverLogs()
}

// newRegistry registers every source and sink type this binary knows, the
// warehouse state, and alerts sent by webhook or by Snowflake email.
func newRegistry() *reverseetl.Registry {
	r := reverseetl.NewRegistry()
	sqlsource.Register(r)
	snowflake.Register(r)
	salesforce.Register(r)
	state.Register(r)
	alert.Register(r, snowflake.AlertEmail, snowflake.CheckAlertEmail)
	return r
}

// loadOptions are the config options every command uses: ${aws-sm:...}
// references resolve through AWS Secrets Manager, configured by the project
// file's secrets.aws section and the default credential chain; each sink
// type checks its own keys with every other check of the files.
func loadOptions() []config.Option {
	return []config.Option{config.WithResolverFactory(awssm.Scheme, awssm.Factory), config.WithCheck(newRegistry().Check)}
}
