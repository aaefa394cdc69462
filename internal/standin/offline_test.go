package standin_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/internal/standin"
)

// Once the stand-ins are installed, `make test` needs no network: the
// install script, run with every registry and proxy pointing at a closed
// port, finds everything in place and exits 0.
func TestStandinsInstallWorksOffline(t *testing.T) {
	root := installedStandins(t)
	out, err := offlineStandins(root).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "fakesnow and moto already installed")
	assert.Regexp(t, `jsforce already installed|node_modules is a link to another checkout's install`, string(out))
	assert.Contains(t, string(out), "go-salesforce already in the Go module cache")
	assert.Contains(t, string(out), "already installed, they need no network")
	assert.Regexp(t, `chromium already installed|skipping chromium|chromium not installed|chromium could not be installed`, string(out),
		"chromium is optional: the script goes on without it")
}

// installedStandins returns the repository's root, once the Python and npm
// stand-ins are installed there.
func installedStandins(t *testing.T) string {
	t.Helper()
	root, err := standin.Root()
	require.NoError(t, err)
	for _, p := range []string{".venv/bin/fakesnow", ".venv/bin/moto_server", "sink/salesforce/sftest/jsforcecheck/node_modules/jsforce"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			standin.Unavailable(t, "%s is not installed; run `make standins` at the repository root", p)
		}
	}
	return root
}

// offlineStandins is the install script with every registry and proxy
// pointing at a closed port.
func offlineStandins(root string, env ...string) *exec.Cmd {
	const closed = "http://127.0.0.1:9" // discard port: nothing listens
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "standins"))
	cmd.Dir = root
	cmd.Env = append(append(os.Environ(),
		"PIP_INDEX_URL="+closed+"/simple", "PIP_RETRIES=0", "PIP_TIMEOUT=1",
		"npm_config_registry="+closed+"/", "npm_config_fetch_retries=0",
		"GOPROXY=off", "GOFLAGS=-mod=readonly",
		"HTTP_PROXY="+closed, "HTTPS_PROXY="+closed, "http_proxy="+closed, "https_proxy="+closed, "NO_PROXY=", "no_proxy="), env...)
	return cmd
}

// Only the review page's test needs chromium: the script leaves it out when
// asked, and goes on when apt-get cannot install it.
func TestStandinsGoOnWithoutChromium(t *testing.T) {
	root := installedStandins(t)
	out, err := offlineStandins(root, "RETL_NO_CHROMIUM=1").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "RETL_NO_CHROMIUM=1: skipping chromium")

	// apt-get and id stand in for a root shell whose apt sources are
	// unreachable; apt-get logs its arguments.
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	require.NoError(t, os.WriteFile(filepath.Join(bin, "apt-get"), []byte("#!/bin/sh\necho \"$@\" >>"+calls+"\nexit 100\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "id"), []byte("#!/bin/sh\necho 0\n"), 0o755))
	cmd := offlineStandins(root, "RETL_CHROMIUM=retl-no-such-browser", "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "chromium could not be installed: the review page's test will skip (fail under CI=true)")
	b, err := os.ReadFile(calls)
	require.NoError(t, err)
	assert.Equal(t, "install -y -q --no-install-recommends chromium\nupdate -q\n", string(b), "the package lists are read once when the install fails")
}
