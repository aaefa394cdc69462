package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/examples/demo"
	"github.com/retl-go/retl/reverseetl"
)

func TestMain(m *testing.M) {
	// simpleforce reports failed requests on the standard logger.
	log.SetOutput(io.Discard)
	// The binary's own environment must not steer the tests.
	for _, k := range []string{"RETL_CONFIGS", "RETL_PROJECT", "RETL_LOG_FORMAT", "RETL_LOG_LEVEL", "CI_NODE_INDEX", "CI_NODE_TOTAL"} {
		os.Unsetenv(k)
	}
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer safe to read while the command writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// result is one invocation of the binary.
type result struct {
	code           int
	stdout, stderr string
}

func retl(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut syncBuffer
	code := run(ctx, args, &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// copyConfigs copies the shipped sync files to dir/configs, letting edit
// change a file's text, and returns that directory.
func copyConfigs(t *testing.T, dir string, edit func(name, text string) string) string {
	t.Helper()
	dst := filepath.Join(dir, "configs")
	require.NoError(t, os.MkdirAll(dst, 0o755))
	entries, err := os.ReadDir(filepath.Join("..", "configs"))
	require.NoError(t, err)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		b, err := os.ReadFile(filepath.Join("..", "configs", e.Name()))
		require.NoError(t, err)
		text := string(b)
		if edit != nil {
			text = edit(e.Name(), text)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), []byte(text), 0o644))
	}
	return dst
}

// demoSetup starts a demo warehouse and emulator, and lays out a project
// in a temporary directory: configs/ (the shipped syncs, edited by edit)
// and retl.yaml (the demo project file plus extra), whose references the
// environment fills.
type demoSetup struct {
	env     *demo.Env
	dir     string
	configs string
}

func newDemoSetup(t *testing.T, extra string, edit func(name, text string) string) *demoSetup {
	t.Helper()
	dir := t.TempDir()
	env, err := demo.Start(context.Background(), dir, demo.Options{})
	require.NoError(t, err)
	t.Cleanup(env.Close)
	t.Setenv(demo.EnvURL, env.URL())
	t.Setenv(demo.EnvDSN, env.DSN())
	project, err := os.ReadFile(filepath.Join("..", "demo", "retl.yaml"))
	require.NoError(t, err)
	if strings.Contains(extra, "writeback:") {
		// The test brings its own writeback section in place of the demo's.
		i := bytes.Index(project, []byte("\nwriteback:"))
		require.Positive(t, i)
		project = project[:i+1]
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "retl.yaml"), append(project, []byte(extra)...), 0o600))
	return &demoSetup{env: env, dir: dir, configs: copyConfigs(t, dir, edit)}
}

func readReport(t *testing.T, path string) *reverseetl.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var rep reverseetl.Report
	require.NoError(t, json.Unmarshal(b, &rep))
	return &rep
}

// counts are a sync report's numbers in one comparable value.
type counts struct {
	Read, Created, Updated, Unchanged, Failed, Skipped, KeptBack int64
	Status                                                       reverseetl.Status
}

func countsOf(s *reverseetl.SyncReport) counts {
	return counts{Read: s.Read, Created: s.Created, Updated: s.Updated, Unchanged: s.Unchanged, Failed: s.Failed,
		Skipped: s.Skipped, KeptBack: s.KeptBack, Status: s.Status}
}
