package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--schema", "../../sink/salesforce/sftest/testdata/schema.yaml", "--bulk-job-delay", "1ms"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "sfemulator listening on http://127.0.0.1:"), line)
	base := strings.TrimSpace(strings.TrimPrefix(line, "sfemulator listening on "))
	go io.Copy(io.Discard, pr)

	res, err := http.PostForm(base+"/services/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {"retl"},
		"client_secret": {"retl"}, "username": {"demo@example.com"}, "password": {"demo"}})
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)
	res, err = http.Get(base + "/__sftest/records/Invoice__c")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 200, res.StatusCode, "the schema file was loaded")

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	assert.Error(t, run(ctx, []string{"--nope"}, io.Discard, io.Discard))
	assert.Error(t, run(ctx, []string{"extra"}, io.Discard, io.Discard))
	assert.Error(t, run(ctx, []string{"--schema", "missing.yaml"}, io.Discard, io.Discard))
	assert.Error(t, run(ctx, []string{"--jwt-public-key", "missing.pem"}, io.Discard, io.Discard))
	bad := filepath.Join(t.TempDir(), "key.pem")
	require.NoError(t, os.WriteFile(bad, []byte("not pem"), 0o600))
	assert.Error(t, run(ctx, []string{"--jwt-public-key", bad}, io.Discard, io.Discard))
}

func TestHelpExits0AndBadArgumentsExit2(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sfemulator")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	for _, h := range []string{"-h", "--help"} {
		var stdout bytes.Buffer
		cmd := exec.Command(bin, h)
		cmd.Stdout = &stdout
		require.NoError(t, cmd.Run(), h)
		assert.True(t, strings.HasPrefix(stdout.String(), "usage: sfemulator [flags]"), stdout.String())
		assert.Contains(t, stdout.String(), `-listen string`)
		assert.Contains(t, stdout.String(), `(default "127.0.0.1:0")`)
		assert.Contains(t, stdout.String(), "\nexamples:\n  go run ./examples/sfemulator")
	}
	for _, args := range [][]string{{"serve"}, {"--no-such-flag"}} {
		err := exec.Command(bin, args...).Run()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, args)
		assert.Equal(t, 2, exit.ExitCode(), args)
	}
}
