package reverseetl_test

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/retl-go/retl/reverseetl"
)

func TestVersion(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.24.0", Main: debug.Module{Path: reverseetl.ModulePath, Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"}}}
	assert.Equal(t, "v1.2.3 (revision abc123, modified, 2026-01-02T03:04:05Z; go1.24.0)", reverseetl.Version(info))
	info = &debug.BuildInfo{GoVersion: "go1.24.0", Main: debug.Module{Path: reverseetl.ModulePath}}
	assert.Equal(t, "(devel) (revision unknown; go1.24.0)", reverseetl.Version(info))

	// Imported by another program: retl's own version, from the deps; the
	// revision would be the program's, so it is not given.
	info = &debug.BuildInfo{GoVersion: "go1.24.0", Main: debug.Module{Path: "example.com/svc", Version: "v0.1.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "fff"}},
		Deps:     []*debug.Module{{Path: "golang.org/x/text", Version: "v0.9.0"}, {Path: reverseetl.ModulePath, Version: "v1.4.0"}}}
	assert.Equal(t, "v1.4.0 (in example.com/svc; go1.24.0)", reverseetl.Version(info))
	info.Deps[1].Replace = &debug.Module{Path: "../retl", Version: ""}
	assert.Equal(t, "v1.4.0 => ../retl (in example.com/svc; go1.24.0)", reverseetl.Version(info))
	info.Deps = nil
	assert.Equal(t, "(unknown) (in example.com/svc; go1.24.0)", reverseetl.Version(info))
}
