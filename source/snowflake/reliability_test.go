package snowflake

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sf "github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/internal/faultsuite"
	"github.com/retl-go/retl/internal/standin"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	"github.com/retl-go/retl/sink/sinktest"
	"github.com/retl-go/retl/source"
)

// cutChunker is a chunker whose chunk server sends the first cutFrom-1
// downloads whole and then, for every later one, half of the chunk before
// the connection drops: a result cut off mid-stream.
func cutChunker(t *testing.T, rows, cutFrom int) *chunker {
	c := &chunker{t: t, rows: rows, dir: t.TempDir()}
	c.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := c.fetched.Add(1)
		b, err := os.ReadFile(filepath.Join(c.dir, filepath.Base(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		if n < int64(cutFrom) {
			_, _ = w.Write(b)
			return
		}
		_, _ = w.Write(b[:len(b)/2])
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}))
	t.Cleanup(c.server.Close)
	return c
}

// relSources registers source types for the suite's syncs: "snowflake" as
// shipped, "snowflake_chunked" reading through c, and "snowflake_bounded"
// whose login gives up after a few seconds (gosnowflake's own default
// retries a refused connection for minutes).
func relSources(reg *reverseetl.Registry, c *chunker) {
	Register(reg)
	settings := func(b reverseetl.BuildContext) (Settings, error) {
		s, err := SettingsFromConnection(b.Connection)
		if err == nil && b.Redactor != nil {
			b.Redactor.Add(s.secrets()...)
		}
		return s, err
	}
	reg.RegisterSource("snowflake_chunked", func(_ context.Context, b reverseetl.BuildContext) (source.Source, error) {
		s, err := settings(b)
		if err != nil {
			return nil, err
		}
		return New(s, b.Sync.Source.Query, WithTransport(c), WithSyncName(b.Sync.Name), WithBatchSize(100), WithRedactor(b.Redactor))
	})
	reg.RegisterSource("snowflake_bounded", func(_ context.Context, b reverseetl.BuildContext) (source.Source, error) {
		s, err := settings(b)
		if err != nil {
			return nil, err
		}
		open := func() (*sql.DB, bool, error) {
			cfg, err := s.driverConfig()
			if err != nil {
				return nil, false, err
			}
			//lint:ignore SA1019 gosnowflake 1.19 has no replacement for its deprecated timeout fields.
			cfg.LoginTimeout = 3 * time.Second
			cfg.MaxRetryCount = 1
			return sql.OpenDB(sf.NewConnector(sf.SnowflakeDriver{}, *cfg)), true, nil
		}
		return New(s, b.Sync.Source.Query, withDB(open), WithSyncName(b.Sync.Name), WithRedactor(b.Redactor))
	})
}

// relSinks registers "memory": one in-memory sink per sync, kept by name.
type relSinks struct {
	mu    sync.Mutex
	sinks map[string]*memory.Sink
}

func (r *relSinks) register(reg *reverseetl.Registry) {
	reg.RegisterSink("memory", func(_ context.Context, b reverseetl.BuildContext) (sink.Sink, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		k := memory.New("")
		r.sinks[b.Sync.Name] = k
		return k, nil
	})
}

// TestReliabilitySourceFaults runs five syncs at once against fakesnow:
// one healthy, and one each with a query error, a refused connection, an
// answer cut off mid-body, and a result cut off between chunks. Each
// broken sync fails with an error that says what happened; the healthy one
// succeeds; every row read before a cut has its outcome and was written.
func TestReliabilitySourceFaults(t *testing.T) {
	QuietDriverLogs()
	fs := standin.Fakesnow(t)
	proxy := faultsuite.NewProxy(t, fmt.Sprintf("%s:%d", fs.Host, fs.Port))
	// A login answer is a few kilobytes; 20,000 rows are far more.
	proxy.CutAfter(64 << 10)
	downHost, downPort := faultsuite.ClosedPort(t)
	chunks := cutChunker(t, 300, 2)

	const password = "snow-Pa55word-0451"
	db, err := OpenDB(Settings{Account: "fakesnow", User: "fake", Password: password, Host: fs.Host, Port: fs.Port, Protocol: "http"})
	require.NoError(t, err)
	for _, q := range []string{"create database RETL", "create schema RETL.PUBLIC"} {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
	require.NoError(t, db.Close())
	conn := func(host string, port int) string {
		return fmt.Sprintf("{type: snowflake, account: fakesnow, user: fake, password: %q, host: %q, port: %d, protocol: http, insecure_mode: true, database: RETL, schema: PUBLIC}",
			password, host, port)
	}
	project := fmt.Sprintf("connections:\n  warehouse: %s\n  down: %s\n  flaky: %s\n",
		conn(fs.Host, fs.Port), conn(downHost, downPort), conn("127.0.0.1", proxy.Port()))
	sync := func(name, typ, connection, query string) []byte {
		return []byte(fmt.Sprintf(`name: %s
key: ID
source: {type: %s, connection: %s, query: %q}
destination: {type: memory, object: Thing, operation: upsert, match_on: Key__c}
mapping:
  - {from: ID, to: Key__c}
`, name, typ, connection, query))
	}
	gen := func(n int) string {
		return fmt.Sprintf("select seq4() as ID, 'name-' || seq4() as NAME from table(generator(rowcount => %d))", n)
	}
	syncs := map[string][]byte{
		"good.yaml":      sync("good", "snowflake", "warehouse", gen(500)),
		"bad_query.yaml": sync("bad_query", "snowflake", "warehouse", "select ID from NO_SUCH_TABLE"),
		"refused.yaml":   sync("refused", "snowflake_bounded", "down", "select 1 as ID"),
		"killed.yaml":    sync("killed", "snowflake", "flaky", gen(20000)),
		"cut.yaml":       sync("cut", "snowflake_chunked", "warehouse", gen(2500)),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := config.Parse(ctx, "retl.yaml", []byte(project), syncs)
	require.NoError(t, err)

	reg := reverseetl.NewRegistry()
	relSources(reg, chunks)
	sinks := &relSinks{sinks: map[string]*memory.Sink{}}
	sinks.register(reg)
	ledger := sinktest.NewLedger()
	start := time.Now()
	rep, err := reverseetl.New(reg, reverseetl.WithParallel(5), reverseetl.WithObserver(ledger),
		reverseetl.WithLogger(quietLogger())).Run(ctx, p, reverseetl.RunOptions{})
	require.NoError(t, err)
	took := time.Since(start)

	for _, s := range rep.Syncs {
		ledger.Check(t, s)
		assert.NotContains(t, s.Error, password, s.Name)
		// Rows that were read went through: the memory sink holds them.
		assert.EqualValues(t, s.Written(), len(sinks.sinks[s.Name].Rows()), s.Name)
		t.Logf("%-9s %s; error: %s", s.Name, faultsuite.Summary(s, ledger.Codes(s.Name)), s.Error)
	}
	t.Logf("run took %s; chunk downloads %d; proxy cuts %d", took.Round(time.Millisecond), chunks.fetched.Load(), proxy.Cuts())

	good := rep.Sync("good")
	assert.Equal(t, reverseetl.Succeeded, good.Status)
	assert.EqualValues(t, 500, good.Created)

	for name, want := range map[string][]string{
		"bad_query": {"sync bad_query: snowflake query: ", "NO_SUCH_TABLE"},
		"refused":   {"sync refused: snowflake connect: ", "connection refused"},
		"killed":    {"sync killed: snowflake query: "},
		"cut":       {"sync cut: snowflake query: "},
	} {
		s := rep.Sync(name)
		assert.Equal(t, reverseetl.Failed, s.Status, name)
		assert.True(t, strings.HasPrefix(s.Error, "source: "), "%s: %s", name, s.Error)
		for _, w := range want {
			assert.Contains(t, s.Error, w, name)
		}
	}
	for _, name := range []string{"bad_query", "refused", "killed"} {
		assert.Zero(t, rep.Sync(name).Read, name)
	}
	cut := rep.Sync("cut")
	// The inline part and the first downloaded chunk arrived; the second
	// chunk was cut.
	assert.EqualValues(t, 600, cut.Read)
	assert.EqualValues(t, 600, cut.Created)
	assert.GreaterOrEqual(t, proxy.Cuts(), int64(1))
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
