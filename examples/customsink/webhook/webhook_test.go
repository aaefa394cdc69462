package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/sinktest"
)

// receiver is an endpoint as the package describes it: records stored by
// key, a record without a Name refused.
type receiver struct {
	mu       sync.Mutex
	byKey    map[string]map[string]any
	requests atomic.Int64
	// fail answers the next n requests with this status.
	fail     atomic.Int64
	failWith int
	// answer, when set, replaces the answer's body.
	answer string
}

func newReceiver(t testing.TB) (*receiver, *httptest.Server) {
	rc := &receiver{byKey: map[string]map[string]any{}}
	srv := httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(srv.Close)
	return rc, srv
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	rc.requests.Add(1)
	if rc.fail.Load() > 0 {
		rc.fail.Add(-1)
		http.Error(w, "try later", rc.failWith)
		return
	}
	if rc.answer != "" {
		_, _ = w.Write([]byte(rc.answer))
		return
	}
	var in struct {
		Records []wireRecord `json:"records"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	type result struct {
		ID    string            `json:"id,omitempty"`
		Error map[string]string `json:"error,omitempty"`
	}
	out := struct {
		Results []result `json:"results"`
	}{}
	rc.mu.Lock()
	for _, rec := range in.Records {
		if name, _ := rec.Fields["Name"].(string); name == "" {
			out.Results = append(out.Results, result{Error: map[string]string{"code": "REQUIRED", "message": "Name is required"}})
			continue
		}
		rc.byKey[rec.Key] = rec.Fields
		out.Results = append(out.Results, result{ID: "id-" + rec.Key})
	}
	rc.mu.Unlock()
	_ = json.NewEncoder(w).Encode(out)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.byKey)
}

func (rc *receiver) lookup(key string) (map[string]string, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	f, ok := rc.byKey[key]
	if !ok {
		return nil, nil
	}
	out := map[string]string{}
	for k, v := range f {
		if v != nil {
			out[k] = fmt.Sprint(v)
		}
	}
	return out, nil
}

func syncFile(url string) string {
	return `name: people
source: {type: sql, query: select 1}
destination:
  type: webhook
  url: ` + url + `
  key_field: Ext
mapping:
  - {from: ID, to: Ext}
  - {from: NAME, to: Name}
`
}

func testSink(t testing.TB, url string) *Sink {
	n := 2
	s := NewSink(Config{URL: url, KeyField: "Ext", BatchSize: 50, Timeout: 5 * time.Second, MaxRetries: &n}, &http.Client{})
	s.wait = func(int) time.Duration { return 0 }
	return s
}

func TestConformance(t *testing.T) {
	build, bsrv := newReceiver(t)
	sinktest.Run(t, sinktest.Harness{
		New: func(t testing.TB) sinktest.Target {
			rc, srv := newReceiver(t)
			return sinktest.Target{Sink: testSink(t, srv.URL), Count: func() (int, error) { return rc.count(), nil }, Lookup: rc.lookup}
		},
		Good:  func(i int) sink.Record { return rec(fmt.Sprintf("K%d", i), "ok") },
		Bad:   func(i int) sink.Record { return rec(fmt.Sprintf("K%d", i), "") },
		Guard: "Name", // refused when built: the endpoint cannot say what it holds
		Build: &sinktest.Build{
			Register: Register,
			Sync:     []byte(syncFile(bsrv.URL)),
			Required: []string{"destination.url", "destination.key_field"},
			IO:       build.requests.Load,
		},
	})
}

var layout = sink.NewLayout([]string{"Ext", "Name"}, nil)

func rec(key, name string) sink.Record {
	return sink.Record{Key: key, Layout: layout, Values: []sink.Value{sink.TextValue(key), sink.TextValue(name)}}
}

// A lost answer (5xx) is sent again; the endpoint's refusals are the
// records' own results; a request that keeps failing fails its records
// with the status; an answer that does not fit fails them as such.
func TestWriteOutcomes(t *testing.T) {
	ctx := context.Background()
	rc, srv := newReceiver(t)
	s := testSink(t, srv.URL)

	rc.fail.Store(2)
	rc.failWith = http.StatusServiceUnavailable
	res, err := s.Write(ctx, []sink.Record{rec("A", "a"), rec("B", "")})
	require.NoError(t, err)
	assert.Equal(t, "id-A", res[0].ID)
	require.NotNil(t, res[1].Err)
	assert.Equal(t, sink.RecordError{Code: "REQUIRED", Message: "Name is required"}, *res[1].Err)
	assert.EqualValues(t, 3, rc.requests.Load(), "two lost answers, then the batch")

	rc.fail.Store(5)
	res, err = s.Write(ctx, []sink.Record{rec("C", "c")})
	require.NoError(t, err)
	assert.Equal(t, "WEBHOOK_HTTP_503", res[0].Err.Code, "three tries, then the status")

	rc.fail.Store(1)
	rc.failWith = http.StatusBadRequest
	before := rc.requests.Load()
	res, err = s.Write(ctx, []sink.Record{rec("D", "d")})
	require.NoError(t, err)
	assert.Equal(t, "WEBHOOK_HTTP_400", res[0].Err.Code)
	assert.Contains(t, res[0].Err.Message, "try later")
	assert.EqualValues(t, 1, rc.requests.Load()-before, "a 4xx is not sent again")

	rc.answer = `{"results": [{"id": "x"}]}`
	res, err = s.Write(ctx, []sink.Record{rec("E", "e"), rec("F", "f")})
	require.NoError(t, err)
	assert.Equal(t, "x", res[0].ID)
	assert.Equal(t, CodeAnswer, res[1].Err.Code)

	rc.answer = `not json`
	res, err = s.Write(ctx, []sink.Record{rec("G", "g")})
	require.NoError(t, err)
	assert.Equal(t, CodeAnswer, res[0].Err.Code)

	srv.Close()
	res, err = s.Write(ctx, []sink.Record{rec("H", "h")})
	require.NoError(t, err)
	assert.Equal(t, CodeHTTP, res[0].Err.Code, "unreachable")
}

// A cancelled write stops waiting between tries and says so.
func TestWriteStopsWhenCancelled(t *testing.T) {
	rc, srv := newReceiver(t)
	rc.fail.Store(10)
	rc.failWith = http.StatusBadGateway
	s := testSink(t, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	s.wait = func(int) time.Duration { cancel(); return time.Hour }
	_, err := s.Write(ctx, []sink.Record{rec("A", "a")})
	assert.ErrorIs(t, err, context.Canceled)
}

// The values go in their JSON types, absent fields left out, the key
// taken from key_field.
func TestEncode(t *testing.T) {
	l := sink.NewLayout([]string{"Ext", "N", "B", "Gone", "Cleared", "D"}, nil)
	b, err := encode([]sink.Record{{Layout: l, Values: []sink.Value{sink.TextValue("K"), sink.NumberValue("1.50"), sink.BoolValue(true), {}, sink.NullValue(), {Kind: sink.Date, S: "2024-05-01"}}}}, "Ext")
	require.NoError(t, err)
	assert.JSONEq(t, `{"records":[{"key":"K","fields":{"Ext":"K","N":1.50,"B":true,"Cleared":null,"D":"2024-05-01"}}]}`, string(b))
}

// Every problem of the section at its file, line and key, in one pass.
func TestCheck(t *testing.T) {
	load := func(dest string, mapping string) error {
		sync := "name: s\nsource: {type: sql, query: q}\ndestination:\n  type: webhook\n" + dest + "mapping:\n" + mapping
		_, err := config.Parse(context.Background(), "", nil, map[string][]byte{"s.yaml": []byte(sync)}, config.WithCheck(Check))
		return err
	}
	const m = "  - {from: ID, to: Ext}\n"
	assert.NoError(t, load("  url: https://hooks.example.com/x\n  key_field: Ext\n", m))
	err := load("  batch_size: -1\n  timeout: -1s\n  max_retries: -1\n", m+"  - {from: N, to: Name, set_if_empty: true}\n")
	require.Error(t, err)
	assert.Equal(t, strings.Join([]string{
		`s.yaml:3:1: key "destination.url": missing required key: the endpoint that receives the records`,
		`s.yaml:3:1: key "destination.key_field": missing required key: the mapped field whose value is each record's key`,
		`s.yaml:5:15: key "destination.batch_size": must not be negative`,
		`s.yaml:6:12: key "destination.timeout": must not be negative`,
		`s.yaml:7:16: key "destination.max_retries": must not be negative`,
		`s.yaml:10:5: key "mapping[1].set_if_empty": the webhook destination cannot read current values; set_if_empty is not supported`,
	}, "\n"), err.Error())
	for dest, want := range map[string]string{
		"  url: http://hooks.example.com/x\n  key_field: Ext\n": "http is allowed only for loopback hosts",
		"  url: /relative\n  key_field: Ext\n":                  "want an absolute http(s) URL",
		"  url: https://h.example/x\n  key_field: Other\n":      "field Other is not mapped",
		"  url: https://h.example/x\n  key_fild: Ext\n":         `unknown key; did you mean "key_field"?`,
	} {
		assert.ErrorContains(t, load(dest, m), want, dest)
	}
}
