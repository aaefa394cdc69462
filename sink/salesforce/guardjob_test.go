package salesforce

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

func lowJobMin(t *testing.T, n int) {
	old := jobMinKeys
	jobMinKeys = n
	t.Cleanup(func() { jobMinKeys = old })
}

// inQueries counts the IN-list reads among the requests.
func inQueries(srv *sftest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == "GET" && strings.HasSuffix(r.Path, "/query") && strings.Contains(r.Query, "+IN+") {
			n++
		}
	}
	return n
}

func seedGuarded(t *testing.T, srv *sftest.Server) {
	seed(t, srv, "Account", map[string]any{"Name": "Populated", "External_Id__c": "A-1", "Phone": "111"})
	seed(t, srv, "Account", map[string]any{"Name": "Empty", "External_Id__c": "a-2"})
	seed(t, srv, "Account", map[string]any{"Name": "Site only", "External_Id__c": "a-5", "Website": "w.example"})
}

// One query job answers set_if_empty when the sync reads enough keys
// against the records the job would read: the same values are kept back
// as by IN lists, keys match without regard to case, and later batches
// are answered without another read.
func TestSetIfEmptyByQueryJob(t *testing.T) {
	lowJobMin(t, 2)
	srv := emulator(t)
	seedGuarded(t, srv)
	s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", fastOptions(APIBulk))
	l := sink.NewLayout([]string{"External_Id__c", "Name", "Phone", "Website"}, []bool{false, false, true, true})
	srv.ResetRequests()
	res := write(t, s, recs(l,
		[]any{"A-1", "Populated!", "999", "new.example"},
		[]any{"A-2", "Empty!", "222", "two.example"},
		[]any{"A-3", "New", "333", "new.example"},
		[]any{"A-5", "Site", "555", "five.example"},
	))
	requireOK(t, res)
	assert.Equal(t, []string{"Phone"}, res[0].KeptBack)
	assert.Empty(t, res[1].KeptBack)
	assert.Empty(t, res[2].KeptBack)
	assert.Equal(t, []string{"Website"}, res[3].KeptBack, "a-5 matched A-5")
	assert.Equal(t, 1, countRequests(srv, "POST", "/jobs/query"))
	assert.Zero(t, inQueries(srv))

	res = write(t, s, recs(l, []any{"A-1", "Again", "000", nil}, []any{"A-6", "Six", "666", nil}))
	requireOK(t, res)
	assert.Equal(t, []string{"Phone"}, res[0].KeptBack)
	assert.Empty(t, res[1].KeptBack)
	assert.Equal(t, 1, countRequests(srv, "POST", "/jobs/query"), "the job's answer serves later batches")
	assert.Zero(t, inQueries(srv))

	got := byExt(srv, "Account")
	assert.Equal(t, "111", got["A-1"]["Phone"])
	assert.Equal(t, "222", got["a-2"]["Phone"])
	assert.Equal(t, "w.example", got["a-5"]["Website"])
	assert.Equal(t, "555", got["a-5"]["Phone"])
}

// While the keys read are few against the records a job would read, IN
// lists read them; once the keys add up, the job takes over.
func TestSetIfEmptyJobAfterEnoughKeys(t *testing.T) {
	lowJobMin(t, 2)
	srv := emulator(t)
	for i := range 50 {
		seed(t, srv, "Account", map[string]any{"Name": "P", "External_Id__c": fmt.Sprint("P-", i), "Phone": "1"})
	}
	s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", fastOptions(APIBulk))
	l := sink.NewLayout([]string{"External_Id__c", "Phone"}, []bool{false, true})
	srv.ResetRequests()
	res := write(t, s, recs(l, []any{"P-0", "9"}, []any{"N-0", "9"}))
	assert.Equal(t, []string{"Phone"}, res[0].KeptBack)
	assert.Equal(t, 1, inQueries(srv), "2 keys × 20 < 50 records: IN lists")
	assert.Zero(t, countRequests(srv, "POST", "/jobs/query"))
	res = write(t, s, recs(l, []any{"P-1", "9"}))
	assert.Equal(t, []string{"Phone"}, res[0].KeptBack)
	assert.Equal(t, 1, inQueries(srv))
	assert.Equal(t, 1, countRequests(srv, "POST", "/jobs/query"), "3 keys × 20 ≥ 50: the job")
}

// A failed job or count costs time, never a value: IN lists read instead.
func TestSetIfEmptyJobFailureFallsBack(t *testing.T) {
	lowJobMin(t, 2)
	check := func(t *testing.T, srv *sftest.Server, s *sfSink) {
		l := sink.NewLayout([]string{"External_Id__c", "Phone", "Website"}, []bool{false, true, true})
		batch := func() []sink.Result {
			res := write(t, s, recs(l, []any{"A-1", "9", "x.example"}, []any{"A-2", "9", "x.example"}, []any{"A-5", "9", "x.example"}))
			requireOK(t, res)
			return res
		}
		res := batch()
		assert.Equal(t, []string{"Phone"}, res[0].KeptBack)
		assert.Empty(t, res[1].KeptBack)
		assert.Equal(t, []string{"Website"}, res[2].KeptBack)
		for _, r := range batch() {
			assert.Equal(t, []string{"Phone", "Website"}, r.KeptBack, "the first batch filled every field")
		}
		assert.Equal(t, 2, inQueries(srv), "each batch read by IN lists")
	}
	t.Run("job fails", func(t *testing.T) {
		srv := emulator(t)
		seedGuarded(t, srv)
		s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", fastOptions(APIBulk))
		srv.Fault(sftest.Fault{Method: "POST", Path: "/jobs/query", Status: 400})
		srv.ResetRequests()
		check(t, srv, s)
		assert.Equal(t, 1, countRequests(srv, "POST", "/jobs/query"), "tried once")
	})
	t.Run("count too slow", func(t *testing.T) {
		old := countTimeout
		countTimeout = 50 * time.Millisecond
		t.Cleanup(func() { countTimeout = old })
		srv := emulator(t)
		seedGuarded(t, srv)
		s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", fastOptions(APIBulk))
		srv.ResetRequests()
		srv.Fault(sftest.Fault{Kind: sftest.FaultDelay, Method: "GET", Path: "/query", Delay: time.Second, Times: 1})
		check(t, srv, s)
		assert.Zero(t, countRequests(srv, "POST", "/jobs/query"))
	})
	t.Run("count fails", func(t *testing.T) {
		srv := emulator(t)
		seedGuarded(t, srv)
		s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", fastOptions(APIBulk))
		srv.ResetRequests()
		srv.Fault(sftest.Fault{Method: "GET", Path: "/query", Status: 400, Times: 1})
		check(t, srv, s)
		assert.Zero(t, countRequests(srv, "POST", "/jobs/query"))
	})
	for name, f := range map[string]sftest.Fault{
		"polling fails":           {Method: "GET", Path: "/jobs/query/", Status: 400},
		"results fail":            {Method: "GET", Path: "/results", Status: 400},
		"job answer malformed":    {Kind: sftest.FaultMalformed, Method: "POST", Path: "/jobs/query"},
		"state answer malformed":  {Kind: sftest.FaultMalformed, Method: "GET", Path: "/jobs/query/"},
		"results malformed (CSV)": {Kind: sftest.FaultMalformed, Method: "GET", Path: "/results"},
		"count answer malformed":  {Kind: sftest.FaultMalformed, Method: "GET", Path: "/query", Times: 1},
	} {
		t.Run(name, func(t *testing.T) {
			srv := emulator(t)
			seedGuarded(t, srv)
			s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", fastOptions(APIBulk))
			srv.ResetRequests()
			srv.Fault(f)
			check(t, srv, s)
		})
	}
}

func TestFilledSetReadsPages(t *testing.T) {
	page := "\"K\",\"A\",\"B\"\n\"k1\",\"x\",\"\"\n\"K2\",\"\",\"y\"\n\"k3\",\" \",\"\"\n"
	for _, fold := range []bool{true, false} {
		f := &filledSet{seed: maphash.MakeSeed(), fold: fold}
		require.NoError(t, f.add(strings.NewReader(page)))
		require.NoError(t, f.add(strings.NewReader("")), "an empty page")
		assert.Len(t, f.entries, 2, "a record whose values are all blank is left out")
		slices.SortFunc(f.entries, func(a, b filledEntry) int { return cmp.Compare(a.h, b.h) })
		m, ok := f.find("K2")
		assert.True(t, ok)
		assert.Equal(t, uint64(2), m, "B holds a value")
		_, ok = f.find("k2")
		assert.Equal(t, fold, ok, "k2 is K2 only when keys fold")
		_, ok = f.find("k3")
		assert.False(t, ok)
		require.Error(t, f.add(strings.NewReader("\"K\",\"A\"\n\"unterminated,\"x\n")))
	}
}

// The job's results are read page by page, following Sforce-Locator.
func TestSetIfEmptyJobPages(t *testing.T) {
	lowJobMin(t, 2)
	old := jobPage
	jobPage = 2
	t.Cleanup(func() { jobPage = old })
	srv := emulator(t)
	for i := range 5 {
		seed(t, srv, "Account", map[string]any{"Name": "P", "External_Id__c": fmt.Sprint("P-", i), "Phone": "1"})
	}
	s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", fastOptions(APIBulk))
	l := sink.NewLayout([]string{"External_Id__c", "Phone"}, []bool{false, true})
	srv.ResetRequests()
	res := write(t, s, recs(l, []any{"P-0", "9"}, []any{"P-4", "9"}, []any{"N-0", "9"}))
	assert.Equal(t, []string{"Phone"}, res[0].KeptBack)
	assert.Equal(t, []string{"Phone"}, res[1].KeptBack)
	assert.Empty(t, res[2].KeptBack)
	assert.Equal(t, 3, countRequests(srv, "GET", "/results"), "5 records in pages of 2")
}

// A field guarded twice, or the key guarded, is read by IN lists, without
// asking anything more.
func TestSetIfEmptyJobNotForRepeatedFields(t *testing.T) {
	lowJobMin(t, 1)
	srv := emulator(t)
	s := emuSink(t, emuClient(t, srv), "Account", Upsert, "External_Id__c", fastOptions(APIBulk))
	srv.ResetRequests()
	for _, names := range [][]string{{"Phone", "phone"}, {"External_Id__c"}} {
		_, ok := s.currentByJob(t.Context(), "External_Id__c", []string{"A-1"}, names)
		assert.False(t, ok)
	}
	assert.Empty(t, srv.Requests())
}
