package main

import (
	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
)

// newRegistry registers every source and sink type this binary knows.
func newRegistry() *reverseetl.Registry {
	r := reverseetl.NewRegistry()
	return r
}

// loadOptions are the config options every command uses.
func loadOptions() []config.Option {
	return nil
}
