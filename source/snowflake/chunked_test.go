package snowflake

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	sf "github.com/snowflakedb/gosnowflake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/internal/standin"
	"github.com/retl-go/retl/source"
)

// chunker makes fakesnow's answers look like Snowflake's for large
// results. fakesnow sends a whole result inline, as one Arrow stream;
// Snowflake sends the first part inline and the rest as chunks the client
// downloads one by one. chunker is an HTTP transport that passes requests
// to fakesnow and splits each Arrow result into chunks of rows, written to
// files that a local server serves, so that the chunk path of gosnowflake
// and of this source runs as it does against Snowflake.
type chunker struct {
	t        *testing.T
	rows     int // rows per chunk
	dir      string
	server   *httptest.Server
	n        atomic.Int64
	fetched  atomic.Int64
	breakURL bool // point the first remote chunk at a missing file
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
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !strings.HasPrefix(req.URL.Path, "/queries/v1/query-request") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if body, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
		resp.Header.Del("Content-Encoding")
	}
	body, err = c.split(body)
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// split rewrites one query response.
func (c *chunker) split(body []byte) ([]byte, error) {
	var msg map[string]any
	if err := json.Unmarshal(body, &msg); err != nil {
		return body, nil
	}
	data, _ := msg["data"].(map[string]any)
	b64, _ := data["rowsetBase64"].(string)
	if data == nil || data["queryResultFormat"] != "arrow" || b64 == "" {
		return body, nil
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, err
	}
	rd, err := ipc.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	var parts [][]byte
	var counts []int
	for rd.Next() {
		rec := rd.Record()
		for lo := int64(0); lo < rec.NumRows(); lo += int64(c.rows) {
			hi := min(lo+int64(c.rows), rec.NumRows())
			var buf bytes.Buffer
			w := ipc.NewWriter(&buf, ipc.WithSchema(rd.Schema()))
			slice := rec.NewSlice(lo, hi)
			err := w.Write(slice)
			slice.Release()
			if err != nil {
				return nil, err
			}
			if err := w.Close(); err != nil {
				return nil, err
			}
			parts = append(parts, buf.Bytes())
			counts = append(counts, int(hi-lo))
		}
	}
	if len(parts) < 2 {
		return body, nil
	}
	data["rowsetBase64"] = base64.StdEncoding.EncodeToString(parts[0])
	var chunks []map[string]any
	for i, p := range parts[1:] {
		name := fmt.Sprintf("chunk-%d-%d", c.n.Add(1), i)
		if err := os.WriteFile(filepath.Join(c.dir, name), p, 0o600); err != nil {
			return nil, err
		}
		url := c.server.URL + "/" + name
		if c.breakURL && i == 0 {
			url = c.server.URL + "/missing"
		}
		chunks = append(chunks, map[string]any{
			"url": url, "rowCount": counts[i+1], "uncompressedSize": len(p), "compressedSize": len(p),
		})
	}
	data["chunks"] = chunks
	data["chunkHeaders"] = map[string]string{"x-retl-test": "1"}
	return json.Marshal(msg)
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
