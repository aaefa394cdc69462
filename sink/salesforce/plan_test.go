package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// planSchema adds the custom fields the plan tests compare.
var planSchema = sftest.Object{Name: "Account", Fields: []sftest.Field{
	{Name: "Score__c", Type: sftest.TypeDouble, Precision: 5, Scale: 2},
	{Name: "CSM_Email__c", Type: sftest.TypeEmail},
	{Name: "Tier__c", Type: sftest.TypePicklist, Values: []string{"Gold", "Silver"}, Restricted: true},
	{Name: "Renewal__c", Type: sftest.TypeDate},
	{Name: "Last_Seen__c", Type: sftest.TypeDateTime},
	{Name: "Active__c", Type: sftest.TypeBoolean},
	{Name: "Seats__c", Type: sftest.TypeInt, Precision: 6},
}}

func planServer(t *testing.T) *sftest.Server {
	t.Helper()
	srv := sftest.NewServer(sftest.WithObject(planSchema))
	t.Cleanup(srv.Close)
	return srv
}

func planClient(t *testing.T, srv *sftest.Server) *apiClient {
	t.Helper()
	c, err := newAPIClient(connConfig{
		LoginURL: srv.URL(), Auth: AuthPassword,
		ClientID: sftest.DefaultClientID, ClientSecret: sftest.DefaultClientSecret,
		Username: sftest.DefaultUsername, Password: sftest.DefaultPassword,
		retryBase: time.Millisecond,
	}, withLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func planSink(t *testing.T, c *apiClient, obj string, op Operation, ext, api string) *sfSink {
	t.Helper()
	s, err := buildSink(c, Destination{Object: obj, Operation: op, ExternalID: ext,
		Options: Options{API: api, pollStart: time.Millisecond, PollMaxWait: 10 * time.Millisecond, lockBackoff: time.Millisecond}})
	require.NoError(t, err)
	return s
}

func planSeed(t *testing.T, srv *sftest.Server, obj string, fields map[string]any) string {
	t.Helper()
	id, err := srv.Insert(obj, fields)
	require.NoError(t, err)
	return id
}

// planRecords builds records: strings are text, sink.Value as given,
// nil absent.
func planRecords(layout *sink.Layout, rows ...[]any) []sink.Record {
	out := make([]sink.Record, len(rows))
	for i, row := range rows {
		vals := make([]sink.Value, len(row))
		for j, v := range row {
			switch x := v.(type) {
			case string:
				vals[j] = sink.TextValue(x)
			case sink.Value:
				vals[j] = x
			}
		}
		out[i] = sink.Record{Seq: int64(i + 1), Layout: layout, Values: vals}
	}
	return out
}

func num(s string) sink.Value  { return sink.NumberValue(s) }
func date(s string) sink.Value { return sink.Value{Kind: sink.Date, S: s} }
func dt(s string) sink.Value   { return sink.Value{Kind: sink.DateTime, S: s} }

var null = sink.NullValue()

// outcome is what a Result says, in the terms the report counts.
func outcome(r sink.Result) string {
	switch {
	case r.Err != nil:
		return "failed " + r.Err.Code
	case r.Skipped == sink.SkipUnchanged:
		return "updated (unchanged)"
	case r.Skipped != "":
		return "skipped " + string(r.Skipped)
	case r.Created:
		return "created"
	}
	return "updated"
}

// samePlan checks that Write did what Plan said: the same outcome for each
// record (an unchanged record is written as an update) and the same fields
// kept back.
func samePlan(t *testing.T, plan, wrote []sink.Result) {
	t.Helper()
	require.Len(t, wrote, len(plan))
	for i := range plan {
		want := strings.TrimSuffix(outcome(plan[i]), " (unchanged)")
		assert.Equal(t, want, outcome(wrote[i]), "record %d", i+1)
		if plan[i].Err != nil && wrote[i].Err != nil && len(plan[i].Err.Fields)+len(wrote[i].Err.Fields) > 0 {
			assert.Equal(t, plan[i].Err.Fields, wrote[i].Err.Fields, "record %d", i+1)
		}
		if plan[i].Err == nil {
			assert.Equal(t, plan[i].KeptBack, wrote[i].KeptBack, "record %d", i+1)
		}
		if plan[i].ID != "" {
			assert.Equal(t, plan[i].ID, wrote[i].ID, "record %d", i+1)
		}
	}
}

func planCall(t *testing.T, s *sfSink, records []sink.Record) []sink.Result {
	t.Helper()
	res, err := s.Plan(context.Background(), records)
	require.NoError(t, err)
	require.Len(t, res, len(records))
	return res
}

func writeCall(t *testing.T, s *sfSink, records []sink.Record) []sink.Result {
	t.Helper()
	res, err := s.Write(context.Background(), records)
	require.NoError(t, err)
	return res
}

func TestPlanUpsertMatchesWrite(t *testing.T) {
	for _, api := range []string{APIREST, APIBulk} {
		t.Run(api, func(t *testing.T) {
			srv := planServer(t)
			planSeed(t, srv, "Account", map[string]any{"External_Id__c": "A-1", "Name": "Acme", "Score__c": 50.5,
				"CSM_Email__c": "ann@acme.example", "Tier__c": "Gold", "Active__c": true, "Renewal__c": "2024-05-01",
				"Last_Seen__c": "2024-05-01T10:00:00.000Z", "Seats__c": 12})
			planSeed(t, srv, "Account", map[string]any{"External_Id__c": "A-2", "Name": "Beta"})
			c := planClient(t, srv)
			s := planSink(t, c, "Account", Upsert, "External_Id__c", api)

			layout := sink.NewLayout(
				[]string{"External_Id__c", "Name", "Score__c", "CSM_Email__c", "Tier__c", "Active__c", "Renewal__c", "Last_Seen__c", "Seats__c"},
				[]bool{false, false, false, true, false, false, false, false, false})
			long := strings.Repeat("x", 256)
			records := planRecords(layout,
				// The values A-1 holds, written differently; the guarded email is kept back.
				[]any{"a-1", "Acme", num("50.499"), "bob@acme.example", "gold", sink.BoolValue(true), date("2024-05-01"), dt("2024-05-01T12:00:00+02:00"), num("12.0")},
				// Changes, and a guarded field that is empty so far.
				[]any{"A-2", "Beta Ltd", num("7"), "cy@beta.example", nil, sink.BoolValue(false), nil, nil, null},
				[]any{"A-3", "Gamma", num("1.5")},
				[]any{"A-4", long},
				[]any{"A-5", "Epsilon", nil, "not-an-email"},
				[]any{"A-6", "Zeta", nil, nil, "Platinum"},
				[]any{"A-7", null},
				[]any{"A-8", "Eta"},
				[]any{"a-8", "Eta again"},
				[]any{null, "No key"},
				[]any{nil, "No key either"},
			)
			plan := planCall(t, s, records)

			assert.Equal(t, "updated (unchanged)", outcome(plan[0]))
			assert.Equal(t, []string{"CSM_Email__c"}, plan[0].KeptBack)
			assert.Equal(t, "updated", outcome(plan[1]))
			assert.Equal(t, []sink.FieldChange{
				{Field: "Name", From: "Beta", To: "Beta Ltd"},
				{Field: "Score__c", From: "", To: "7"},
				{Field: "CSM_Email__c", From: "", To: "cy@beta.example"},
			}, plan[1].Changes, "Active__c is false already; Seats__c null on an empty field is no change")
			assert.Equal(t, "created", outcome(plan[2]))
			assert.Equal(t, []sink.FieldChange{{Field: "External_Id__c", To: "A-3"}, {Field: "Name", To: "Gamma"}, {Field: "Score__c", To: "1.5"}}, plan[2].Changes)
			assert.Equal(t, "failed STRING_TOO_LONG", outcome(plan[3]))
			assert.Equal(t, "failed INVALID_EMAIL_ADDRESS", outcome(plan[4]))
			assert.Equal(t, "failed INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", outcome(plan[5]))
			assert.Equal(t, "failed REQUIRED_FIELD_MISSING", outcome(plan[6]))
			assert.Equal(t, []string{"Name"}, plan[6].Err.Fields)
			assert.Equal(t, "failed DUPLICATE_VALUE", outcome(plan[7]))
			assert.Equal(t, "failed DUPLICATE_VALUE", outcome(plan[8]))
			assert.Equal(t, "created", outcome(plan[9]), "an upsert without a key creates")
			assert.Equal(t, "created", outcome(plan[10]))

			before := len(srv.Records("Account"))
			assert.Equal(t, 2, before, "a plan writes nothing")

			samePlan(t, plan, writeCall(t, s, records))
		})
	}
}

func TestPlanUpdateAndDeleteMatchWrite(t *testing.T) {
	for _, api := range []string{APIREST, APIBulk} {
		t.Run(api, func(t *testing.T) {
			srv := planServer(t)
			a := planSeed(t, srv, "Account", map[string]any{"Name": "Acme", "Score__c": 10})
			b := planSeed(t, srv, "Account", map[string]any{"Name": "Beta", "Score__c": 20})
			gone := planSeed(t, srv, "Account", map[string]any{"Name": "Gone"})
			c := planClient(t, srv)
			del := planSink(t, c, "Account", Delete, "", api)
			delLayout := sink.NewLayout([]string{"Id"}, nil)
			require.Nil(t, writeCall(t, del, planRecords(delLayout, []any{gone}))[0].Err)

			s := planSink(t, c, "Account", Update, "", api)
			layout := sink.NewLayout([]string{"Id", "Name", "Score__c"}, nil)
			missing := "001" + strings.Repeat("0", 11) + "Z"
			records := planRecords(layout,
				[]any{a[:15], "Acme", num("10.00")}, // 15-character Id, same values
				[]any{b, "Beta 2", num("20")},
				[]any{missing, "Nobody"},
				[]any{"not-an-id", "Nobody"},
				[]any{null, "Nobody"},
				[]any{b, null},
			)
			plan := planCall(t, s, records)
			assert.Equal(t, "updated (unchanged)", outcome(plan[0]))
			assert.Equal(t, a, plan[0].ID)
			assert.Equal(t, []sink.FieldChange{{Field: "Name", From: "Beta", To: "Beta 2"}}, plan[1].Changes)
			assert.Equal(t, "failed INVALID_CROSS_REFERENCE_KEY", outcome(plan[2]))
			assert.Equal(t, "failed MALFORMED_ID", outcome(plan[3]))
			if api == APIBulk {
				// Bulk sends a null as #N/A.
				assert.Equal(t, "failed MALFORMED_ID", outcome(plan[4]))
			} else {
				assert.Equal(t, "failed MISSING_ARGUMENT", outcome(plan[4]))
			}
			assert.Equal(t, "failed REQUIRED_FIELD_MISSING", outcome(plan[5]))
			// Write sends rows 2 and 6 for the same Id; the plan of row 6
			// is checked above, the write compared without it.
			samePlan(t, plan[:5], writeCall(t, s, records[:5]))

			// Delete: an existing Id and one deleted already.
			dplan := planCall(t, del, planRecords(delLayout, []any{a}, []any{missing}))
			assert.Equal(t, "updated", outcome(dplan[0]))
			assert.Equal(t, "failed INVALID_CROSS_REFERENCE_KEY", outcome(dplan[1]))
			samePlan(t, dplan, writeCall(t, del, planRecords(delLayout, []any{a}, []any{missing})))
		})
	}
}

func TestPlanInsertAndLookupsMatchWrite(t *testing.T) {
	for _, api := range []string{APIREST, APIBulk} {
		t.Run(api, func(t *testing.T) {
			srv := planServer(t)
			planSeed(t, srv, "Account", map[string]any{"External_Id__c": "A-1", "Name": "Acme"})
			c := planClient(t, srv)

			accounts := planSink(t, c, "Account", Upsert, "External_Id__c", api)
			alayout := sink.NewLayout([]string{"External_Id__c", "Name"}, nil)
			arecs := planRecords(alayout, []any{"A-9", "New"}, []any{"A-10", strings.Repeat("x", 300)})
			aplan := planCall(t, accounts, arecs)
			require.Equal(t, "created", outcome(aplan[0]))

			// A sink of the same run (the same client) finds A-9, which the
			// plan above would create, but not A-10, which would fail.
			contacts := planSink(t, c, "Contact", Insert, "", api)
			clayout := sink.NewLayout([]string{"LastName", "Email", "Account.External_Id__c"}, nil)
			crecs := planRecords(clayout,
				[]any{"Ames", "ames@acme.example", "A-1"},
				[]any{"Nine", nil, "a-9"},
				[]any{"Ten", nil, "A-10"},
				[]any{"Orphan", nil, "A-404"},
				[]any{"Loner", nil, null},
				[]any{null, "x@acme.example"},
			)
			cplan := planCall(t, contacts, crecs)
			assert.Equal(t, "created", outcome(cplan[0]))
			assert.Equal(t, "created", outcome(cplan[1]))
			assert.Equal(t, "failed INVALID_FIELD", outcome(cplan[2]))
			assert.Equal(t, "Foreign key external ID: A-10 not found for field External_Id__c in entity Account", cplan[2].Err.Message)
			assert.Equal(t, "failed INVALID_FIELD", outcome(cplan[3]))
			assert.Equal(t, "created", outcome(cplan[4]))
			assert.Equal(t, "failed REQUIRED_FIELD_MISSING", outcome(cplan[5]))

			// Another run (another client) knows nothing of those plans.
			other := planSink(t, planClient(t, srv), "Contact", Insert, "", api)
			assert.Equal(t, "failed INVALID_FIELD", outcome(planCall(t, other, crecs[1:2])[0]))

			// The run then does what the plan said.
			samePlan(t, aplan, writeCall(t, accounts, arecs))
			samePlan(t, cplan, writeCall(t, contacts, crecs))
		})
	}
}

func TestPlanGroupsLayouts(t *testing.T) {
	srv := planServer(t)
	planSeed(t, srv, "Account", map[string]any{"External_Id__c": "A-1", "Name": "Acme"})
	s := planSink(t, planClient(t, srv), "Account", Upsert, "External_Id__c", APIREST)
	l1 := sink.NewLayout([]string{"External_Id__c", "Name"}, nil)
	l2 := sink.NewLayout([]string{"External_Id__c", "Score__c"}, nil)
	recs := append(planRecords(l1, []any{"A-1", "Acme"}), planRecords(l2, []any{"A-2", num("1")})...)
	recs = append(recs, planRecords(l1, []any{"A-3", "Gamma"})...)
	res := planCall(t, s, recs)
	assert.Equal(t, []string{"updated (unchanged)", "failed REQUIRED_FIELD_MISSING", "created"},
		[]string{outcome(res[0]), outcome(res[1]), outcome(res[2])})
	assert.Greater(t, s.Stats().Calls, int64(0), "plan calls are counted")
}

func TestPlanLeavesUnknownFieldsToPreflight(t *testing.T) {
	// Fields the describe does not know are preflight's to report; a plan
	// neither reads nor compares them, and a lookup column that is empty
	// in every record needs no query.
	srv := planServer(t)
	planSeed(t, srv, "Contact", map[string]any{"External_Id__c": "C-1", "LastName": "Ames"})
	s := planSink(t, planClient(t, srv), "Contact", Upsert, "External_Id__c", APIREST)
	layout := sink.NewLayout([]string{"External_Id__c", "LastName", "Nope__c", "Nope__r.External_Id__c", "Account.External_Id__c"}, nil)
	res := planCall(t, s, planRecords(layout, []any{"C-1", "Ames", "x", "y", null}))
	assert.Equal(t, "updated (unchanged)", outcome(res[0]))
}

func TestPlanErrors(t *testing.T) {
	srv := planServer(t)
	c := planClient(t, srv)
	layout := sink.NewLayout([]string{"External_Id__c", "Name"}, nil)
	recs := planRecords(layout, []any{"A-1", "Acme"})
	s := planSink(t, c, "Account", Upsert, "External_Id__c", APIREST)

	res, err := s.Plan(context.Background(), nil)
	require.NoError(t, err)
	assert.Empty(t, res)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Plan(ctx, recs)
	assert.EqualError(t, err, "salesforce: plan: context canceled")

	_, err = s.Plan(context.Background(), []sink.Record{{Seq: 1}})
	assert.EqualError(t, err, "salesforce: plan upsert Account: record without a layout")

	_, err = s.Plan(context.Background(), planRecords(sink.NewLayout([]string{"Name"}, nil), []any{"Acme"}))
	assert.EqualError(t, err, "salesforce: plan upsert Account: the records have no External_Id__c field")

	nope := planSink(t, c, "Nope__c", Insert, "", APIREST)
	_, err = nope.Plan(context.Background(), recs)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "salesforce: plan insert Nope__c: describe Nope__c: ")
	assert.Contains(t, err.Error(), "NOT_FOUND")

	// The describe is read once per client: a fresh client meets the fault.
	srv.Fault(sftest.Fault{Kind: sftest.FaultMalformed, Path: "/describe", Times: 1})
	fresh := planSink(t, planClient(t, srv), "Account", Upsert, "External_Id__c", APIREST)
	_, err = fresh.Plan(context.Background(), recs)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "describe Account: decoding the answer")

	srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Status: 400, Path: "/query", Times: 1})
	_, err = s.Plan(context.Background(), recs)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "salesforce: plan upsert Account: reading current values: query:")

	contacts := planSink(t, c, "Contact", Insert, "", APIREST)
	srv.Fault(sftest.Fault{Kind: sftest.FaultStatus, Status: 400, Path: "/query", Times: 1})
	_, err = contacts.Plan(context.Background(), planRecords(sink.NewLayout([]string{"LastName", "Account.External_Id__c"}, nil), []any{"Ames", "A-1"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "salesforce: plan insert Contact: reading the parents of Account.External_Id__c: query:")
}

func TestPlanSame(t *testing.T) {
	field := func(typ string, scale int) planColumn {
		return planColumn{field: &fieldDescribe{Type: typ, Scale: scale}}
	}
	for _, tc := range []struct {
		col  planColumn
		v    sink.Value
		cur  any
		same bool
	}{
		{field("string", 0), null, nil, true},
		{field("string", 0), null, "  ", true},
		{field("string", 0), sink.TextValue(""), nil, true},
		{field("string", 0), null, "x", false},
		{field("string", 0), sink.TextValue("x"), nil, false},
		{field("string", 0), sink.TextValue("x"), "x", true},
		{field("string", 0), sink.TextValue("x"), "X", false},
		{field("boolean", 0), sink.BoolValue(false), false, true},
		{field("boolean", 0), sink.BoolValue(true), false, false},
		{field("boolean", 0), sink.TextValue("yes"), true, false},
		{field("double", 2), num("1.005"), json.Number("1.01"), true},
		{field("double", 2), num("-1.005"), json.Number("-1.01"), true},
		{field("double", 2), num("1.004"), json.Number("1.01"), false},
		{field("int", 0), num("12"), json.Number("12"), true},
		{field("currency", 2), sink.TextValue("abc"), json.Number("1"), false},
		{field("date", 0), date("2024-05-01"), "2024-05-01", true},
		{field("date", 0), dt("2024-05-01T00:00:00Z"), "2024-05-01", true},
		{field("date", 0), date("2024-05-02"), "2024-05-01", false},
		{field("date", 0), date("bad"), "2024-05-01", false},
		{field("datetime", 0), dt("2024-05-01T10:00:00Z"), "2024-05-01T10:00:00.000+0000", true},
		{field("datetime", 0), dt("2024-05-01T12:00:00.0004+02:00"), "2024-05-01T10:00:00.000Z", true},
		{field("datetime", 0), dt("2024-05-01T10:00:01Z"), "2024-05-01T10:00:00.000+0000", false},
		{field("datetime", 0), dt("garbage"), "2024-05-01T10:00:00.000+0000", false},
		{field("reference", 0), sink.TextValue("001000000000001"), "001000000000001AAA", true},
		{field("picklist", 0), sink.TextValue("gold"), "Gold", true},
		{planColumn{parent: "Account"}, sink.TextValue("a-1"), "A-1", true},
		{planColumn{}, num("1.50"), json.Number("1.5"), true},
		{planColumn{}, num("1.50"), "x", false},
		{planColumn{}, sink.BoolValue(true), true, true},
		{planColumn{}, sink.BoolValue(true), "TRUE", true},
		{planColumn{}, sink.TextValue("a"), "b", false},
	} {
		assert.Equal(t, tc.same, planSame(tc.col, tc.v, tc.cur), "%+v %v %#v", tc.col.field, tc.v, tc.cur)
	}
}

func TestPlanHelpers(t *testing.T) {
	assert.Equal(t, "", valueText(nil))
	assert.Equal(t, "1.5", valueText(json.Number("1.5")))
	assert.Equal(t, "true", valueText(true))
	assert.Equal(t, "map[]", valueText(map[string]int{}))

	_, ok := planIDShape("001000000000001")
	assert.True(t, ok)
	_, ok = planIDShape("001-00000000001")
	assert.False(t, ok)

	for _, e := range []string{"a@b.co", "first.last@sub.example.com"} {
		assert.True(t, planEmailOK(e), e)
	}
	for _, e := range []string{"@b.co", "a@", "a b@c.de", "a@nodot", "a@.com", "a@com."} {
		assert.False(t, planEmailOK(e), e)
	}

	// A field checked only by its type: numbers are not text.
	code, _ := planCheckValue(&fieldDescribe{Type: "double", Length: 1}, num("12345"))
	assert.Empty(t, code)
	code, msg := planCheckValue(&fieldDescribe{Name: "Name", Type: "string", Length: 3}, sink.TextValue("abcd"))
	assert.Equal(t, "STRING_TOO_LONG", code)
	assert.Equal(t, "Name: data value too large: abcd (max length=3)", msg)
}

func TestPlanPendingIsPerClientAndCollected(t *testing.T) {
	srv := planServer(t)
	func() {
		c := planClient(t, srv)
		planPending(c).add("Account", "External_Id__c", "A-1")
		assert.True(t, planPending(c).has("account", "external_id__c", "a-1"))
		assert.False(t, planPending(planClient(t, srv)).has("Account", "External_Id__c", "A-1"))
	}()
	count := func() int {
		n := 0
		planPendingByClient.Range(func(any, any) bool { n++; return true })
		return n
	}
	// t.Cleanup holds the clients until the test ends; what matters is
	// that an entry goes once its client is collected.
	c := &apiClient{}
	planPending(c)
	c = nil
	_ = c
	assert.Eventually(t, func() bool {
		runtime.GC()
		return count() <= 2
	}, 5*time.Second, 10*time.Millisecond, fmt.Sprintf("entries: %d", count()))
}
