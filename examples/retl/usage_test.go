package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/retl-go/retl/examples/demo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runBin runs the built binary and returns its outcome.
func runBin(t *testing.T, bin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// TestBinaryCommandLine runs the built binary as a user does: one build
// for every case.
func TestBinaryCommandLine(t *testing.T) {
	bin := buildRetl(t)
	t.Run("help", func(t *testing.T) { testHelp(t, bin) })
	t.Run("unexpected argument", func(t *testing.T) { testUnexpectedArgument(t, bin) })
	t.Run("version", func(t *testing.T) { testVersion(t, bin) })
}

// testHelp: -h and --help exit 0 with a usage naming every flag, its
// default, and examples.
func testHelp(t *testing.T, bin string) {
	flags := map[string][]string{
		"run":      {"configs", "project", "log-format", "log-level", "only", "parallel", "report", "full", "wait-lock"},
		"plan":     {"configs", "project", "log-format", "log-level", "only", "parallel", "report", "changes"},
		"apply":    {"configs", "project", "log-format", "log-level", "parallel", "max-age", "max-drift"},
		"validate": {"configs", "project", "log-format", "log-level", "resolve"},
		"demo":     {"configs", "project", "log-format", "log-level", "keep", "report"},
		"version":  nil,
	}
	for cmd, names := range flags {
		for _, h := range []string{"-h", "--help", "-help"} {
			r := runBin(t, bin, cmd, h)
			require.Equal(t, exitOK, r.code, "%s %s: %s", cmd, h, r.stderr)
			assert.Empty(t, r.stderr, cmd)
			assert.True(t, strings.HasPrefix(r.stdout, "usage: retl "+cmd), "%s %s: %s", cmd, h, r.stdout)
			assert.Contains(t, r.stdout, "\nexamples:\n  retl "+cmd, cmd)
			for _, name := range names {
				// Each flag, then its description ending with its default.
				assert.Regexp(t, regexp.MustCompile(`(?m)^  --`+name+`\b.*\n\s+.*\(default: [^)]+\)`), r.stdout, "%s --%s", cmd, name)
			}
		}
	}

	// The demo's defaults are its own: embedded syncs, warn.
	r := runBin(t, bin, "demo", "-h")
	assert.Contains(t, r.stdout, "(default: the embedded examples/configs)")
	assert.Contains(t, r.stdout, "(default: the embedded demo project)")
	assert.Regexp(t, `--log-level level\n.*\(default: warn\)`, r.stdout)
	r = runBin(t, bin, "run", "-h")
	assert.Regexp(t, `--configs directory\n.*\(default: configs\)`, r.stdout)
	assert.Regexp(t, `--log-level level\n.*\(default: info\)`, r.stdout)
}

// testUnexpectedArgument: a positional argument is a usage error, not
// the silent end of flag parsing.
func testUnexpectedArgument(t *testing.T, bin string) {
	for _, args := range [][]string{
		{"run", "a", "--only", "a"},
		{"plan", "--configs", "x", "extra"},
		{"validate", "a"},
		{"demo", "now"},
		{"version", "--short"},
	} {
		r := runBin(t, bin, args...)
		assert.Equal(t, exitInvalid, r.code, args)
		assert.Empty(t, r.stdout, args)
		assert.Contains(t, r.stderr, "retl "+args[0], args)
	}
	r := runBin(t, bin, "run", "a", "--only", "a")
	assert.Equal(t, "retl run: unexpected argument \"a\" (flags only; see \"retl run -h\")\n", r.stderr)
}

// testVersion: the module version and VCS revision from the build info.
func testVersion(t *testing.T, bin string) {
	r := runBin(t, bin, "version")
	require.Equal(t, exitOK, r.code, r.stderr)

	// What the toolchain recorded in the binary is the reference.
	out, err := exec.Command("go", "version", "-m", bin).Output()
	require.NoError(t, err)
	info := string(out)
	version := regexp.MustCompile(`(?m)^\s+mod\s+github\.com/retl-go/retl\s+(\S+)`).FindStringSubmatch(info)
	require.NotNil(t, version, info)
	want := "retl " + version[1] + " ("
	if rev := regexp.MustCompile(`(?m)^\s+build\s+vcs\.revision=(\S+)`).FindStringSubmatch(info); rev != nil {
		want += "revision " + rev[1]
	} else {
		want += "revision unknown"
	}
	assert.True(t, strings.HasPrefix(r.stdout, want), "want prefix %q, got %q", want, r.stdout)
	if strings.Contains(info, "vcs.modified=true") {
		assert.Contains(t, r.stdout, ", modified")
	}
}

func TestEmptyOrMissingConfigsDirectoryExits2NamingIt(t *testing.T) {
	empty := t.TempDir()
	missing := filepath.Join(empty, "missing")
	for _, cmd := range []string{"validate", "run", "plan"} {
		r := retl(t, cmd, "--configs", empty)
		assert.Equal(t, exitInvalid, r.code, cmd)
		assert.Equal(t, empty+": the configs directory holds no sync files (*.yaml, *.yml)\n", r.stderr, cmd)
		r = retl(t, cmd, "--configs", missing)
		assert.Equal(t, exitInvalid, r.code, cmd)
		assert.Contains(t, r.stderr, "reading the configs directory "+missing+": no such file or directory", cmd)
	}
}

func TestValidateReportsEveryErrorOfEveryFileInOnePass(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("..", "demo", "retl.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "retl.yaml"), b, 0o600))
	t.Setenv(demo.EnvDSN, "file:"+filepath.Join(dir, "none.db"))
	t.Setenv(demo.EnvURL, "http://127.0.0.1:9")
	// Five misspelt keys in five files: three the config format knows,
	// two the Salesforce destination decodes.
	configs := copyConfigs(t, dir, func(name, text string) string {
		switch name {
		case "accounts.yaml", "account_health.yaml":
			return strings.Replace(text, "\n  operation:", "\n  opration:", 1)
		case "contacts.yaml":
			return strings.Replace(text, "\n  api: auto", "\n  auto_treshold: 10", 1)
		case "renewals.yaml":
			return strings.Replace(text, "\n  api: auto", "\n  max_jobs_in_flght: 2", 1)
		}
		return text
	})
	acc, err := os.ReadFile(filepath.Join("..", "configs", "accounts.yaml"))
	require.NoError(t, err)
	fifth := strings.Replace(strings.Replace(string(acc), "name: accounts", "name: accounts_copy", 1), "\n  object:", "\n  objekt:", 1)
	require.NoError(t, os.WriteFile(filepath.Join(configs, "zz_accounts.yaml"), []byte(fifth), 0o644))

	r := retl(t, "validate", "--configs", configs)
	assert.Equal(t, exitInvalid, r.code)
	assert.Empty(t, r.stdout)
	for _, want := range []string{
		`account_health.yaml:\d+:3: key "destination.opration": unknown key; did you mean "operation"\?`,
		`accounts.yaml:\d+:3: key "destination.opration": unknown key; did you mean "operation"\?`,
		`zz_accounts.yaml:\d+:3: key "destination.objekt": unknown key; did you mean "object"\?`,
		`contacts.yaml:\d+:3: key "destination.auto_treshold": unknown key; did you mean "auto_threshold"\?`,
		`renewals.yaml:\d+:3: key "destination.max_jobs_in_flght": unknown key; did you mean "max_jobs_in_flight"\?`,
	} {
		assert.Regexp(t, want, r.stderr)
	}
	assert.Equal(t, 5, strings.Count(r.stderr, "unknown key"), r.stderr)
}
