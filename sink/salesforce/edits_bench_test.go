package salesforce

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
)

// BenchmarkKeepHumanEdits measures what keep_human_edits adds to a resend
// of 100,000 records that carry expectations (every field tracked, none
// edited): the read of current values by one query job, alone and shared
// with only_if_different. Compare the modes of one run with each other.
func BenchmarkKeepHumanEdits(b *testing.B) {
	const n = 100_000
	srv := emulator(b)
	c := emuClient(b, srv)
	layout := sink.NewLayout([]string{"External_Id__c", "Name", "BillingCity", "Description"}, nil)
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{fmt.Sprintf("EXT-%08d", i), fmt.Sprintf("Account %d", i), "Oslo", "note " + fmt.Sprint(i%100)}
	}
	opt := fastOptions(APIBulk)
	opt.BulkBatchSize = n
	opt.KeepHumanEdits = true
	first := write(b, emuSink(b, c, "Account", Upsert, "External_Id__c", opt), recs(layout, rows...))
	requireOK(b, first)
	records := recs(layout, rows...)
	for i := range records {
		records[i].Expect = first[i].Wrote
	}

	for _, mode := range []string{"resend", "keep_human_edits", "keep_human_edits_and_only_if_different"} {
		b.Run(mode, func(b *testing.B) {
			o := opt
			o.KeepHumanEdits = mode != "resend"
			o.OnlyIfDifferent = mode == "keep_human_edits_and_only_if_different"
			var calls int64
			start := time.Now()
			for b.Loop() {
				s := emuSink(b, c, "Account", Upsert, "External_Id__c", o)
				res, err := s.Write(b.Context(), records)
				require.NoError(b, err)
				require.Nil(b, res[n-1].KeptEdits)
				calls += s.Stats().Calls
			}
			per := float64(b.N)
			b.ReportMetric(float64(calls)/per, "calls/100k")
			b.ReportMetric(float64(time.Since(start).Milliseconds())/per, "ms/100k")
		})
	}
}
