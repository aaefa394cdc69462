package salesforce

import (
	"context"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// emulator starts an sftest server closed at the end of the test.
func emulator(t testing.TB, opts ...sftest.Option) *sftest.Server {
	t.Helper()
	srv := sftest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv
}

// emuConfig is a password-flow connection to srv with short retry waits.
func emuConfig(srv *sftest.Server) connConfig {
	return connConfig{
		LoginURL: srv.URL(), Auth: AuthPassword,
		ClientID: sftest.DefaultClientID, ClientSecret: sftest.DefaultClientSecret,
		Username: sftest.DefaultUsername, Password: sftest.DefaultPassword,
		retryBase: 2 * time.Millisecond,
	}
}

func emuClient(t testing.TB, srv *sftest.Server, edit ...func(*connConfig)) *apiClient {
	t.Helper()
	cfg := emuConfig(srv)
	for _, e := range edit {
		e(&cfg)
	}
	c, err := newAPIClient(cfg, withLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// fastOptions polls and backs off in milliseconds.
func fastOptions(api string) Options {
	return Options{API: api, pollStart: 2 * time.Millisecond, PollMaxWait: 20 * time.Millisecond, lockBackoff: time.Millisecond}
}

func emuSink(t testing.TB, c *apiClient, obj string, op Operation, ext string, opt Options) *sfSink {
	t.Helper()
	s, err := buildSink(c, Destination{Object: obj, Operation: op, ExternalID: ext, Options: opt})
	require.NoError(t, err)
	return s
}

// recs builds records of one layout from rows of values; a nil value is
// absent, sink.Value values are taken as they are, strings are text.
func recs(layout *sink.Layout, rows ...[]any) []sink.Record {
	out := make([]sink.Record, len(rows))
	for i, row := range rows {
		vals := make([]sink.Value, len(row))
		for j, v := range row {
			switch x := v.(type) {
			case nil:
			case sink.Value:
				vals[j] = x
			case string:
				vals[j] = sink.TextValue(x)
			default:
				panic("recs: unsupported value")
			}
		}
		out[i] = sink.Record{Seq: int64(i + 1), Layout: layout, Values: vals}
	}
	return out
}

func write(t testing.TB, s *sfSink, records []sink.Record) []sink.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := s.Write(ctx, records)
	require.NoError(t, err)
	require.Len(t, res, len(records))
	return res
}

// byExt indexes an object's live records by external id.
func byExt(srv *sftest.Server, obj string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range srv.Records(obj) {
		if r["IsDeleted"] == true {
			continue
		}
		if k, ok := r["External_Id__c"].(string); ok {
			out[k] = r
		}
	}
	return out
}

func live(srv *sftest.Server, obj string) []map[string]any {
	var out []map[string]any
	for _, r := range srv.Records(obj) {
		if r["IsDeleted"] != true {
			out = append(out, r)
		}
	}
	return out
}

func seed(t testing.TB, srv *sftest.Server, obj string, fields map[string]any) string {
	t.Helper()
	id, err := srv.Insert(obj, fields)
	require.NoError(t, err)
	return id
}

func requireOK(t testing.TB, res []sink.Result) {
	t.Helper()
	for i, r := range res {
		require.Nil(t, r.Err, "record %d", i)
	}
}

func countRequests(srv *sftest.Server, method, pathPart string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == method && strings.Contains(r.Path, pathPart) {
			n++
		}
	}
	return n
}

func TestEmulatorHelpers(t *testing.T) {
	srv := emulator(t)
	seed(t, srv, "Account", map[string]any{"Name": "A", "External_Id__c": "A-1"})
	assert.Len(t, byExt(srv, "Account"), 1)
	assert.Len(t, live(srv, "Account"), 1)
}

func TestMain(m *testing.M) {
	// simpleforce reports failed requests on the standard logger; the
	// tests provoke many.
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}
