package snowflake

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sf "github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/internal/snowchunk"
	"github.com/retl-go/retl/internal/standin"
	"github.com/retl-go/retl/source"
)

// chunker makes fakesnow's answers look like Snowflake's for large
// results (see snowchunk): an HTTP transport that splits each Arrow result
// into chunks of rows, written to files that a local server serves.
type chunker struct {
	*snowchunk.Splitter
	t       *testing.T
	rows    int // rows per chunk
	dir     string
	server  *httptest.Server
	fetched atomic.Int64
	// breakURL points the first remote chunk at a missing file.
	breakURL bool
	once     sync.Once
}

func newChunker(t *testing.T, rows int) *chunker {
	c := &chunker{t: t, rows: rows, dir: t.TempDir()}
	c.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fetched.Add(1)
		http.ServeFile(w, r, filepath.Join(c.dir, filepath.Base(r.URL.Path)))
	}))
	t.Cleanup(c.server.Close)
	return c
}

func (c *chunker) RoundTrip(req *http.Request) (*http.Response, error) {
	c.once.Do(func() {
		c.Splitter = &snowchunk.Splitter{Rows: c.rows, Dir: c.dir, URL: c.server.URL, BreakFirst: c.breakURL}
	})
	return c.Splitter.RoundTrip(req)
}

func chunkedSettings(t *testing.T) Settings {
	QuietDriverLogs()
	fs := standin.Fakesnow(t)
	return Settings{Account: "fakesnow", User: "fake", Password: "snow", Host: fs.Host, Port: fs.Port, Protocol: "http"}
}

func TestChunkedResultMatchesInline(t *testing.T) {
	s := chunkedSettings(t)
	const q = `select seq4() as ID, seq4() / 100 as AMOUNT, 'n' || seq4() as NAME,
		dateadd(day, seq4(), '2024-01-01'::date) as D from table(generator(rowcount => 2500))`
	read := func(opts ...Option) [][]any {
		src, err := New(s, q, opts...)
		require.NoError(t, err)
		defer src.Close()
		var rows [][]any
		require.NoError(t, src.Read(context.Background(), func(b source.Batch) error {
			rows = append(rows, b.Rows...)
			return nil
		}))
		return rows
	}
	c := newChunker(t, 300)
	inline := read()
	chunked := read(WithTransport(c), WithBatchSize(1000))
	require.Len(t, inline, 2500)
	assert.Equal(t, inline, chunked)
	assert.Equal(t, int64(8), c.fetched.Load(), "2500 rows: one inline chunk and 8 downloaded")
	// fakesnow divides in DuckDB, as DOUBLE: Snowflake would answer NUMBER.
	assert.Equal(t, []any{int64(2499), 24.99, "n2499", source.Date("2030-11-04")}, chunked[2499])
}

func TestChunkDownloadFails(t *testing.T) {
	s := chunkedSettings(t)
	c := newChunker(t, 100)
	c.breakURL = true
	src, err := New(s, "select seq4() as ID from table(generator(rowcount => 1000))", WithTransport(c), WithSyncName("big"), WithBatchSize(50))
	require.NoError(t, err)
	defer src.Close()
	rows := 0
	err = src.Read(context.Background(), func(b source.Batch) error { rows += len(b.Rows); return nil })
	require.Error(t, err)
	var se *sf.SnowflakeError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, sf.ErrFailedToGetChunk, se.Number)
	assert.Contains(t, err.Error(), "sync big: snowflake query: ")
	assert.Equal(t, 100, rows, "the inline chunk was read before the failure")
}

// TestChunkedStreamHasFlatMemory reads results of 100,000 and 400,000 rows
// in chunks of 10,000 and prints the peak of the live heap while rows
// stream (sampled from the first batch on, after the test harness has cut
// fakesnow's answer into chunks). It asserts only that every row arrives.
func TestChunkedStreamHasFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("reads half a million rows")
	}
	s := chunkedSettings(t)
	for _, n := range []int{100_000, 400_000} {
		c := newChunker(t, 10_000)
		q := fmt.Sprintf(`select seq4() as ID, 'name-' || seq4() as NAME, seq4() / 100 as AMOUNT
			from table(generator(rowcount => %d))`, n)
		src, err := New(s, q, WithTransport(c))
		require.NoError(t, err)

		var (
			rows  int
			peak  uint64
			start time.Time
			stop  func()
		)
		err = src.Read(context.Background(), func(b source.Batch) error {
			if stop == nil {
				runtime.GC()
				start = time.Now()
				stop = sampleHeap(&peak)
			}
			rows += len(b.Rows)
			return nil
		})
		stop()
		elapsed := time.Since(start)
		require.NoError(t, err)
		require.NoError(t, src.Close())
		assert.Equal(t, n, rows)
		t.Logf("%d rows in %d chunks streamed in %v; peak live heap while streaming %.1f MiB",
			rows, c.fetched.Load()+1, elapsed.Round(time.Millisecond), float64(peak)/(1<<20))
	}
}

// sampleHeap records the peak of the live heap in *peak until the returned
// func is called.
func sampleHeap(peak *uint64) func() {
	var mu sync.Mutex
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(sample)
			mu.Lock()
			*peak = max(*peak, sample[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() { close(done); <-stopped }
}
