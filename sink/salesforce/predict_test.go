package salesforce

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// failures returns each failed row's error by key.
func failures(rep *reverseetl.SyncReport) map[string]struct {
	code, msg string
	predicted bool
} {
	out := map[string]struct {
		code, msg string
		predicted bool
	}{}
	for _, f := range rep.FailedRows {
		out[f.Key] = struct {
			code, msg string
			predicted bool
		}{f.Err.Code, f.Err.Message, f.Err.Predicted}
	}
	return out
}

func processed(srv *sftest.Server) int {
	n := 0
	for _, j := range srv.Jobs() {
		n += j.NumberRecordsProcessed
	}
	return n
}

func predictOrg(t *testing.T) *sftest.Server {
	t.Helper()
	srv := emulator(t)
	require.NoError(t, srv.DefineObject(sftest.Object{Name: "Account", Fields: []sftest.Field{
		{Name: "Level__c", Type: sftest.TypePicklist, Values: []string{"Gold", "Silver"}, Restricted: true},
		{Name: "Score__c", Type: sftest.TypeDouble, Precision: 5, Scale: 2},
		{Name: "Billing_Email__c", Type: sftest.TypeEmail},
	}}))
	return srv
}

var predictRows = table{cols: []string{"K", "N", "CITY", "LEVEL", "SCORE", "MAIL"}, rows: [][]any{
	{"A-1", "Good", "Oslo", "gold", "999.99", "a@example.com"},
	{"A-2", "Long", strings.Repeat("c", 41), "Gold", "1", nil},
	{"A-3", "Platinum", "Rome", "Platinum", "1", nil},
	{"A-4", "Big", "Rome", "Gold", "999.999", nil},
	{"A-5", nil, "Rome", "Gold", "1", nil},
	{"A-6", "Mail", "Rome", "Gold", "1", "not an address"},
}}

var predictMapping = "  - {from: K, to: External_Id__c}\n  - {from: N, to: Name}\n  - {from: CITY, to: BillingCity}\n" +
	"  - {from: LEVEL, to: Level__c}\n  - {from: SCORE, to: Score__c, type: number}\n  - {from: MAIL, to: Billing_Email__c}\n"

// A row Salesforce would refuse for its object's metadata fails before it
// is sent, with the code and message Salesforce gives, marked predicted;
// with predict_rejects: false the same rows reach Salesforce and fail
// there with the same codes and messages.
func TestPredictedRejectsAreNotSent(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			want := map[string]string{
				"A-1": "created", "A-2": "failed STRING_TOO_LONG", "A-3": "failed INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
				"A-4": "failed NUMBER_OUTSIDE_VALID_RANGE", "A-5": "failed REQUIRED_FIELD_MISSING", "A-6": "failed INVALID_EMAIL_ADDRESS",
			}

			on := predictOrg(t)
			rep, ran := planRunPlan(t, on, predictRows, syncFile("Account", "upsert", "External_Id__c", api, "", predictMapping))
			assert.Equal(t, want, ran.rows)
			predicted := failures(rep)

			off := predictOrg(t)
			rep, ran = semanticsRun(t, off, predictRows, syncFile("Account", "upsert", "External_Id__c", api, "  predict_rejects: false\n", predictMapping), false)
			assert.Equal(t, want, ran.rows)
			sent := failures(rep)

			require.Len(t, predicted, 5)
			for k, p := range predicted {
				assert.True(t, p.predicted, "%s is marked predicted", k)
				assert.False(t, sent[k].predicted, "%s failed in Salesforce", k)
				assert.Equal(t, sent[k].code, p.code, k)
				assert.Equal(t, sent[k].msg, p.msg, "%s: the message Salesforce gives", k)
			}
			assert.Len(t, byExt(on, "Account"), 1)
			assert.Len(t, byExt(off, "Account"), 1)
			if api == APIBulk {
				assert.Equal(t, 1, processed(on), "only the good row reached Salesforce")
				assert.Equal(t, 6, processed(off), "without the prediction every row did")
			}
		})
	}
}

// An insert must set every required field; a row that leaves one empty is
// not sent. An update may leave it out, but not clear it.
func TestPredictedRequiredFields(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			rows := table{cols: []string{"K", "N", "STAGE", "CLOSE"}, rows: [][]any{
				{"O-1", "Deal", "Prospecting", "2030-01-01"},
				{"O-2", "No date", "Prospecting", nil},
				{"O-3", nil, nil, nil},
			}}
			mapping := "  - {from: N, to: Name}\n  - {from: STAGE, to: StageName}\n  - {from: CLOSE, to: CloseDate, type: date}\n"
			msgs := map[bool]map[string]string{}
			for _, predict := range []bool{true, false} {
				srv := emulator(t)
				extra := ""
				if !predict {
					extra = "  predict_rejects: false\n"
				}
				rep, ran := semanticsRun(t, srv, rows, syncFile("Opportunity", "insert", "", api, extra, mapping), false)
				assert.Equal(t, map[string]string{"O-1": "created", "O-2": "failed REQUIRED_FIELD_MISSING", "O-3": "failed REQUIRED_FIELD_MISSING"}, ran.rows)
				msgs[predict] = map[string]string{}
				for k, f := range failures(rep) {
					assert.Equal(t, predict, f.predicted, k)
					msgs[predict][k] = f.msg
				}
				assert.Len(t, live(srv, "Opportunity"), 1)
			}
			assert.Equal(t, msgs[false], msgs[true], "the messages Salesforce gives")
			assert.Equal(t, "Required fields are missing: [CloseDate]", msgs[true]["O-2"])
		})
	}
}

func TestNumberOutOfRange(t *testing.T) {
	f := &fieldDescribe{Name: "Score__c", Label: "Score", Type: "double", Precision: 5, Scale: 2}
	s := &sfSink{dest: Destination{Operation: "upsert", ExternalID: "External_Id__c"}}
	p := s.newPredictor(&objectDescribe{Fields: []fieldDescribe{*f}}, sinkLayout("Score__c"))
	require.Len(t, p.checks, 1)
	limit := p.checks[0].limit
	for in, want := range map[string]string{
		"999.99":  "",
		"-999.99": "",
		"999.995": "Score: value outside of valid range on numeric field: 1000",
		"-1000":   "Score: value outside of valid range on numeric field: -1000",
		"1e400":   "Score: value outside of valid range on numeric field: 1e400",
		"abc":     "",
	} {
		code, msg := numberOutOfRange(f, limit, sinkText(in))
		assert.Equal(t, want, msg, in)
		if want != "" {
			assert.Equal(t, "NUMBER_OUTSIDE_VALID_RANGE", code)
		}
	}
	d := &sfSink{dest: Destination{Operation: "delete"}}
	assert.Nil(t, d.newPredictor(&objectDescribe{}, sinkLayout("Id")), "a delete sends no values to judge")
}

func TestIntDigits(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "0.5": 0, "12": 2, "-012.50": 2, "+999.999": 3, "1e3": math.MaxInt, "": 0, "1.2.3": math.MaxInt, " 1": math.MaxInt} {
		assert.Equal(t, want, intDigits(in), in)
	}
}

func sinkLayout(fields ...string) *sink.Layout { return sink.NewLayout(fields, nil) }

func sinkText(s string) sink.Value { return sink.TextValue(s) }

// BenchmarkScreenPredict measures what the prediction adds to Screen: run
// both sub-benchmarks in one invocation and compare their ratio.
func BenchmarkScreenPredict(b *testing.B) {
	srv := emulator(b)
	c := emuClient(b, srv)
	layout := sink.NewLayout([]string{"External_Id__c", "Name", "Website", "Industry", "AnnualRevenue"}, nil)
	const n = 200_000
	records := make([]sink.Record, n)
	for i := range records {
		records[i] = sink.Record{Seq: int64(i + 1), Layout: layout, Values: []sink.Value{
			sink.TextValue(fmt.Sprintf("ACC-%08d", i)), sink.TextValue("Name"), sink.TextValue("https://example.com"),
			sink.TextValue("Banking"), sink.NumberValue("1234567.5")}}
	}
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("predict=%v", on), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				opt := fastOptions(APIBulk)
				opt.PredictRejects = &on
				s := emuSink(b, c, "Account", Upsert, "External_Id__c", opt)
				require.NoError(b, s.Preflight(context.Background(), layout))
				for start := 0; start < n; start += 30_000 {
					if _, err := s.Screen(context.Background(), records[start:min(start+30_000, n)]); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
	}
}
