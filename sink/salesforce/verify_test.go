package salesforce

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// verifySchema has save-time rules standing for a customer's trigger and
// Flow: Code__c is upper-cased, Tier__c is set from BillingCountry.
const verifySchema = `
objects:
  - name: Account
    fields:
      - name: Code__c
        type: string
        length: 20
      - name: Score__c
        type: double
        precision: 8
        scale: 2
      - name: Tier__c
        type: string
        length: 20
    onSave:
      - field: Code__c
        upper: true
      - field: Tier__c
        from: BillingCountry
`

// alteredLog keeps each row's outcome and altered fields by key.
type alteredLog struct {
	reverseetl.NopObserver
	mu      sync.Mutex
	kind    map[string]string
	ids     map[string]string
	altered map[string][]sink.FieldChange
}

func newAlteredLog() *alteredLog {
	return &alteredLog{kind: map[string]string{}, ids: map[string]string{}, altered: map[string][]sink.FieldChange{}}
}

func (l *alteredLog) Outcomes(_ context.Context, _ *config.Sync, outs []reverseetl.Outcome) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range outs {
		k := string(o.Kind)
		if o.Err != nil {
			k += " " + o.Err.Code
		}
		l.kind[o.Key], l.ids[o.Key] = k, o.ID
		if len(o.Altered) > 0 {
			l.altered[o.Key] = o.Altered
		}
	}
	return nil
}

var verifyRows = table{
	cols: []string{"K", "NAME", "CODE", "SCORE", "COUNTRY", "TIER"},
	rows: [][]any{
		{"K1", "One", "abc", "1.5", "FR", "FR"},     // Code__c upper-cased
		{"K2", "Two", "XYZ", "2.567", "DE", "DE"},   // rounded to the scale only: as stored
		{"K3", "Three", "QQ", "3", "IT", "ES"},      // Tier__c set from the country
		{"K4", "Four", "N1", nil, "PT", "PT"},       // a null sent, null stored
		{"K5", "Five", "mixed", "1", "NL", "other"}, // two fields
	},
}

const verifyMapping = "  - {from: K, to: External_Id__c}\n  - {from: NAME, to: Name}\n  - {from: CODE, to: Code__c}\n" +
	"  - {from: SCORE, to: Score__c}\n  - {from: COUNTRY, to: BillingCountry}\n  - {from: TIER, to: Tier__c}\n"

func verifyRun(t *testing.T, srv *sftest.Server, api, extra string) (*reverseetl.SyncReport, *alteredLog) {
	t.Helper()
	log := newAlteredLog()
	r := &engineRun{srv: srv, tables: map[string]table{"s": verifyRows}, opts: []reverseetl.Option{reverseetl.WithObserver(log)}}
	sync := syncFile("Account", "upsert", "External_Id__c", api, extra, verifyMapping)
	rep := r.run(t, map[string]string{"configs/s.yaml": sync}, reverseetl.RunOptions{})
	require.Len(t, rep.Syncs, 1)
	return rep.Syncs[0], log
}

func TestVerifyReportsAlteredFields(t *testing.T) {
	want := map[string][]sink.FieldChange{
		"K1": {{Field: "Code__c", From: "abc", To: "ABC"}},
		"K3": {{Field: "Tier__c", From: "ES", To: "IT"}},
		"K5": {{Field: "Code__c", From: "mixed", To: "MIXED"}, {Field: "Tier__c", From: "other", To: "NL"}},
	}
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t, sftest.WithSchemaYAML([]byte(verifySchema)))
			rep, log := verifyRun(t, srv, api, "  verify: true\n")
			require.Equal(t, reverseetl.Succeeded, rep.Status, rep.Error)
			assert.Equal(t, int64(5), rep.Created)
			assert.Equal(t, int64(3), rep.Altered)
			assert.Equal(t, want, log.altered, "exactly the altered records and fields")
			for k, kind := range log.kind {
				assert.Equal(t, "written", kind, k)
			}
			require.Len(t, rep.AlteredRows, 3)
			assert.Empty(t, rep.Warnings)
			assert.Equal(t, int64(5), rep.Stats.Counts["verify_read"])
			assert.Equal(t, int64(3), rep.Stats.Counts["verify_altered"])
			assert.Equal(t, api, rep.Stats.API)

			// A second run sends the same values: the same fields are
			// altered again, on update.
			rep, log = verifyRun(t, srv, api, "  verify: true\n")
			assert.Equal(t, int64(5), rep.Updated)
			assert.Equal(t, want, log.altered)
		})
	}
}

func TestVerifyOnAlteredFail(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t, sftest.WithSchemaYAML([]byte(verifySchema)))
			rep, log := verifyRun(t, srv, api, "  verify: true\n  on_altered: fail\n")
			assert.Equal(t, int64(3), rep.Failed)
			assert.Equal(t, int64(3), rep.Altered)
			assert.Empty(t, rep.AlteredRows, "failed altered rows are in FailedRows")
			require.Len(t, rep.FailedRows, 3)
			for _, o := range rep.FailedRows {
				assert.Equal(t, CodeAltered, o.Err.Code)
				assert.NotEmpty(t, o.ID, "the record was written: its Id is kept")
				assert.NotEmpty(t, o.Altered)
			}
			k5 := rep.FailedRows[0]
			for _, o := range rep.FailedRows {
				if o.Key == "K5" {
					k5 = o
				}
			}
			assert.Equal(t, []string{"Code__c", "Tier__c"}, k5.Err.Fields)
			assert.Equal(t, "written; Salesforce stored other values than were sent in Code__c, Tier__c", k5.Err.Message)
			assert.Equal(t, "written", log.kind["K2"])
			assert.Equal(t, "failed "+CodeAltered, log.kind["K1"])
			assert.Len(t, srv.Records("Account"), 5, "every record was written")
		})
	}
}

func TestVerifyReadFailureKeepsOutcomes(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t, sftest.WithSchemaYAML([]byte(verifySchema)))
			// Queries fail; the writes do not use them.
			srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Method: "GET", Path: "/query", Status: 400})
			rep, log := verifyRun(t, srv, api, "  verify: true\n  on_altered: fail\n")
			require.Equal(t, reverseetl.Succeeded, rep.Status, rep.Error)
			assert.Equal(t, int64(5), rep.Created)
			assert.Zero(t, rep.Failed)
			assert.Zero(t, rep.Altered)
			assert.Empty(t, log.altered)
			require.Len(t, rep.Warnings, 1)
			assert.Contains(t, rep.Warnings[0], "verify: 5 written records could not be read back; their outcomes stand, unverified")
			assert.Equal(t, int64(5), rep.Stats.Counts["verify_unread"])
			assert.Equal(t, int64(0), rep.Stats.Counts["verify_read"])
		})
	}
}

func TestVerifyErrorIsTyped(t *testing.T) {
	srv := emulator(t, sftest.WithSchemaYAML([]byte(verifySchema)))
	s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", Options{API: APIREST, Verify: true})
	layout := sink.NewLayout([]string{"External_Id__c", "Name", "Code__c"}, nil)
	records := recs(layout, []any{"K1", "One", "abc"})
	res, err := s.Write(context.Background(), records)
	require.NoError(t, err)
	require.Nil(t, res[0].Err)
	assert.Equal(t, []sink.FieldChange{{Field: "Code__c", From: "abc", To: "ABC"}}, res[0].Altered)

	srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Method: "GET", Path: "/query", Status: 400})
	res[0].Altered = nil
	err = s.verifyWritten(context.Background(), layout, records, res)
	var ve *VerifyError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, 1, ve.Records)
	var ae *APIError
	assert.True(t, errors.As(err, &ae), "the cause is kept: %v", err)
	assert.Nil(t, res[0].Altered, "a failed read changes no result")
	assert.Nil(t, res[0].Err)
}

func TestVerifyNumbersAtTheFieldScale(t *testing.T) {
	srv := emulator(t, sftest.WithSchemaYAML([]byte(verifySchema)))
	s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", Options{API: APIREST, Verify: true})
	layout := sink.NewLayout([]string{"External_Id__c", "Name", "Score__c", "Code__c"}, nil)
	res, err := s.Write(context.Background(), recs(layout,
		[]any{"K1", "One", sink.NumberValue("2.567"), "UP"},
		[]any{"K2", "Two", sink.NumberValue("2.50"), sink.NullValue()},
	))
	require.NoError(t, err)
	for i := range res {
		require.Nil(t, res[i].Err)
		assert.Empty(t, res[i].Altered, "the field's own rounding and trailing zeros are not alterations")
	}
	assert.Equal(t, 2.57, srv.Records("Account")[0]["Score__c"])
}

func TestVerifyOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		op   Operation
		opt  Options
		key  string
		want string
	}{
		{Upsert, Options{OnAltered: AlteredFail}, "on_altered", "set verify: true"},
		{Upsert, Options{Verify: true, OnAltered: "warn"}, "on_altered", `on_altered "warn": want report or fail`},
		{Delete, Options{Verify: true}, "verify", "a delete writes none"},
	} {
		d := Destination{Object: "Account", Operation: tc.op, ExternalID: "External_Id__c", Options: tc.opt}
		err := d.check()
		var ke *keyError
		require.ErrorAs(t, err, &ke, "%+v", tc)
		assert.Equal(t, tc.key, ke.key)
		assert.Contains(t, ke.msg, tc.want)
	}
}

func TestVerifyLargeWriteReadsByQueryJobs(t *testing.T) {
	srv := emulator(t, sftest.WithSchemaYAML([]byte(verifySchema)))
	opt := fastOptions(APIBulk)
	opt.Verify = true
	s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", opt)
	layout := sink.NewLayout([]string{"External_Id__c", "Name", "Code__c", "Score__c"}, nil)
	const n = 9000 // three query jobs of about 4,000 Ids
	rows := make([][]any, n)
	for i := range rows {
		code := "UP"
		if i%3 == 0 {
			code = "low" // upper-cased on save
		}
		rows[i] = []any{"K" + strconv.Itoa(i), "N", code, sink.NumberValue("1.005")}
	}
	srv.ResetRequests()
	res, err := s.Write(context.Background(), recs(layout, rows...))
	require.NoError(t, err)
	for i := range res {
		require.Nil(t, res[i].Err)
		if i%3 == 0 {
			assert.Equal(t, []sink.FieldChange{{Field: "Code__c", From: "low", To: "LOW"}}, res[i].Altered, "row %d", i)
		} else {
			assert.Empty(t, res[i].Altered, "row %d", i)
		}
	}
	jobs, queries := 0, 0
	for _, r := range srv.Requests() {
		switch {
		case r.Method == "POST" && strings.HasSuffix(r.Path, "/jobs/query"):
			jobs++
		case strings.HasSuffix(r.Path, "/query"):
			queries++
		}
	}
	assert.Equal(t, 3, jobs, "about 4,000 Ids a query job")
	assert.Zero(t, queries, "no REST query")
	st := s.Stats()
	assert.Equal(t, int64(n), st.Counts["verify_read"])
	assert.Equal(t, int64(n/3), st.Counts["verify_altered"])
}

func TestAddResultRowsNestsPaths(t *testing.T) {
	rows := map[string]currentRow{}
	csvText := "\"Id\",\"Name\",\"Account.External_Id__c\"\n\"003000000000001\",\"x\",\"A-1\"\n\"003000000000002AAA\",\"\",\"\"\n"
	require.NoError(t, addResultRows(strings.NewReader(csvText), rows))
	require.Len(t, rows, 2)
	r1 := rows[toID18("003000000000001")]
	v, ok := r1.Get("Account.External_Id__c")
	assert.True(t, ok)
	assert.Equal(t, "A-1", v)
	r2 := rows["003000000000002AAA"]
	v, _ = r2.Get("Name")
	assert.Nil(t, v, "an empty cell is null")
	require.Error(t, addResultRows(strings.NewReader("\"Id\"\n\"unclosed\n"), rows))
	require.NoError(t, addResultRows(strings.NewReader(""), rows))
}

func TestVerifyLeavesOnRemovedAlone(t *testing.T) {
	srv := emulator(t, sftest.WithSchemaYAML([]byte(verifySchema)))
	id, err := srv.Insert("Account", map[string]any{"Name": "x"})
	require.NoError(t, err)
	opt := fastOptions(APIREST)
	opt.Verify = true
	s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", opt)
	srv.ResetRequests()
	set := &sink.Record{Layout: sink.NewLayout([]string{"Code__c"}, nil), Values: []sink.Value{sink.TextValue("gone")}}
	res, err := s.Remove(context.Background(), sink.Removal{IDs: []string{id}, Set: set})
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.Nil(t, res[0].Err)
	assert.Empty(t, res[0].Altered, "on_removed's writes are not read back")
	assert.Equal(t, "GONE", srv.Records("Account")[0]["Code__c"], "the rule ran")
	for _, r := range srv.Requests() {
		assert.False(t, strings.HasSuffix(r.Path, "/query"), "no read back: %s", r.Path)
	}
}
