package salesforce

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source"
	"github.com/retl-go/retl/transform"
)

// benchBatch is the rows of one benchmark iteration: a batch size the
// Engine could hand to a sink, large enough that per-batch costs are
// spread as they are in a real load.
const benchBatch = 10_000

var benchCols = []string{"ACCOUNT_ID", "NAME", "INDUSTRY", "EMPLOYEES", "ARR", "SIGNED_UP_AT", "RENEWAL_DATE", "CHURN_NOTE"}

// benchSync maps the 8 benchmark columns onto Account fields, keyed by
// the external id: the shape of examples/bench.
func benchSync() *config.Sync {
	targets := []string{"External_Id__c", "Name", "Industry", "NumberOfEmployees", "AnnualRevenue", "Signed_Up__c", "Renewal_Date__c", "Description"}
	s := &config.Sync{File: "bench.yaml", Name: "bench"}
	s.Destination.Section, _ = config.NewSection("bench.yaml", "object: Account\noperation: upsert\nmatch_on: External_Id__c\n")
	for i, c := range benchCols {
		s.Mapping = append(s.Mapping, &config.Mapping{From: c, To: targets[i]})
	}
	return s
}

var industries = []string{"Manufacturing", "Banking", "Retail, Online", `Media "and" Arts`, "Energy"}

// benchRows returns n source rows: strings (one in five needs quoting),
// int64, Decimal, time.Time, Date and a column that is NULL every other row.
func benchRows(n int) [][]any {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	rows := make([][]any, n)
	for i := range rows {
		var note any
		if i%2 == 1 {
			note = "renewal at risk " + strconv.Itoa(i%100)
		}
		rows[i] = []any{
			fmt.Sprintf("EXT-%08d", i), "Account " + strconv.Itoa(i), industries[i%len(industries)],
			int64(i % 5000), source.Decimal(strconv.Itoa(i%1_000_000) + ".50"),
			t0.Add(time.Duration(i) * time.Second), source.Date(t0.AddDate(0, 0, i%365).Format(time.DateOnly)), note,
		}
	}
	return rows
}

func benchSink(tb testing.TB, opt Options) *sfSink {
	c, err := newAPIClient(connConfig{LoginURL: "http://127.0.0.1:1", Auth: AuthPassword, ClientID: "c", ClientSecret: "s", Username: "u", Password: "p"}, withLogger(quiet))
	require.NoError(tb, err)
	s, err := buildSink(c, Destination{Object: "Account", Operation: Upsert, ExternalID: "External_Id__c", Options: opt})
	require.NoError(tb, err)
	return s
}

func transformAll(tb testing.TB, m transform.Transformer, rows [][]any, out []sink.Record) []sink.Record {
	out = out[:0]
	for _, r := range rows {
		rec, err := m.Transform(transform.Row{Columns: benchCols, Values: r})
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

// perRow reports rows per second and allocations per row; testing's own
// figures are per op, an op being a batch here.
func perRow(b *testing.B, rows int, before *runtime.MemStats) {
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	total := float64(b.N) * float64(rows)
	b.ReportMetric(total/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/row")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/total, "B/row")
}

func indexes(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

// BenchmarkMapCSV is the client's work per row of a Bulk load before the
// upload: mapping a source row and encoding it into a job's CSV.
func BenchmarkMapCSV(b *testing.B) {
	m, err := transform.Compile(benchSync())
	require.NoError(b, err)
	s := benchSink(b, Options{})
	rows := benchRows(benchBatch)
	pending := indexes(benchBatch)
	out := make([]sink.Result, benchBatch)
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		recs := transformAll(b, m, rows, make([]sink.Record, 0, benchBatch))
		bl, err := s.planColumns(m.Layout(), recs, pending)
		if err != nil {
			b.Fatal(err)
		}
		if jobs := s.planJobs(bl, recs, pending, out); len(jobs) != 1 {
			b.Fatalf("%d jobs", len(jobs))
		}
	}
	perRow(b, benchBatch, &before)
}

// BenchmarkCSVEncode is the CSV encoding of records alone.
func BenchmarkCSVEncode(b *testing.B) {
	m, err := transform.Compile(benchSync())
	require.NoError(b, err)
	s := benchSink(b, Options{})
	recs := transformAll(b, m, benchRows(benchBatch), nil)
	pending := indexes(benchBatch)
	out := make([]sink.Result, benchBatch)
	bl, err := s.planColumns(m.Layout(), recs, pending)
	require.NoError(b, err)
	var size int
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		jobs := s.planJobs(bl, recs, pending, out)
		size = len(jobs[0].body)
	}
	b.SetBytes(int64(size))
	perRow(b, benchBatch, &before)
}

// BenchmarkJSONEncode is the sObject Collections encoding of records
// alone, 200 a request as the REST writer sends them.
func BenchmarkJSONEncode(b *testing.B) {
	m, err := transform.Compile(benchSync())
	require.NoError(b, err)
	s := benchSink(b, Options{API: APIREST})
	recs := transformAll(b, m, benchRows(benchBatch), nil)
	shape := s.newJSONShape(m.Layout())
	var size int
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		size = 0
		for off := 0; off < len(recs); off += restBatch {
			size += len(shape.body(recs[off:min(off+restBatch, len(recs))]))
		}
	}
	b.SetBytes(int64(size))
	perRow(b, benchBatch, &before)
}

// bulkResultsBench returns a 10k-row job and its successful result file
// as Salesforce writes it: the sf__ columns, then each uploaded row with
// every cell quoted, in another order.
func bulkResultsBench(b *testing.B) (*sfSink, *bulkLayout, *jobPlan, []byte) {
	m, err := transform.Compile(benchSync())
	require.NoError(b, err)
	s := benchSink(b, Options{})
	recs := transformAll(b, m, benchRows(benchBatch), nil)
	pending := indexes(benchBatch)
	out := make([]sink.Result, benchBatch)
	bl, err := s.planColumns(m.Layout(), recs, pending)
	require.NoError(b, err)
	j := s.planJobs(bl, recs, pending, out)[0]
	var res bytes.Buffer
	res.WriteString(`"sf__Id","sf__Created",`)
	res.Write(quoteAll(b, j.body[:bytes.IndexByte(j.body, '\n')+1]))
	for p := len(j.idx) - 1; p >= 0; p-- {
		fmt.Fprintf(&res, `"001%015d","true",`, p)
		res.Write(quoteAll(b, j.row(p)))
	}
	return s, bl, j, res.Bytes()
}

// quoteAll re-encodes a CSV line with every cell quoted, as Salesforce
// writes result files.
func quoteAll(b *testing.B, line []byte) []byte {
	cells, err := csv.NewReader(bytes.NewReader(line)).Read()
	require.NoError(b, err)
	var out []byte
	for i, c := range cells {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, strings.ReplaceAll(c, `"`, `""`)...)
		out = append(out, '"')
	}
	return append(out, '\n')
}

// BenchmarkBulkResults is reading a job's successful results and giving
// each record its result, the client's work per row after a job.
func BenchmarkBulkResults(b *testing.B) {
	s, bl, j, body := bulkResultsBench(b)
	b.SetBytes(int64(len(body)))
	out := make([]sink.Result, len(j.idx))
	fn := func(row []string, rf *resultFile) sink.Result {
		return sink.Result{ID: strings.Clone(cellAt(row, rf.idCol))}
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		m := newResultIndex(j, bl.keyCol, s.normKey)
		done := make([]bool, len(j.idx))
		var matched []int32
		unmatched := 0
		if err := s.applyResults(bytes.NewReader(body), bl, m, done, out, j, fn, &matched, &unmatched); err != nil || unmatched > 0 {
			b.Fatal(err, unmatched)
		}
	}
	perRow(b, benchBatch, &before)
}

// BenchmarkGzipUpload compresses a 10k-row job of the benchmark's rows as
// gzip_uploads does, and reports the share of bytes it saves.
func BenchmarkGzipUpload(b *testing.B) {
	_, _, j, _ := bulkResultsBench(b)
	b.SetBytes(int64(len(j.body)))
	var z []byte
	for b.Loop() {
		var err error
		if z, err = gzipBody(j.body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(j.body)), "raw_bytes")
	b.ReportMetric(float64(len(z)), "gzip_bytes")
	b.ReportMetric(100*(1-float64(len(z))/float64(len(j.body))), "saved_%")
}
