package reverseetl

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// ModulePath is retl's module path.
const ModulePath = "github.com/retl-go/retl"

// Version describes the retl a binary was built with, from its build
// information (debug.ReadBuildInfo), as one line for logs and reports:
// "v1.2.3 (revision abc123, modified, 2026-01-02T03:04:05Z; go1.24.0)" when
// retl is the main module, "v1.2.3 (in example.com/svc; go1.24.0)" when a
// program imports it, "(devel) ..." for a build from a work tree.
func Version(info *debug.BuildInfo) string {
	if info.Main.Path != ModulePath {
		version := "(unknown)"
		for _, d := range info.Deps {
			if d.Path == ModulePath {
				version = d.Version
				if d.Replace != nil {
					version = strings.TrimSpace(version + " => " + d.Replace.Path + " " + d.Replace.Version)
				}
			}
		}
		return fmt.Sprintf("%s (in %s; %s)", version, info.Main.Path, info.GoVersion)
	}
	var rev, at string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	parts := []string{"revision unknown"}
	if rev != "" {
		parts[0] = "revision " + rev
	}
	if modified {
		parts = append(parts, "modified")
	}
	if at != "" {
		parts = append(parts, at)
	}
	return fmt.Sprintf("%s (%s; %s)", version, strings.Join(parts, ", "), info.GoVersion)
}
