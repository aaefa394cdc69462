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
	root, err := standin.Root()
	require.NoError(t, err)
	for _, p := range []string{".venv/bin/fakesnow", ".venv/bin/moto_server", "sink/salesforce/sftest/jsforcecheck/node_modules/jsforce"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			standin.Unavailable(t, "%s is not installed; run `make standins` at the repository root", p)
		}
	}
	const closed = "http://127.0.0.1:9" // discard port: nothing listens
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "standins"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"PIP_INDEX_URL="+closed+"/simple", "PIP_RETRIES=0", "PIP_TIMEOUT=1",
		"npm_config_registry="+closed+"/", "npm_config_fetch_retries=0",
		"GOPROXY=off", "GOFLAGS=-mod=readonly",
		"HTTP_PROXY="+closed, "HTTPS_PROXY="+closed, "http_proxy="+closed, "https_proxy="+closed, "NO_PROXY=", "no_proxy=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "fakesnow and moto already installed")
	assert.Regexp(t, `jsforce already installed|node_modules is a link to another checkout's install`, string(out))
	assert.Contains(t, string(out), "go-salesforce already in the Go module cache")
	assert.Contains(t, string(out), "already installed, they need no network")
}
