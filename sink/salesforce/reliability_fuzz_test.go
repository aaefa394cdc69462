package salesforce

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// bulkFuzzRecords are the records every FuzzBulkResults run writes: keys
// that no other key contains, and cells that need quoting.
var bulkFuzzRecords = recs(nameLayout,
	[]any{"Kalpha", "plain"},
	[]any{"Kbravo", "comma, inside"},
	[]any{"Kcharlie", `say "hi"`},
	[]any{"Kdelta", "two\nlines"},
	[]any{"Kecho", "plain"},
)

// noREST is the error code bulkAPI answers REST calls with.
const noREST = "TEST_NO_REST"

// bulkAPI is an in-memory Bulk API 2.0 (no sockets, so the fuzzer runs
// fast) whose job ends in state and whose result files are given.
type bulkAPI struct {
	state                        string
	success, failed, unprocessed string
	jobs                         atomic.Int64
}

func (b *bulkAPI) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	status, body := http.StatusOK, ""
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/oauth2/token"):
		body = `{"access_token":"tok","instance_url":"http://127.0.0.1:1"}`
	case r.Method == http.MethodPost && strings.HasSuffix(p, "/jobs/ingest"):
		b.jobs.Add(1)
		body = `{"id":"750F","state":"Open"}`
	case r.Method == http.MethodPut:
		status = http.StatusCreated
	case r.Method == http.MethodPatch:
		body = `{"id":"750F","state":"UploadComplete"}`
	case strings.HasSuffix(p, "/jobs/ingest/750F"):
		body = `{"id":"750F","state":"` + b.state + `","errorMessage":"job ended","numberRecordsFailed":1}`
	case strings.HasSuffix(p, "/successfulResults/"):
		body = b.success
	case strings.HasSuffix(p, "/failedResults/"):
		body = b.failed
	case strings.HasSuffix(p, "/unprocessedrecords/"):
		body = b.unprocessed
	case strings.Contains(p, "/composite/"):
		// Rows that stay locked may go on through REST; this API has none.
		status, body = http.StatusBadRequest, `[{"errorCode":"`+noREST+`","message":"no REST here"}]`
	default:
		status, body = http.StatusNotFound, `[{"errorCode":"NOT_FOUND","message":"no"}]`
	}
	return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

// csvRows counts the data rows encoding/csv reads from a result file
// before its first error, the most rows the file can account for.
func csvRows(body string) int {
	r := csv.NewReader(strings.NewReader(body))
	r.FieldsPerRecord = -1
	n := -1 // the header
	for {
		if _, err := r.Read(); err != nil {
			return max(n, 0)
		}
		n++
	}
}

// FuzzBulkResults feeds arbitrary result files to a whole Bulk Write.
// Whatever the files hold, the Write returns one result per record, never
// panics, gives each record an error code or a success, and never claims
// more successes (or Salesforce errors) than the file has rows.
func FuzzBulkResults(f *testing.F) {
	echo := func(prefix string, rows ...string) string {
		return prefix + "External_Id__c,Name\n" + strings.Join(rows, "")
	}
	ok := echo("sf__Id,sf__Created,", "001A,true,Kalpha,plain\n", "001B,false,Kbravo,\"comma, inside\"\n",
		"001C,true,Kcharlie,\"say \"\"hi\"\"\"\n", "001D,true,Kdelta,\"two\nlines\"\n", "001E,true,Kecho,plain\n")
	f.Add(uint8(0), ok, "", "")
	f.Add(uint8(0), echo("sf__Id,sf__Created,", "001E,true,KECHO,plain\n", "001A,true,kalpha,PLAIN\n"),
		echo(`"sf__Id","sf__Error",`, `"","UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--","Kbravo","comma, inside"`+"\n",
			`"","REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --",Kdelta,"two`+"\n"+`lines"`+"\n"), "")
	f.Add(uint8(1), echo("sf__Id,sf__Created,", "001A,true,Kalpha,plain\n"), "", echo("", "Kbravo,\"comma, inside\"\n"))
	f.Add(uint8(2), "", "", ok[strings.IndexByte(ok, '\n')+1:])
	f.Add(uint8(0), "sf__Id,\"broken\n", "", "")
	f.Add(uint8(0), ok+ok, "\ufeffsf__Id,sf__Error\n,:--\n,X\n", "")
	f.Add(uint8(0), "sf__Id,sf__Created,Name\n001A,true,plain\n001B,true,plain\n001C,true,plain\n", "", "")
	states := []string{stateJobComplete, stateFailed, stateAborted}
	f.Fuzz(func(t *testing.T, state uint8, success, failed, unprocessed string) {
		api := &bulkAPI{state: states[int(state)%len(states)], success: success, failed: failed, unprocessed: unprocessed}
		cfg := connConfig{LoginURL: "http://127.0.0.1:1", Auth: AuthPassword, ClientID: "c", ClientSecret: "s",
			Username: "u", Password: "p", retryBase: time.Microsecond}
		c, err := newAPIClient(cfg, withLogger(quiet), withHTTPClient(&http.Client{Transport: api}))
		require.NoError(t, err)
		c.sleep = func(context.Context, time.Duration) error { return nil }
		for _, op := range []Operation{Insert, Upsert} {
			ext := ""
			if op == Upsert {
				ext = "External_Id__c"
			}
			opt := fastOptions(APIBulk)
			opt.pollStart = time.Microsecond
			s, err := buildSink(c, Destination{Object: "Account", Operation: op, ExternalID: ext, Options: opt})
			require.NoError(t, err)
			api.jobs.Store(0)
			res, err := s.Write(context.Background(), bulkFuzzRecords)
			require.NoError(t, err)
			require.Len(t, res, len(bulkFuzzRecords))
			succeeded, sfErrors := 0, 0
			for i, r := range res {
				if r.Err == nil {
					succeeded++
					key := bulkFuzzRecords[i].Values[0].S
					assert.Contains(t, strings.ToLower(success), strings.ToLower(key), "record %d succeeded on a file that does not name it", i)
					continue
				}
				assert.NotEmpty(t, r.Err.Code, "record %d", i)
				if !strings.HasPrefix(r.Err.Code, "RETL_") && r.Err.Code != CodeJobFailed && r.Err.Code != CodeJobAborted &&
					r.Err.Code != CodeUnprocessed && r.Err.Code != noREST {
					sfErrors++
				}
			}
			jobs := int(api.jobs.Load())
			// Each job reads the same files: lock retries send rows again.
			assert.LessOrEqual(t, succeeded, jobs*csvRows(success), "successes beyond the success file's rows")
			assert.LessOrEqual(t, sfErrors, jobs*csvRows(failed), "Salesforce errors beyond the failed file's rows")
		}
	})
}

// FuzzParseBulkError: any sf__Error cell gives a code and keeps the text;
// a well-formed one comes back as it was written.
func FuzzParseBulkError(f *testing.F) {
	for _, s := range []string{
		"REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --",
		"UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record or 1 records: 001A:--",
		"DUPLICATE_VALUE:duplicate value found: External_Id__c duplicates value on record with id: 001:External_Id__c --",
		"not an error", "", ":", "::", " -- ", "A:b:c,d --", "lower:msg:Name --", "X:\u00e9:",
	} {
		f.Add(s, "CODE", "message: with colons", "Name")
	}
	fieldNameRe := regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)?$`)
	f.Fuzz(func(t *testing.T, cell, code, msg, field string) {
		e := parseBulkError(cell)
		require.NotNil(t, e)
		require.NotEmpty(t, e.Code)
		assert.True(t, isErrorCode(e.Code), "code %q", e.Code)
		if utf8.ValidString(cell) {
			assert.True(t, utf8.ValidString(e.Message))
		}
		// Nothing but separators is lost: the parts hold every character
		// of the cell other than colons, commas, dashes and spaces.
		strip := func(s string) string {
			return strings.Map(func(r rune) rune {
				if r == ':' || r == ',' || r == '-' || unicode.IsSpace(r) {
					return -1
				}
				return r
			}, s)
		}
		kept := e.Message + strings.Join(e.Fields, "")
		if strings.HasPrefix(strings.TrimSpace(cell), e.Code+":") {
			kept = e.Code + kept
		}
		assert.Equal(t, strip(cell), strip(kept), "cell %q", cell)

		// A cell written the way Salesforce writes one parses back.
		if !isErrorCode(code) || !fieldNameRe.MatchString(field) || msg == "" || strings.TrimSpace(msg) != msg ||
			strings.ContainsAny(msg, ":\r\n\t\v\f") || strings.HasSuffix(msg, "-") || !utf8.ValidString(msg) {
			return
		}
		e = parseBulkError(code + ":" + msg + ":" + field + " --")
		assert.Equal(t, code, e.Code)
		assert.Equal(t, msg, e.Message)
		if field == "" {
			assert.Empty(t, e.Fields)
		} else {
			assert.Equal(t, []string{field}, e.Fields)
		}
	})
}

// FuzzBulkCSVRoundTrip: the upload body of a Bulk job reads back, with
// encoding/csv, as one row per record holding exactly each value's cell,
// whatever the text (encoding/csv reads a quoted \r\n as \n, which is the
// one difference allowed).
func FuzzBulkCSVRoundTrip(f *testing.F) {
	for _, s := range []string{"", " ", "a", "b,c", `q"`, "x\ny", "x\r\ny", "\r", " lead", `\.`, "#N/A", "é,\"", "\t", "\ufeffbom", "\x00"} {
		f.Add(s, "plain", uint8(2), uint8(0))
	}
	f.Fuzz(func(t *testing.T, a, b string, ka, kb uint8) {
		kinds := []sink.Kind{sink.Absent, sink.Null, sink.Text, sink.Number, sink.Bool, sink.Date, sink.DateTime}
		val := func(s string, k uint8) sink.Value {
			v := sink.Value{Kind: kinds[int(k)%len(kinds)], S: s}
			if v.Kind == sink.Absent || v.Kind == sink.Null {
				v.S = ""
			}
			return v
		}
		layout := sink.NewLayout([]string{"Name", "Description", "Phone"}, nil)
		records := []sink.Record{
			{Seq: 1, Layout: layout, Values: []sink.Value{val(a, ka), val(b, kb), sink.TextValue("x")}},
			{Seq: 2, Layout: layout, Values: []sink.Value{val(b, kb), val(a, ka), sink.TextValue("y")}},
			{Seq: 3, Layout: layout, Values: []sink.Value{val(a, ka), {}, {}}},
		}
		s := &sfSink{dest: Destination{Object: "Account", Operation: Insert}}
		require.NoError(t, s.dest.check())
		pending := []int{0, 1, 2}
		bl, err := s.planColumns(layout, records, pending)
		require.NoError(t, err)
		out := make([]sink.Result, len(records))
		jobs := s.planJobs(bl, records, pending, out)
		require.Len(t, jobs, 1)
		j := jobs[0]
		r := csv.NewReader(bytes.NewReader(j.body))
		r.FieldsPerRecord = -1
		rows, err := r.ReadAll()
		require.NoError(t, err, "body %q", j.body)
		require.Len(t, rows, 1+len(records), "body %q", j.body)
		assert.Equal(t, bl.cols, rows[0])
		for p, ri := range j.idx {
			want := make([]string, len(bl.cols))
			for c, fi := range bl.from {
				want[c] = strings.ReplaceAll(bulkCell(records[ri].Values[fi]), "\r\n", "\n")
			}
			assert.Equal(t, want, rows[1+p], "record %d", ri)
			assert.Equal(t, want, j.cells(p), "record %d read back from its own row", ri)
		}
	})
}

// FuzzQuoteSOQLOnEmulator runs quoted values through the emulator's SOQL
// parser: a record whose Name is the value is found by it, and only it,
// so no value can end its literal early and change the query.
func FuzzQuoteSOQLOnEmulator(f *testing.F) {
	for _, s := range []string{"O'Brien", `\`, `\'`, "' OR Name != '", "a\nb", `%_`, "\\u0041", "é'\"\\", "')", "x' OR Id != null OR Name = 'y"} {
		f.Add(s)
	}
	srv := sftest.NewServer()
	f.Cleanup(srv.Close)
	c, err := newAPIClient(emuConfig(srv), withLogger(quiet))
	require.NoError(f, err)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, s string) {
		// Salesforce trims text it stores; values it would change are not
		// what this checks.
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > 80 || s == "" || strings.TrimSpace(s) != s {
			return
		}
		tag := fmt.Sprintf("fuzz-%d", n.Add(1))
		if _, err := srv.Insert("Account", map[string]any{"Name": s, "Description": tag}); err != nil {
			return // a value the org refuses to store, such as a NUL
		}
		q := "SELECT Id, Name FROM Account WHERE Description = " + quoteSOQL(tag) + " AND Name = " + quoteSOQL(s)
		var names []string
		for row, err := range c.Query(context.Background(), q) {
			require.NoError(t, err, "query %q", q)
			names = append(names, row.String("Name"))
		}
		assert.Equal(t, []string{s}, names, "query %q", q)
	})
}
