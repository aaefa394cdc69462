package salesforce

import (
	"encoding/json"
	"hash/maphash"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

var diffLayoutFields = []string{"External_Id__c", "Name", "BillingCity", "Score__c", "Since__c", "Seen__c", "Active__c", "Level__c", "Phone"}

func diffDate(s string) sink.Value    { return sink.Value{Kind: sink.Date, S: s} }
func diffInstant(s string) sink.Value { return sink.Value{Kind: sink.DateTime, S: s} }
func diffNumber(s string) sink.Value  { return sink.NumberValue(s) }
func diffBool(b bool) sink.Value      { return sink.BoolValue(b) }
func diffLayout() *sink.Layout        { return sink.NewLayout(diffLayoutFields, []bool{8: true}) }
func diffSink(t *testing.T, c *apiClient) *sfSink {
	opt := fastOptions(APIBulk)
	opt.OnlyIfDifferent = true
	return emuSink(t, c, "Account", Upsert, "External_Id__c", opt)
}

// diffRun seeds three records, then writes a batch of the same records in
// other forms, with one field changed (a-2), with only a guarded
// field different, and a new one. It returns the batch's
// results without Ids, the fields each record sent, and whether each
// unchanged result named its record's Id.
func diffRun(t *testing.T, srv *sftest.Server) ([]sink.Result, map[string][]string) {
	t.Helper()
	instance, w := tap(t, srv)
	c := emuClient(t, srv, func(c *connConfig) { c.InstanceURL = instance })
	l := diffLayout()
	requireOK(t, write(t, diffSink(t, c), recs(l,
		[]any{"A-1", "One", "Oslo", diffNumber("1.5"), diffDate("2024-05-01"), diffInstant("2024-05-01T10:00:00.000Z"), diffBool(true), "Gold", sink.NullValue()},
		[]any{"A-2", "Two", "Rome", diffNumber("2"), diffDate("2024-05-02"), diffInstant("2024-05-02T10:00:00.000Z"), diffBool(false), "Silver", "555"},
		[]any{"A-3", "Three", "Pisa", diffNumber("3"), diffDate("2024-05-03"), diffInstant("2024-05-03T10:00:00.000Z"), diffBool(false), "Silver", "333"},
	)))
	ids := map[string]string{}
	for k, r := range byExt(srv, "Account") {
		ids[k] = r["Id"].(string)
	}
	srv.ResetRequests()
	w.reset()
	res := write(t, diffSink(t, c), recs(l,
		[]any{"A-1", "One", "Oslo", diffNumber("1.50"), diffDate("2024-05-01"), diffInstant("2024-05-01T12:00:00.000+0200"), diffBool(true), "GOLD", ""},
		[]any{"a-2", "Two", "Bergen", diffNumber("2.001"), diffDate("2024-05-02"), diffInstant("2024-05-02T10:00:00Z"), diffBool(false), "silver", "555"},
		[]any{"A-3", "Three", "Pisa", diffNumber("3"), diffDate("2024-05-03"), diffInstant("2024-05-03T10:00:00.000Z"), diffBool(false), "Silver", "999"},
		[]any{"A-4", "Four", "Oslo", diffNumber("4"), diffDate("2024-05-04"), diffInstant("2024-05-04T10:00:00.000Z"), diffBool(true), "Gold", "444"},
	))
	requireOK(t, res)
	assert.Equal(t, toID18(ids["A-1"]), toID18(res[0].ID), "an unchanged record is answered with its Id")
	assert.Equal(t, toID18(ids["A-3"]), toID18(res[2].ID))
	for i := range res {
		res[i].ID = ""
	}
	got := byExt(srv, "Account")
	assert.Equal(t, "Bergen", got["A-2"]["BillingCity"])
	assert.Equal(t, "333", got["A-3"]["Phone"], "the guarded field kept its value")
	assert.Equal(t, "Four", got["A-4"]["Name"])
	return res, sentFields(t, w.writes())
}

var diffWant = []sink.Result{
	{Skipped: sink.SkipUnchanged, SkipDetail: unchangedDetail},
	{KeptBack: []string{"Phone"}}, // held, as set_if_empty reports it, though equal
	{Skipped: sink.SkipUnchanged, SkipDetail: unchangedDetail, KeptBack: []string{"Phone"}},
	{Created: true},
}

var diffWantSent = map[string][]string{
	"a-2": {"BillingCity"},
	"A-4": {"Active__c", "BillingCity", "Level__c", "Name", "Phone", "Score__c", "Seen__c", "Since__c"},
}

func diffOrgAll(t *testing.T) *sftest.Server {
	srv := differOrg(t)
	require.NoError(t, srv.DefineObject(sftest.Object{Name: "Account", Fields: []sftest.Field{{Name: "Seen__c", Type: sftest.TypeDateTime}}}))
	return srv
}

// Once a sync has read enough keys, one query job answers
// only_if_different as IN lists do: the same records skipped, the same
// fields sent, keys matched without regard to case.
func TestOnlyIfDifferentByQueryJob(t *testing.T) {
	for _, job := range []bool{false, true} {
		name := "in lists"
		if job {
			name = "query job"
		}
		t.Run(name, func(t *testing.T) {
			if job {
				lowJobMin(t, 2)
			}
			srv := diffOrgAll(t)
			res, sent := diffRun(t, srv)
			assert.Equal(t, diffWant, res)
			assert.Equal(t, diffWantSent, sent)
			if job {
				assert.Equal(t, 1, countRequests(srv, "POST", "/jobs/query"))
				assert.Zero(t, inQueries(srv))
			} else {
				assert.Zero(t, countRequests(srv, "POST", "/jobs/query"))
				assert.Equal(t, 1, inQueries(srv))
			}
		})
	}
}

// A failed job costs time, never a value: IN lists read instead.
func TestOnlyIfDifferentJobFailureFallsBack(t *testing.T) {
	lowJobMin(t, 2)
	srv := diffOrgAll(t)
	srv.Fault(sftest.Fault{Method: "POST", Path: "/jobs/query", Status: 400})
	res, sent := diffRun(t, srv)
	assert.Equal(t, diffWant, res)
	assert.Equal(t, diffWantSent, sent)
	assert.Equal(t, 1, countRequests(srv, "POST", "/jobs/query"), "tried once")
	assert.Equal(t, 1, inQueries(srv))
}

// A key the job finds on two records is found on none: the record is sent
// and Salesforce decides. A malformed page fails the read.
func TestHeldSetKeys(t *testing.T) {
	cols := []planColumn{{name: "Name", soql: "Name", field: &fieldDescribe{Name: "Name", Type: "string"}}}
	f := &heldSet{seed: maphash.MakeSeed(), fold: true, width: 1, cols: cols}
	require.NoError(t, f.add(strings.NewReader("\"External_Id__c\",\"Id\",\"Name\"\n\"A-1\",\"001000000000001AAA\",\"One\"\n\"a-1\",\"001000000000002AAA\",\"Uno\"\n\"B-1\",\"001000000000003AAA\",\"\"\n")))
	require.NoError(t, f.add(strings.NewReader("")))
	f.seal()
	_, _, ok := f.find("A-1")
	assert.False(t, ok, "A-1 names two records")
	vals, id, ok := f.find("b-1")
	require.True(t, ok)
	assert.Equal(t, "001000000000003AAA", id)
	assert.Equal(t, f.hash(emptyCanon), vals[0])

	assert.Error(t, f.add(strings.NewReader("\"K\",\"Id\",\"Name\"\n\"A\",\"x\"\n")), "a row short of cells")
	assert.Error(t, f.add(strings.NewReader("\"K\",\"Id\",\"Name\"\n\"unterminated,\"x\n")))
}

// canon puts a value to send and a current value in one form exactly when
// planSame says the field would not change, except where planSame is more
// lenient than one form allows (a number sent to a text field): there
// canon differs, and the field is sent again.
func TestCanonAgreesWithPlanSame(t *testing.T) {
	num := func(typ string, scale int) planColumn {
		return planColumn{soql: "F", field: &fieldDescribe{Name: "F", Type: typ, Scale: scale}}
	}
	text, lookup := num("string", 0), planColumn{soql: "Account.Ext__c", parent: "Account", field: &fieldDescribe{Type: "reference"}}
	cases := []struct {
		name   string
		c      planColumn
		v      sink.Value
		cur    any
		same   bool
		strict bool // canon differs though planSame finds them equal
	}{
		{"double at scale", num("double", 2), diffNumber("1.50"), "1.5", true, false},
		{"double rounded", num("double", 2), diffNumber("2.001"), json.Number("2.0"), true, false},
		{"double differs", num("currency", 2), diffNumber("2.006"), "2.0", false, false},
		{"int", num("int", 0), diffNumber("3"), "3", true, false},
		{"number not a number", num("double", 2), diffNumber("x"), "x", false, false},
		{"boolean", num("boolean", 0), diffBool(true), true, true, false},
		{"boolean differs", num("boolean", 0), diffBool(false), "true", false, false},
		{"boolean malformed", num("boolean", 0), sink.TextValue("yes"), "yes", false, false},
		{"date", num("date", 0), diffDate("2024-05-01"), "2024-05-01", true, false},
		{"date differs", num("date", 0), diffDate("2024-05-02"), "2024-05-01", false, false},
		{"date malformed", num("date", 0), diffDate("May 1"), "May 1", false, false},
		{"datetime zones", num("datetime", 0), diffInstant("2024-05-01T12:00:00.000+0200"), "2024-05-01T10:00:00.000Z", true, false},
		{"datetime differs", num("datetime", 0), diffInstant("2024-05-01T10:00:01Z"), "2024-05-01T10:00:00.000Z", false, false},
		{"datetime malformed", num("datetime", 0), diffInstant("soon"), "soon", false, false},
		{"id 15 and 18", num("reference", 0), sink.TextValue("001000000000001"), "001000000000001AAA", true, false},
		{"picklist case", num("picklist", 0), sink.TextValue("GOLD"), "Gold", true, false},
		{"lookup case", lookup, sink.TextValue("a-1"), "A-1", true, false},
		{"text case", text, sink.TextValue("oslo"), "Oslo", false, false},
		{"text", text, sink.TextValue("Oslo"), "Oslo", true, false},
		{"null and empty", text, sink.NullValue(), nil, true, false},
		{"empty text and blank", text, sink.TextValue(""), "  ", true, false},
		{"null and a value", text, sink.NullValue(), "Oslo", false, false},
		{"a value and empty", text, sink.TextValue("Oslo"), nil, false, false},
		{"number to text", text, diffNumber("1.50"), "1.5", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.same, planSame(tc.c, tc.v, tc.cur), "planSame")
			assert.Equal(t, tc.same && !tc.strict, canon(tc.c, tc.v) == canon(tc.c, tc.cur), "canon")
		})
	}
}
