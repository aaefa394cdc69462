package salesforce

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

func TestIDProblem(t *testing.T) {
	const id15 = "001000000000aBc"
	id18 := toID18(id15)
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
	// One batch larger than several doublings of the table, then batches
	// of 100: every key new.
	var hs []uint64
	var seqs []int64
	for i := 1; i <= 5000; i++ {
		hs, seqs = append(hs, h(uint64(i))), append(seqs, int64(i))
	}
	dups, firsts := k.addAll(hs, seqs, nil, nil)
	require.Empty(t, dups)
	require.Empty(t, firsts)
	for start := 5001; start <= 6000; start += 100 {
		hs, seqs = hs[:0], seqs[:0]
		for i := start; i < start+100; i++ {
			hs, seqs = append(hs, h(uint64(i))), append(seqs, int64(i))
		}
		dups, _ = k.addAll(hs, seqs, nil, nil)
		require.Empty(t, dups)
	}
	assert.Equal(t, 6000, k.n)
	// A key of an earlier batch, a key twice in this batch (the second
	// names the first of the batch), hash 0 twice, and a new key.
	dups, firsts = k.addAll(
		[]uint64{h(1234), h(7000), 0, h(7000), 0, h(7001)},
		[]int64{9001, 9002, 9003, 9004, 9005, 9006}, nil, nil)
	assert.Equal(t, []int32{0, 3, 4}, dups)
	assert.Equal(t, []int64{1234, 9002, 9003}, firsts)
	assert.Equal(t, 6003, k.n)
	assert.LessOrEqual(t, k.n*4, len(k.hs)*3)
	// A row number beyond 32 bits is not kept: its duplicate names no row.
	dups, firsts = k.addAll([]uint64{h(8000), h(8000)}, []int64{1 << 33, 1<<33 + 1}, nil, nil)
	assert.Equal(t, []int32{1}, dups)
	assert.Equal(t, []int64{0}, firsts)
}

func TestAppendFolded(t *testing.T) {
	assert.Equal(t, "abc-1", string(appendFolded(nil, keyFold, "ABC-1")))
	assert.Equal(t, "ärger", string(appendFolded(nil, keyFold, "ÄRGER")), "non-ASCII keys fold too")
	assert.Equal(t, "ABC-1", string(appendFolded(nil, keyExact, "ABC-1")))
	const id15 = "001000000000aBc"
	assert.Equal(t, strings.ToUpper(toID18(id15)), string(appendFolded(nil, keyID, id15)))
	assert.Equal(t, strings.ToUpper(toID18(id15)), string(appendFolded(nil, keyID, toID18(id15))))
}

func TestDuplicateOption(t *testing.T) {
	for _, tc := range []struct {
		v, want string
		op      Operation
		err     string
	}{
		{"", DuplicateFail, Upsert, ""},
		{"", "", Insert, ""},
		{"skip", DuplicateSkip, Update, ""},
		{"fail", "", Insert, "not insert"},
		{"keep_last", "", Upsert, `on_duplicate_key "keep_last": want fail or skip`},
	} {
		got, err := checkDuplicateOption(tc.v, tc.op)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
	_, err := buildSink(&apiClient{}, Destination{Object: "Account", Operation: Upsert, ExternalID: "External_Id__c",
		Options: Options{OnDuplicateKey: "maybe"}})
	assert.ErrorContains(t, err, "on_duplicate_key")
}

// A describe that fails stops the screen with the describe's error, and
// records of a sync without a key field are never taken for duplicates.
func TestScreenDescribeFailsAndInsertHasNoKeys(t *testing.T) {
	srv := emulator(t)
	c := emuClient(t, srv)
	layout := sink.NewLayout([]string{"Name"}, nil)
	s, err := buildSink(c, Destination{Object: "Nope__c", Operation: Upsert, ExternalID: "External_Id__c", Options: fastOptions(APIBulk)})
	require.NoError(t, err)
	_, err = s.Screen(context.Background(), recs(layout, []any{"x"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "screening records")

	ins := emuSink(t, c, "Account", Insert, "", fastOptions(APIBulk))
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
	s := emuSink(t, c, "Thing__c", Upsert, "Exact__c", fastOptions(APIBulk))
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
	// The table keeps row numbers of 32 bits; beyond, the message names
	// no row rather than a wrong one.
	res, err = s.Screen(context.Background(), []sink.Record{
		{Seq: 1 << 33, Layout: layout, Values: []sink.Value{sink.TextValue("Z")}},
		{Seq: 1<<33 + 1, Layout: layout, Values: []sink.Value{sink.TextValue("Z")}}})
	require.NoError(t, err)
	assert.Nil(t, res[0].Err)
	require.NotNil(t, res[1].Err)
	assert.Equal(t, "an earlier row already has Exact__c Z (as Salesforce matches it); the first row with a key is written, later ones are not", res[1].Err.Message)
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
		s := emuSink(b, c, "Account", Upsert, "External_Id__c", fastOptions(APIBulk))
		require.NoError(b, s.Preflight(context.Background(), layout))
		for start := 0; start < n; start += batch {
			if _, err := s.Screen(context.Background(), records[start:min(start+batch, n)]); err != nil {
				b.Fatal(err)
			}
		}
		bytesPerKey = float64(s.scr.seen.bytes()) / n
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
	b.ReportMetric(bytesPerKey, "bytes/key")
}

// The word-at-a-time fold agrees with strings.ToLower on every byte value
// at every position of the word, and on non-ASCII text.
func TestAppendFoldedMatchesToLower(t *testing.T) {
	for c := 0; c < 128; c++ {
		for pos := 0; pos < 9; pos++ {
			key := []byte("xyzw-0123-Q")
			key[pos] = byte(c)
			assert.Equal(t, strings.ToLower(string(key)), string(appendFolded(nil, keyFold, string(key))), "byte %#x at %d", c, pos)
		}
	}
	for _, key := range []string{"", "A", "ABCDEFGH", "ABCDEFGHI", "@[`{AZaz", "ÄBCDEFGHIJ", "ABCDEFGHÄ", "abcdefgh\xff"} {
		assert.Equal(t, strings.ToLower(key), string(appendFolded(nil, keyFold, key)), key)
	}
}

func FuzzAppendFolded(f *testing.F) {
	f.Add("ACC-0001")
	f.Add("Straße-ÄÖÜ")
	f.Fuzz(func(t *testing.T, key string) {
		if got, want := string(appendFolded([]byte("junk"), keyFold, key)), "junk"+strings.ToLower(key); got != want {
			t.Fatalf("fold(%q) = %q", key, got)
		}
	})
}

// foldHash gives keys that fold alike one hash, and a million distinct
// keys a million hashes; non-ASCII text is left to maphash.
func TestFoldHash(t *testing.T) {
	const seed = 0x1234
	for _, pair := range [][2]string{{"ACC-0001", "acc-0001"}, {"Ab", "aB"}, {"", ""}, {"ABCDEFGHIJKLMNOPQ", "abcdefghijklmnopq"}} {
		a, ok := foldHash(seed, pair[0])
		require.True(t, ok)
		b, _ := foldHash(seed, pair[1])
		assert.Equal(t, a, b, pair)
	}
	_, ok := foldHash(seed, "ÄRGER")
	assert.False(t, ok)
	_, ok = foldHash(seed, "abcdefgh\xff")
	assert.False(t, ok)
	seen := make(map[uint64]string, 1_000_000)
	for i := range 1_000_000 {
		k := fmt.Sprintf("ACC-%d", i)
		h, _ := foldHash(seed, k)
		if prev, dup := seen[h]; dup {
			t.Fatalf("%s and %s share a hash", prev, k)
		}
		seen[h] = k
	}
	// Lengths and padding: "a" and "a\x00" differ.
	x, _ := foldHash(seed, "a")
	y, _ := foldHash(seed, "a\x00")
	assert.NotEqual(t, x, y)
	z, _ := foldHash(seed+1, "a")
	assert.NotEqual(t, x, z, "the seed changes the hash")
}
