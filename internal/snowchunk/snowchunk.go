// Package snowchunk makes fakesnow's answers to queries look like
// Snowflake's for large results. fakesnow sends a whole result inline, as
// one base64 Arrow stream inside the JSON answer; Snowflake sends the first
// part inline and the rest as chunks that the client downloads one by one.
// A Splitter rewrites an answer into that shape, writing the chunks to files
// that the caller serves, so that gosnowflake's chunk path runs as it does
// against Snowflake: in tests, and in the benchmark of the production path.
package snowchunk

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// Splitter cuts Arrow results into chunks of Rows rows.
type Splitter struct {
	// Rows is how many rows each chunk holds; 0 leaves answers whole (and
	// only counts their bytes).
	Rows int
	// Bytes, when above 0, sizes chunks by their Arrow bytes instead:
	// each holds about that many, the inline part an eighth of it, as
	// Snowflake starts a result with a small part and then larger chunks.
	Bytes int
	// Dir receives the chunk files.
	Dir string
	// URL is where Dir's files are served: a chunk's address is URL + "/"
	// + its file name.
	URL string
	// BreakFirst points the first downloaded chunk at a missing file.
	BreakFirst bool
	// Next is the transport RoundTrip sends requests on
	// (http.DefaultTransport if nil).
	Next http.RoundTripper

	n atomic.Int64
	// inline counts the bytes of the query answers as the server sent
	// them (decompressed).
	inline atomic.Int64
}

// InlineBytes returns the bytes of the query answers the server sent, before
// they were split: what a client would have had to hold without chunks.
func (s *Splitter) InlineBytes() int64 { return s.inline.Load() }

// RoundTrip passes the request on and splits the answer of a query.
func (s *Splitter) RoundTrip(req *http.Request) (*http.Response, error) {
	next := s.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
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
	s.inline.Add(int64(len(body)))
	body, err = s.Split(body)
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// Split rewrites one query answer: an Arrow result of more than Rows rows
// keeps its first Rows inline, and the others go to chunk files. Any other
// answer is returned as it is.
func (s *Splitter) Split(body []byte) ([]byte, error) {
	if s.Rows <= 0 && s.Bytes <= 0 {
		return body, nil
	}
	// The rows are found in the text rather than by decoding the whole
	// answer, which for a large result costs more than the query.
	at := bytes.Index(body, []byte(rowsetKey))
	if at < 0 || !bytes.Contains(body, []byte(`"queryResultFormat":"arrow"`)) {
		return body, nil
	}
	start := at + len(rowsetKey)
	n := bytes.IndexByte(body[start:], '"')
	if n <= 0 {
		return body, nil
	}
	raw, err := base64.StdEncoding.DecodeString(string(body[start : start+n]))
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
		size, first := int64(s.Rows), int64(s.Rows)
		if s.Bytes > 0 {
			size = max(1, rec.NumRows()*int64(s.Bytes)/int64(len(raw)))
			first = max(1, size/8)
		}
		for lo, n := int64(0), first; lo < rec.NumRows(); lo, n = lo+n, size {
			hi := min(lo+n, rec.NumRows())
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
	if err := rd.Err(); err != nil {
		return nil, err
	}
	if len(parts) < 2 {
		return body, nil
	}
	var chunks []map[string]any
	for i, p := range parts[1:] {
		name := fmt.Sprintf("chunk-%d-%d", s.n.Add(1), i)
		if err := os.WriteFile(filepath.Join(s.Dir, name), p, 0o600); err != nil {
			return nil, err
		}
		url := s.URL + "/" + name
		if s.BreakFirst && i == 0 {
			url = s.URL + "/missing"
		}
		chunks = append(chunks, map[string]any{
			"url": url, "rowCount": counts[i+1], "uncompressedSize": len(p), "compressedSize": len(p),
		})
	}
	extra, err := json.Marshal(map[string]any{"chunks": chunks, "chunkHeaders": map[string]string{"x-retl-chunk": "1"}})
	if err != nil {
		return nil, err
	}
	// The first part stays inline; the chunks' list goes beside it.
	out := make([]byte, 0, at+len(extra)+base64.StdEncoding.EncodedLen(len(parts[0]))+len(body)-start-n+len(rowsetKey)+2)
	out = append(out, body[:at]...)
	out = append(out, extra[1:len(extra)-1]...)
	out = append(out, ',')
	out = append(out, rowsetKey...)
	out = base64.StdEncoding.AppendEncode(out, parts[0])
	return append(out, body[start+n:]...), nil
}

// rowsetKey starts the inline rows of an answer, as fakesnow writes it.
const rowsetKey = `"rowsetBase64":"`
