package salesforce

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// writeTap sits between the sink and the emulator and keeps the body of
// every request that writes records: Bulk uploads and REST saves.
type writeTap struct {
	mu     sync.Mutex
	bodies []string
}

func (w *writeTap) writes() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.bodies...)
}

func (w *writeTap) reset() {
	w.mu.Lock()
	w.bodies = nil
	w.mu.Unlock()
}

// tap starts a proxy to srv and returns its URL, to use as instance_url.
func tap(t *testing.T, srv *sftest.Server) (string, *writeTap) {
	t.Helper()
	target, err := url.Parse(srv.URL())
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	w := &writeTap{}
	ts := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if strings.HasSuffix(r.URL.Path, "/batches") || strings.Contains(r.URL.Path, "/composite/sobjects") && r.Method != http.MethodGet {
			w.mu.Lock()
			w.bodies = append(w.bodies, string(body))
			w.mu.Unlock()
		}
		proxy.ServeHTTP(rw, r)
	}))
	t.Cleanup(ts.Close)
	return ts.URL, w
}

// sentFields returns, for each record a write carried, the fields it set
// (a Bulk cell that is not empty, a REST key), by external id.
func sentFields(t *testing.T, bodies []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, b := range bodies {
		if strings.HasPrefix(b, "{") {
			var req struct {
				Records []map[string]any `json:"records"`
			}
			require.NoError(t, json.Unmarshal([]byte(b), &req))
			for _, r := range req.Records {
				var fields []string
				for k := range r {
					if k != "attributes" && k != "External_Id__c" {
						fields = append(fields, k)
					}
				}
				out[r["External_Id__c"].(string)] = sortedStrings(fields)
			}
			continue
		}
		rows, err := csv.NewReader(strings.NewReader(b)).ReadAll()
		require.NoError(t, err)
		require.NotEmpty(t, rows)
		head := rows[0]
		for _, row := range rows[1:] {
			var fields []string
			key := ""
			for i, cell := range row {
				switch {
				case head[i] == "External_Id__c":
					key = cell
				case cell != "":
					fields = append(fields, head[i])
				}
			}
			out[key] = sortedStrings(fields)
		}
	}
	return out
}

func sortedStrings(s []string) []string {
	slices.Sort(s)
	if s == nil {
		return []string{}
	}
	return s
}

func differOrg(t *testing.T) *sftest.Server {
	t.Helper()
	srv := emulator(t)
	require.NoError(t, srv.DefineObject(sftest.Object{Name: "Account", Fields: []sftest.Field{
		{Name: "Score__c", Type: sftest.TypeDouble, Precision: 8, Scale: 2},
		{Name: "Since__c", Type: sftest.TypeDate},
		{Name: "Active__c", Type: sftest.TypeBoolean},
		{Name: "Level__c", Type: sftest.TypePicklist, Values: []string{"Gold", "Silver"}},
	}}))
	return srv
}

var differMapping = "  - {from: K, to: External_Id__c}\n  - {from: N, to: Name}\n  - {from: CITY, to: BillingCity}\n" +
	"  - {from: SCORE, to: Score__c, type: number}\n  - {from: SINCE, to: Since__c, type: date}\n" +
	"  - {from: ACTIVE, to: Active__c, type: boolean}\n  - {from: LEVEL, to: Level__c}\n  - {from: PHONE, to: Phone}\n"

var differCols = []string{"K", "N", "CITY", "SCORE", "SINCE", "ACTIVE", "LEVEL", "PHONE"}

// With only_if_different, a rerun on data Salesforce already holds sends
// no record; numbers are compared at the field's scale, dates, booleans
// and picklists as Salesforce stores them, and a null matches an empty
// field. A change to one field sends that field alone, and the plan says
// the same as the run.
func TestOnlyIfDifferent(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := differOrg(t)
			instance, w := tap(t, srv)
			sync := syncFile("Account", "upsert", "External_Id__c", api, "  only_if_different: true\n", differMapping)
			first := table{cols: differCols, rows: [][]any{
				{"A-1", "One", "Oslo", "1.5", "2024-05-01", true, "Gold", nil},
				{"A-2", "Two", "Rome", "2", "2024-05-02", false, "Silver", nil},
			}}
			rep, ran := semanticsRunAt(t, srv, instance, first, sync, false)
			assert.Equal(t, map[string]string{"A-1": "created", "A-2": "created"}, ran.rows)
			assert.EqualValues(t, 2, rep.Created)

			// The same values as Salesforce writes them back differ in form only.
			again := table{cols: differCols, rows: [][]any{
				{"A-1", "One", "Oslo", "1.50", "2024-05-01", "true", "gold", ""},
				{"A-2", "Two", "Rome", "2.001", "2024-05-02", false, "SILVER", nil},
			}}
			w.reset()
			srv.ResetRequests()
			rep, ran = semanticsRunAt(t, srv, instance, again, sync, false)
			assert.Equal(t, map[string]string{"A-1": "skipped unchanged", "A-2": "skipped unchanged"}, ran.rows)
			assert.EqualValues(t, 2, rep.Unchanged)
			assert.Empty(t, w.writes(), "no record was sent")
			for _, r := range srv.Requests() {
				assert.NotContains(t, r.Path, "/jobs/ingest", "no Bulk job")
				assert.NotContains(t, r.Path, "/composite/sobjects", "no REST save")
			}

			changed := table{cols: differCols, rows: [][]any{
				{"A-1", "One", "Bergen", "1.5", "2024-05-01", true, "Gold", nil},
				{"A-2", "Two", "Rome", "2", "2024-05-02", false, "Silver", nil},
			}}
			_, planned := semanticsRunAt(t, srv, instance, changed, sync, true)
			w.reset()
			_, ran = semanticsRunAt(t, srv, instance, changed, sync, false)
			assert.Equal(t, map[string]string{"A-1": "updated", "A-2": "skipped unchanged"}, ran.rows)
			assert.Equal(t, planned.rows, ran.rows, "the plan predicts the run")
			assert.Equal(t, map[string][]string{"A-1": {"BillingCity"}}, sentFields(t, w.writes()), "only the changed field was sent")
			got := byExt(srv, "Account")
			assert.Equal(t, "Bergen", got["A-1"]["BillingCity"])
			assert.Equal(t, "One", got["A-1"]["Name"])
		})
	}
}

// only_if_different also applies set_if_empty from its own read: a guarded
// field that holds a value is kept back, and a record whose only change
// would be that field is not sent.
func TestOnlyIfDifferentWithSetIfEmpty(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := differOrg(t)
			instance, w := tap(t, srv)
			mapping := "  - {from: K, to: External_Id__c}\n  - {from: N, to: Name}\n  - {from: CITY, to: BillingCity, set_if_empty: true}\n"
			sync := syncFile("Account", "upsert", "External_Id__c", api, "  only_if_different: true\n", mapping)
			cols := []string{"K", "N", "CITY"}
			_, ran := semanticsRunAt(t, srv, instance, table{cols: cols, rows: [][]any{{"A-1", "One", "Oslo"}, {"A-2", "Two", nil}}}, sync, false)
			require.Equal(t, map[string]string{"A-1": "created", "A-2": "created"}, ran.rows)

			w.reset()
			srv.ResetRequests()
			_, ran = semanticsRunAt(t, srv, instance, table{cols: cols, rows: [][]any{{"A-1", "One", "Bergen"}, {"A-2", "Two", "Rome"}}}, sync, false)
			assert.Equal(t, map[string]string{"A-1": "skipped unchanged", "A-2": "updated"}, ran.rows)
			assert.Equal(t, map[string][]string{"A-1": {"BillingCity"}}, ran.kept)
			assert.Equal(t, map[string][]string{"A-2": {"BillingCity"}}, sentFields(t, w.writes()))
			got := byExt(srv, "Account")
			assert.Equal(t, "Oslo", got["A-1"]["BillingCity"])
			assert.Equal(t, "Rome", got["A-2"]["BillingCity"])
			n := 0
			for _, r := range srv.Requests() {
				if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/query") {
					n++
				}
			}
			assert.Equal(t, 1, n, "one read serves both rails")
		})
	}
}

// An update by Id that names no record is sent as is, and Salesforce
// refuses it as without the option; a malformed Id is not read.
func TestOnlyIfDifferentUnknownRecords(t *testing.T) {
	srv := differOrg(t)
	id, err := srv.Insert("Account", map[string]any{"Name": "One"})
	require.NoError(t, err)
	missing := id[:14] + "Z"
	if missing == id[:15] {
		missing = id[:14] + "Y"
	}
	sync := syncFile("Account", "update", "", APIREST, "  only_if_different: true\n", "  - {from: K, to: Id}\n  - {from: N, to: Name}\n")
	_, ran := semanticsRun(t, srv, table{cols: []string{"K", "N"}, rows: [][]any{{id, "One"}, {missing, "Two"}, {"bad", "Three"}}}, sync, false)
	assert.Equal(t, "skipped unchanged", ran.rows[id])
	assert.True(t, strings.HasPrefix(ran.rows[missing], "failed "), ran.rows[missing])
	assert.True(t, strings.HasPrefix(ran.rows["bad"], "failed "), ran.rows["bad"])
}

// only_if_different is refused where there is nothing to compare with.
func TestOnlyIfDifferentOperations(t *testing.T) {
	for _, op := range []Operation{Insert, Delete, HardDelete} {
		d := Destination{Object: "Account", Operation: op, Options: Options{OnlyIfDifferent: true}}
		err := d.check()
		var ke *keyError
		require.ErrorAs(t, err, &ke, op)
		assert.Equal(t, "only_if_different", ke.key)
	}
	for _, op := range []Operation{Update, Upsert} {
		d := Destination{Object: "Account", Operation: op, ExternalID: "External_Id__c", Options: Options{OnlyIfDifferent: true}}
		assert.NoError(t, d.check(), op)
	}
}

// A failed read of current values fails the write, naming the rail.
func TestOnlyIfDifferentReadFails(t *testing.T) {
	srv := differOrg(t)
	c := emuClient(t, srv)
	opt := fastOptions(APIREST)
	opt.OnlyIfDifferent = true
	s := emuSink(t, c, "Account", Upsert, "No_Such_Field__c", opt)
	layout := sink.NewLayout([]string{"No_Such_Field__c", "Name"}, nil)
	_, err := s.Write(t.Context(), recs(layout, []any{"A-1", "One"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "only_if_different: reading current values")
	var ae *APIError
	assert.ErrorAs(t, err, &ae, "Salesforce's answer keeps its type")

	// Records without their key field cannot be compared.
	s = emuSink(t, c, "Account", Upsert, "External_Id__c", opt)
	_, err = s.Write(t.Context(), recs(sink.NewLayout([]string{"Name"}, nil), []any{"One"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "only_if_different: the records have no External_Id__c field")

	// An object Salesforce does not know has no describe to compare by.
	s = emuSink(t, c, "No_Such__c", Upsert, "External_Id__c", opt)
	_, err = s.Write(t.Context(), recs(sink.NewLayout([]string{"External_Id__c", "Name"}, nil), []any{"A-1", "One"}))
	require.ErrorAs(t, err, &ae)
	assert.Contains(t, err.Error(), "only_if_different:")
	assert.Empty(t, byExt(srv, "Account"), "nothing was written")
}

// An update that finds its records by match_on compares them once found.
func TestOnlyIfDifferentMatchOn(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := differOrg(t)
			seed(t, srv, "Account", map[string]any{"Name": "One", "External_Id__c": "A-1", "BillingCity": "Oslo"})
			seed(t, srv, "Account", map[string]any{"Name": "Two", "External_Id__c": "A-2", "BillingCity": "Rome"})
			instance, w := tap(t, srv)
			sync := syncFile("Account", "update", "External_Id__c", api, "  only_if_different: true\n",
				"  - {from: K, to: External_Id__c}\n  - {from: CITY, to: BillingCity}\n")
			_, ran := semanticsRunAt(t, srv, instance, table{cols: []string{"K", "CITY"}, rows: [][]any{{"A-1", "Oslo"}, {"A-2", "Pisa"}}}, sync, false)
			assert.Equal(t, map[string]string{"A-1": "skipped unchanged", "A-2": "updated"}, ran.rows)
			require.Len(t, w.writes(), 1)
			assert.Contains(t, w.writes()[0], "Pisa")
			assert.NotContains(t, w.writes()[0], "Oslo")
			assert.Equal(t, "Pisa", byExt(srv, "Account")["A-2"]["BillingCity"])
		})
	}
}
