package salesforce

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
)

// BenchmarkOnlyIfDifferent measures, on the emulator, what a rerun of
// 100,000 records Salesforce already holds costs: sent as they are (no
// rail), and with only_if_different, which reads them (by IN lists, or by
// the one query job it chooses for so many keys) and sends none.
// Change detection alone sends none either and makes no Salesforce call:
// its cost is the warehouse's state read. Compare the sub-benchmarks'
// calls/100k and ms/100k as ratios; absolute times depend on the machine.
func BenchmarkOnlyIfDifferent(b *testing.B) {
	const n = 100_000
	srv := emulator(b)
	c := emuClient(b, srv)
	layout := sink.NewLayout([]string{"External_Id__c", "Name", "BillingCity", "Description"}, nil)
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{fmt.Sprintf("EXT-%08d", i), fmt.Sprintf("Account %d", i), "Oslo", "note " + fmt.Sprint(i%100)}
	}
	records := recs(layout, rows...)
	opt := fastOptions(APIBulk)
	opt.BulkBatchSize = n
	requireOK(b, write(b, emuSink(b, c, "Account", Upsert, "External_Id__c", opt), records))

	for _, mode := range []string{"resend", "only_if_different_in_lists", "only_if_different_query_job"} {
		differ := mode != "resend"
		b.Run(mode, func(b *testing.B) {
			if mode == "only_if_different_in_lists" {
				old := jobMinKeys
				jobMinKeys = 2 * n
				b.Cleanup(func() { jobMinKeys = old })
			}
			o := opt
			o.OnlyIfDifferent = differ
			var calls int64
			start := time.Now()
			for b.Loop() {
				s := emuSink(b, c, "Account", Upsert, "External_Id__c", o)
				res, err := s.Write(b.Context(), records)
				require.NoError(b, err)
				if differ {
					require.Equal(b, sink.SkipUnchanged, res[n-1].Skipped)
				}
				calls += s.Stats().Calls
			}
			per := float64(b.N)
			b.ReportMetric(float64(calls)/per, "calls/100k")
			b.ReportMetric(float64(time.Since(start).Milliseconds())/per, "ms/100k")
		})
	}
}
