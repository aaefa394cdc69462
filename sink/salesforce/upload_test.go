package salesforce

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encodings records the Content-Encoding of each upload a client sends.
type encodings struct {
	mu   sync.Mutex
	seen []string
	next http.RoundTripper
}

func (e *encodings) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut {
		e.mu.Lock()
		e.seen = append(e.seen, r.Header.Get("Content-Encoding"))
		e.mu.Unlock()
	}
	return e.next.RoundTrip(r)
}

// gzip_uploads sends each Bulk upload compressed; the emulator, like
// Salesforce, inflates it, and the sink's Stats say what was saved.
func TestGzipUploads(t *testing.T) {
	for _, gz := range []bool{false, true} {
		srv := emulator(t)
		enc := &encodings{next: http.DefaultTransport}
		c, err := newAPIClient(emuConfig(srv), withLogger(quiet), withHTTPClient(&http.Client{Transport: enc}))
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		opt := fastOptions(APIBulk)
		opt.GzipUploads = gz
		s := emuSink(t, c, "Account", Upsert, "External_Id__c", opt)
		requireOK(t, write(t, s, nameRecs(500, "Z")))
		assert.Len(t, byExt(srv, "Account"), 500)
		st := s.Stats()
		if !gz {
			assert.Equal(t, []string{""}, enc.seen)
			assert.NotContains(t, st.Counts, "upload_bytes")
			continue
		}
		assert.Equal(t, []string{"gzip"}, enc.seen)
		raw, sent := st.Counts["upload_bytes"], st.Counts["upload_bytes_gzipped"]
		assert.Greater(t, raw, int64(0))
		assert.Less(t, sent, raw/2, "CSV of similar rows compresses")
	}
}

// An upload over max_upload_bytes' ceiling is a configuration error when
// the sink is built, not a refused upload in the middle of a run.
func TestMaxUploadCeiling(t *testing.T) {
	c := emuClient(t, emulator(t))
	_, err := buildSink(c, Destination{Object: "Account", Operation: Insert, Options: Options{MaxUploadBytes: MaxUploadLimit + 1}})
	assert.ErrorContains(t, err, "max_upload_bytes")
	_, err = buildSink(c, Destination{Object: "Account", Operation: Insert, Options: Options{MaxUploadBytes: MaxUploadLimit}})
	assert.NoError(t, err)
}

func TestUploadTimeout(t *testing.T) {
	assert.Equal(t, 2*time.Minute, uploadTimeout(2*time.Minute, 1000))
	assert.Equal(t, 2*time.Minute+400*time.Second, uploadTimeout(2*time.Minute, 100<<20), "100 MB at 256 KB/s")
}
