package reverseetl_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	"github.com/retl-go/retl/sink/sinktest"
	"github.com/retl-go/retl/source"
	memsource "github.com/retl-go/retl/source/memory"
)

func secretValue(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return prefix + hex.EncodeToString(b)
}

// leaky is a source or sink that panics with a message holding a secret,
// as a plugin that formats its configuration into a panic would.
type leaky struct{ msg string }

func (p leaky) Read(context.Context, func(source.Batch) error) error { panic(p.msg) }
func (p leaky) Write(context.Context, []sink.Record) ([]sink.Result, error) {
	panic(fmt.Errorf("%s", p.msg))
}
func (leaky) Close(context.Context) error { return nil }

// leakySource adapts leaky to source.Source's Close.
type leakySource struct{ leaky }

func (leakySource) Close() error { return nil }

// TestSecurityNothingLeaksFromPanicsOrRejections runs syncs whose source,
// sink or factory panics with a secret in the message, and whose
// destination echoes a secret in a record's error, with the secrets
// resolved through a secret store and the environment. No log line, report,
// summary or failed-rows file holds a secret, and the files the run writes
// are readable by their owner only.
func TestSecurityNothingLeaksFromPanicsOrRejections(t *testing.T) {
	fromStore := secretValue(t, "store-")
	fromEnv := secretValue(t, "env-")
	secrets := []string{fromStore, fromEnv}
	project := `connections:
  api:
    type: api
    token: ${vault:prod/api#token}
    password: ${API_PASSWORD}
`
	syncFile := func(name, src, dst string) []byte {
		return []byte(fmt.Sprintf(`name: %s
key: ID
source: {type: %s, query: q}
destination: {type: %s}
mapping:
  - {from: ID, to: Key__c}
  - {from: NOTE, to: Note__c}
`, name, src, dst))
	}
	ctx := context.Background()
	p, err := config.Parse(ctx, "retl.yaml", []byte(project), map[string][]byte{
		"rejected.yaml":     syncFile("rejected", "rows", "echo"),
		"panic_source.yaml": syncFile("panic_source", "panicky", "echo"),
		"panic_sink.yaml":   syncFile("panic_sink", "rows", "panicky"),
		"panic_build.yaml":  syncFile("panic_build", "broken", "echo"),
	},
		config.WithResolver("vault", config.ResolverFunc(func(_ context.Context, ref string) (string, error) { return fromStore, nil })),
		config.WithEnv(func(k string) (string, bool) { return fromEnv, k == "API_PASSWORD" }))
	require.NoError(t, err)
	both := "token " + fromStore + " and password " + fromEnv

	reg := reverseetl.NewRegistry()
	reg.RegisterSource("rows", func(context.Context, reverseetl.BuildContext) (source.Source, error) {
		return memsource.New([]string{"ID", "NOTE"}, [][]any{{"R-1", "a"}, {"R-2", "b"}, {"R-3", "c"}}), nil
	})
	reg.RegisterSource("panicky", func(context.Context, reverseetl.BuildContext) (source.Source, error) {
		return leakySource{leaky{"source broke: " + both}}, nil
	})
	reg.RegisterSource("broken", func(context.Context, reverseetl.BuildContext) (source.Source, error) {
		panic("factory broke: " + both)
	})
	reg.RegisterSink("echo", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) {
		k := memory.New("Key__c")
		k.Reject = func(r *sink.Record) *sink.RecordError {
			if r.Key == "R-2" {
				return &sink.RecordError{Code: "INVALID_AUTH_HEADER", Message: "bad header: Bearer " + fromStore, Fields: []string{"Note__c"}}
			}
			return nil
		}
		return k, nil
	})
	reg.RegisterSink("panicky", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) {
		return leaky{"sink broke: " + both}, nil
	})

	dir := t.TempDir()
	var logs bytes.Buffer
	log := slog.New(p.Redactor.Handler(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	failed := &reverseetl.FailedRowsCSV{Dir: filepath.Join(dir, "reports"), RunID: "run-1"}
	ledger := sinktest.NewLedger()
	eng := reverseetl.New(reg, reverseetl.WithLogger(log), reverseetl.WithRunID("run-1"),
		reverseetl.WithObserver(failed), reverseetl.WithObserver(ledger))
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rep, err := eng.Run(rctx, p, reverseetl.RunOptions{})
	require.NoError(t, err)

	for _, s := range rep.Syncs {
		assert.Equal(t, reverseetl.Failed, s.Status, s.Name)
		// A sync whose factory panicked too ends once for observers.
		ledger.Check(t, s)
	}
	assert.Contains(t, rep.Sync("panic_source").Error, "source broke")
	assert.Contains(t, rep.Sync("panic_sink").Error, "sink broke")
	assert.Contains(t, rep.Sync("panic_build").Error, "factory broke")
	assert.EqualValues(t, 1, rep.Sync("rejected").Failed)

	// A report file left readable by an earlier run becomes private.
	reportPath := filepath.Join(dir, "run.json")
	require.NoError(t, os.WriteFile(reportPath, []byte("{}"), 0o644))
	require.NoError(t, os.Chmod(reportPath, 0o644))
	require.NoError(t, reverseetl.WriteJSONFile(reportPath, rep))
	var summary bytes.Buffer
	require.NoError(t, reverseetl.WriteSummary(&summary, rep, 20))

	outputs := map[string]string{"logs": logs.String(), "summary": summary.String()}
	files := map[string]os.FileMode{reportPath: 0o600}
	for name, path := range failed.Paths() {
		files[path] = 0o600
		files[filepath.Dir(path)] = 0o700 | os.ModeDir
		t.Logf("failed rows of %s in %s", name, path)
	}
	require.Contains(t, failed.Paths(), "rejected")
	require.Contains(t, failed.Paths(), "panic_sink")
	for path, mode := range files {
		st, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, mode, st.Mode()&(os.ModeDir|os.ModePerm), path)
		if !st.IsDir() {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			outputs[path] = string(b)
		}
	}
	all := strings.Join(func() []string {
		var out []string
		for _, v := range outputs {
			out = append(out, v)
		}
		return out
	}(), "\n")
	for _, s := range secrets {
		for where, text := range outputs {
			assert.NotContains(t, text, s, "a secret in %s", where)
		}
	}
	// The secrets were there to leak: each place shows where they were taken out.
	assert.Contains(t, outputs["logs"], "[REDACTED]")
	assert.Contains(t, outputs[reportPath], "[REDACTED]")
	assert.Contains(t, outputs[failed.Paths()["rejected"]], "bad header: Bearer [REDACTED]")
	assert.Contains(t, all, "sink broke: token [REDACTED] and password [REDACTED]")
}
