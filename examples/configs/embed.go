// Package configs holds the example sync files, embedded so that
// `go run ./examples/retl demo` finds them from any directory.
package configs

import "embed"

// FS holds the sync files, *.yaml at its root.
//
//go:embed *.yaml
var FS embed.FS
