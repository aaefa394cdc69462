package main

import (
	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/config/awssm"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink/salesforce"
	"github.com/retl-go/retl/source/sqlsource"
)

// newRegistry registers every source and sink type this binary knows.
func newRegistry() *reverseetl.Registry {
	r := reverseetl.NewRegistry()
	sqlsource.Register(r)
	salesforce.Register(r)
	return r
}

// loadOptions are the config options every command uses: ${aws-sm:...}
// references resolve through AWS Secrets Manager, configured by the project
// file's secrets.aws section and the default credential chain.
func loadOptions() []config.Option {
	return []config.Option{config.WithResolverFactory("aws-sm", awssm.Factory)}
}
