package snowchunk

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// answer is a query answer as fakesnow writes it, with n rows of one
// int64 column inline.
func answer(t *testing.T, n int) []byte {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "N", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
	}
	rec := b.NewRecord()
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	require.NoError(t, w.Write(rec))
	require.NoError(t, w.Close())
	return []byte(`{"data":{"rowtype":[],"queryResultFormat":"arrow","rowsetBase64":"` + base64.StdEncoding.EncodeToString(buf.Bytes()) + `","total":` + itoa(n) + `},"success":true}`)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// rows reads the int64 values of an Arrow stream.
func rows(t *testing.T, raw []byte) []int64 {
	t.Helper()
	rd, err := ipc.NewReader(bytes.NewReader(raw))
	require.NoError(t, err)
	defer rd.Release()
	var out []int64
	for rd.Next() {
		out = append(out, rd.Record().Column(0).(*array.Int64).Int64Values()...)
	}
	return out
}

func TestSplitCutsTheRowsIntoChunks(t *testing.T) {
	dir := t.TempDir()
	s := &Splitter{Rows: 4, Dir: dir, URL: "http://chunks"}
	out, err := s.Split(answer(t, 10))
	require.NoError(t, err)
	var msg struct {
		Data struct {
			Rowset string `json:"rowsetBase64"`
			Total  int    `json:"total"`
			Chunks []struct {
				URL      string `json:"url"`
				RowCount int    `json:"rowCount"`
			} `json:"chunks"`
		} `json:"data"`
		Success bool `json:"success"`
	}
	require.NoError(t, json.Unmarshal(out, &msg), "%s", out)
	assert.True(t, msg.Success)
	assert.Equal(t, 10, msg.Data.Total)
	inline, err := base64.StdEncoding.DecodeString(msg.Data.Rowset)
	require.NoError(t, err)
	got := rows(t, inline)
	require.Len(t, msg.Data.Chunks, 2)
	for _, c := range msg.Data.Chunks {
		raw, err := os.ReadFile(filepath.Join(dir, filepath.Base(c.URL)))
		require.NoError(t, err)
		part := rows(t, raw)
		assert.Len(t, part, c.RowCount)
		got = append(got, part...)
	}
	assert.Equal(t, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, got)
}

func TestSplitByBytesKeepsTheInlinePartSmall(t *testing.T) {
	s := &Splitter{Bytes: 1 << 30, Dir: t.TempDir(), URL: "http://chunks"}
	in := answer(t, 1000)
	out, err := s.Split(in)
	require.NoError(t, err)
	assert.Equal(t, in, out, "a result under one chunk stays whole")
	s.Bytes = 1000 // about 1,000 bytes a chunk: 8 bytes a row
	out, err = s.Split(in)
	require.NoError(t, err)
	assert.NotEqual(t, in, out)
	assert.Contains(t, string(out), `"chunks":[`)
}

func TestSplitLeavesOtherAnswersAlone(t *testing.T) {
	s := &Splitter{Rows: 2, Dir: t.TempDir(), URL: "http://chunks"}
	for _, body := range []string{`not json`, `{"data":{"queryResultFormat":"json","rowset":[["1"]]}}`, `{"data":{"queryResultFormat":"arrow","rowsetBase64":""}}`} {
		out, err := s.Split([]byte(body))
		require.NoError(t, err)
		assert.Equal(t, body, string(out))
	}
	whole := &Splitter{Dir: t.TempDir()}
	in := answer(t, 10)
	out, err := whole.Split(in)
	require.NoError(t, err)
	assert.Equal(t, in, out, "no size: answers stay whole")
}

func TestSplitErrors(t *testing.T) {
	s := &Splitter{Rows: 2, Dir: t.TempDir(), URL: "http://chunks"}
	_, err := s.Split([]byte(`{"data":{"queryResultFormat":"arrow","rowsetBase64":"!!!"}}`))
	assert.Error(t, err, "not base64")
	_, err = s.Split([]byte(`{"data":{"queryResultFormat":"arrow","rowsetBase64":"` + base64.StdEncoding.EncodeToString([]byte("not arrow")) + `"}}`))
	assert.Error(t, err, "not Arrow")
	s.Dir = filepath.Join(t.TempDir(), "missing")
	_, err = s.Split(answer(t, 10))
	assert.Error(t, err, "the chunk files cannot be written")
}

// RoundTrip splits query answers, gzip-compressed or not, counts their
// bytes, and passes other requests through.
func TestRoundTrip(t *testing.T) {
	body := answer(t, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gzip") != "" {
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			_, _ = zw.Write(body)
			_ = zw.Close()
			return
		}
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	s := &Splitter{Rows: 4, Dir: t.TempDir(), URL: "http://chunks", Next: &http.Transport{DisableCompression: true}}
	client := &http.Client{Transport: s}
	for _, q := range []string{"", "?gzip=1"} {
		resp, err := client.Get(srv.URL + "/queries/v1/query-request" + q)
		require.NoError(t, err)
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Contains(t, string(out), `"chunks":[`)
		assert.Empty(t, resp.Header.Get("Content-Encoding"))
	}
	assert.Equal(t, int64(2*len(body)), s.InlineBytes())
	resp, err := client.Get(srv.URL + "/session")
	require.NoError(t, err)
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, body, out, "other paths pass unchanged")
	assert.Equal(t, int64(2*len(body)), s.InlineBytes())
}
