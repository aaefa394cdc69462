package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeCommands returns the command lines of the README's sh blocks,
// without their comments.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	var out []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case in:
			if i := strings.Index(line, " #"); i >= 0 {
				line = line[:i]
			}
			if line = strings.TrimSpace(line); line != "" {
				out = append(out, line)
			}
		}
	}
	return out
}

// TestReadmeCommandsRun runs every README command that needs no network
// and no credentials, as a user would type it, so that the README cannot
// drift from the binary. Commands that need the network or production
// systems are listed here by name: a new one must be sorted into one kind
// or the other.
func TestReadmeCommandsRun(t *testing.T) {
	needsNetwork := map[string]bool{
		"go install github.com/retl-go/retl/examples/retl@latest": true,
		"go install github.com/retl-go/retl/examples/retl@v1.2.3": true,
		"make test": true,
		"retl validate --resolve --configs configs":                                     true,
		"retl run --configs configs --report run.json":                                  true,
		"retl run --only account_health --log-format json":                              true,
		"retl undo 20260105T101500Z-3f2a1b":                                             true,
		"retl undo 20260105T101500Z-3f2a1b --only accounts --apply":                     true,
		"retl undo 20260105T101500Z-3f2a1b --apply --delete-created --report undo.json": true,
		"docker build -f examples/deploy/Dockerfile -t retl .":                          true,
		"docker run --rm -v \"$PWD/examples:/etc/retl:ro\" retl validate":               true,
		"docker build -f examples/deploy/Dockerfile -t retl \\":                         true,
		"--build-arg CONFIGS=examples/configs --build-arg PROJECT=examples/retl.yaml .": true,
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	// "retl ..." lines run in a project laid out as the README describes:
	// retl.yaml beside configs/.
	project := t.TempDir()
	copyConfigs(t, project, nil)
	b, err := os.ReadFile(filepath.Join(root, "examples", "retl.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(project, "retl.yaml"), b, 0o600))
	gobin := t.TempDir()

	ran := 0
	for _, line := range readmeCommands(t) {
		if needsNetwork[line] {
			continue
		}
		var cmd *exec.Cmd
		switch {
		case line == "go install ./examples/retl":
			cmd = exec.Command("go", "install", "./examples/retl")
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOBIN="+gobin)
		case strings.HasPrefix(line, "go run ./examples/retl "):
			cmd = exec.Command("go", append([]string{"run", "./examples/retl"}, strings.Fields(strings.TrimPrefix(line, "go run ./examples/retl "))...)...)
			cmd.Dir = root
		case strings.HasPrefix(line, "retl "):
			// The binary go install put in GOBIN, built above.
			cmd = exec.Command(filepath.Join(gobin, "retl"), strings.Fields(strings.TrimPrefix(line, "retl "))...)
			cmd.Dir = project
		default:
			t.Errorf("README command %q: neither runnable here nor listed as needing the network", line)
			continue
		}
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "%s:\n%s", line, out)
		ran++
	}
	assert.GreaterOrEqual(t, ran, 4, "go install, demo, validate and version at least")
}

// TestDocsLinksResolve: every relative link of the README and docs/ names a
// file that exists, and an anchor that its headings make.
func TestDocsLinksResolve(t *testing.T) {
	root := filepath.Join("..", "..")
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	require.NoError(t, err)
	pages = append(pages, filepath.Join(root, "README.md"))
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, page := range pages {
		b, err := os.ReadFile(page)
		require.NoError(t, err)
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if regexp.MustCompile(`^[a-z]+:`).MatchString(target) {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := page
			if file != "" {
				path = filepath.Join(filepath.Dir(page), file)
			}
			_, err := os.Stat(path)
			if !assert.NoError(t, err, "%s links to %s", page, target) || anchor == "" || !strings.HasSuffix(path, ".md") {
				continue
			}
			assert.Contains(t, anchors(t, path), anchor, "%s links to %s", page, target)
		}
	}
}

// anchors are the heading anchors GitHub makes for a Markdown file.
func anchors(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []string
	drop := regexp.MustCompile(`[^\w\- ]`)
	for _, line := range strings.Split(string(b), "\n") {
		if m := regexp.MustCompile(`^#{1,6} (.*)`).FindStringSubmatch(line); m != nil {
			a := strings.ToLower(strings.TrimSpace(m[1]))
			out = append(out, strings.ReplaceAll(drop.ReplaceAllString(a, ""), " ", "-"))
		}
	}
	return out
}
