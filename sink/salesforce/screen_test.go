package salesforce

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

func TestIDProblem(t *testing.T) {
	const id15 = "001000000000aBc"
	id18 := ID18(id15)
	fixed, ok := restoreIDCase(strings.ToUpper(id18))
	require.True(t, ok)
	assert.Equal(t, id18, fixed, "the suffix restores the case")
	cases := map[string]string{
		id15:                    "",
		id18:                    "",
		strings.ToUpper(id18):   "has lost the case of its letters (its last three characters say it is " + id18 + ")",
		id15 + "ZZZ":            "its last three characters do not match the first 15",
		"001000000000aB!":       "is not a Salesforce Id",
		"short":                 "is not a Salesforce Id",
		strings.Repeat("a", 19): "is not a Salesforce Id",
		id15[:15] + "a" + "99":  "do not match",
	}
	for in, want := range cases {
		got := idProblem(in)
		if want == "" {
			assert.Empty(t, got, in)
			continue
		}
		assert.Contains(t, got, want, in)
	}
}

func TestDateInRange(t *testing.T) {
	cases := []struct {
		v        string
		datetime bool
		ok       bool
	}{
		{"1700-01-01", false, true},
		{"1699-12-31", false, false},
		{"4000-12-31", false, true},
		{"4001-01-01", false, false},
		{"0001-01-01", false, false},
		{"10000-01-01", false, false},
		{"-0044-03-15", false, false},
		{"2024-05-01", false, true},
		{"1700-01-01T00:00:00Z", true, true},
		{"1700-01-01T00:30:00+01:00", true, false}, // 1699-12-31T23:30Z
		{"4000-12-31T23:00:00-02:00", true, false}, // 4001-01-01T01:00Z
		{"4000-12-31T23:59:59.000Z", true, true},
		{"1699-12-31T23:30:00-01:00", true, true}, // 1700-01-01T00:30Z
		{"not a date", false, true},               // left to Salesforce
		{"1700-xx", true, true},
	}
	for _, c := range cases {
		assert.Equal(t, c.ok, dateInRange(c.v, c.datetime), c.v)
	}
}

func TestKeySetGrowsAndFindsFirstRow(t *testing.T) {
	var k keySet
	const mul = 0x9E3779B97F4A7C15
	h := func(i uint64) uint64 { return i * mul }
	for i := 1; i <= 5000; i++ {
		_, dup := k.add(h(uint64(i)), int64(i))
		require.False(t, dup)
	}
	first, dup := k.add(h(1234), 9999)
	assert.True(t, dup)
	assert.Equal(t, int64(1234), first)
	_, dup = k.add(0, 1)
	assert.False(t, dup, "hash 0 is stored")
	first, dup = k.add(0, 2)
	assert.True(t, dup)
	assert.Equal(t, int64(1), first)
	assert.LessOrEqual(t, k.n*4, len(k.slots)*3)
}

func TestAppendFolded(t *testing.T) {
	assert.Equal(t, "abc-1", string(appendFolded(nil, keyFold, "ABC-1")))
	assert.Equal(t, "ärger", string(appendFolded(nil, keyFold, "ÄRGER")), "non-ASCII keys fold too")
	assert.Equal(t, "ABC-1", string(appendFolded(nil, keyExact, "ABC-1")))
	const id15 = "001000000000aBc"
	assert.Equal(t, strings.ToUpper(ID18(id15)), string(appendFolded(nil, keyID, id15)))
	assert.Equal(t, strings.ToUpper(ID18(id15)), string(appendFolded(nil, keyID, ID18(id15))))
}

func TestDuplicateOption(t *testing.T) {
	for _, tc := range []struct {
		v, want string
		op      config.Operation
		err     string
	}{
		{"", DuplicateFail, config.Upsert, ""},
		{"", "", config.Insert, ""},
		{"skip", DuplicateSkip, config.Update, ""},
		{"fail", "", config.Insert, "not insert"},
		{"keep_last", "", config.Upsert, `on_duplicate_key "keep_last": want fail or skip`},
	} {
		got, err := checkDuplicateOption(tc.v, tc.op)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
	_, err := NewSink(&Client{}, Destination{Object: "Account", Operation: config.Upsert, ExternalID: "External_Id__c",
		Options: Options{OnDuplicateKey: "maybe"}})
	assert.ErrorContains(t, err, "on_duplicate_key")
}

// A describe that fails stops the screen with the describe's error, and
// records of a sync without a key field are never taken for duplicates.
func TestScreenDescribeFailsAndInsertHasNoKeys(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv)
	layout := sink.NewLayout([]string{"Name"}, nil)
	s, err := NewSink(c, Destination{Object: "Nope__c", Operation: config.Upsert, ExternalID: "External_Id__c", Options: fastOptions(APIBulk)})
	require.NoError(t, err)
	_, err = s.Screen(context.Background(), recs(layout, []any{"x"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "screening records")

	ins := emuSink(t, c, "Account", config.Insert, "", fastOptions(APIBulk))
	res, err := ins.Screen(context.Background(), recs(layout, []any{"same"}, []any{"same"}))
	require.NoError(t, err)
	assert.Nil(t, res, "an insert sends both records")
}

func TestScreenMessagesNameTheFirstRow(t *testing.T) {
	srv := emulator(t)
	require.NoError(t, srv.DefineObject(sftest.Object{Name: "Thing__c", Fields: []sftest.Field{
		{Name: "Exact__c", Type: sftest.TypeString, ExternalID: true, Unique: true, CaseSensitive: true},
	}}))
	c := emuClient(t, srv)
	s := emuSink(t, c, "Thing__c", config.Upsert, "Exact__c", fastOptions(APIBulk))
	layout := sink.NewLayout([]string{"Exact__c"}, nil)
	require.NoError(t, s.Preflight(context.Background(), layout))
	res, err := s.Screen(context.Background(), recs(layout, []any{"K"}, []any{"k"}, []any{"K"}))
	require.NoError(t, err)
	require.Len(t, res, 3)
	assert.Nil(t, res[0].Err)
	assert.Nil(t, res[1].Err, "a case-sensitive external id tells k from K")
	require.NotNil(t, res[2].Err)
	assert.Equal(t, CodeDuplicateKey, res[2].Err.Code)
	assert.Equal(t, "row 1 already has Exact__c K (as Salesforce matches it); the first row with a key is written, later ones are not", res[2].Err.Message)
	// Later batches remember earlier ones.
	res, err = s.Screen(context.Background(), []sink.Record{{Seq: 4, Layout: layout, Values: []sink.Value{sink.TextValue("k")}}})
	require.NoError(t, err)
	require.NotNil(t, res[0].Err)
	assert.Contains(t, res[0].Err.Message, "row 2 already has")
}

// BenchmarkScreen measures the screen of a million upsert keys, the
// duplicate check included: time per record and the table's bytes per key.
func BenchmarkScreen(b *testing.B) {
	srv := emulator(b)
	c := emuClient(b, srv)
	layout := sink.NewLayout([]string{"External_Id__c", "Name", "Website"}, nil)
	const n = 1_000_000
	const batch = 30_000
	records := make([]sink.Record, n)
	for i := range records {
		records[i] = sink.Record{Seq: int64(i + 1), Layout: layout, Values: []sink.Value{
			sink.TextValue(fmt.Sprintf("ACC-%08d", i)), sink.TextValue("Name"), sink.TextValue("https://example.com")}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var bytesPerKey float64
	for range b.N {
		s := emuSink(b, c, "Account", config.Upsert, "External_Id__c", fastOptions(APIBulk))
		require.NoError(b, s.Preflight(context.Background(), layout))
		for start := 0; start < n; start += batch {
			if _, err := s.Screen(context.Background(), records[start:min(start+batch, n)]); err != nil {
				b.Fatal(err)
			}
		}
		bytesPerKey = float64(len(s.scr.seen.slots)*16) / n
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
	b.ReportMetric(bytesPerKey, "bytes/key")
}
