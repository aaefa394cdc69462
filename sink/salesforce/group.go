package salesforce

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/retl-go/retl/sink"
)

// codeLocked is Salesforce's answer for a record whose row, or whose
// parent's row, another transaction holds.
const codeLocked = "UNABLE_TO_LOCK_ROW"

// extras is the sink's state for match_on, max_deletes, group_by and
// on_removed.
type extras struct {
	mu sync.Mutex
	// resolved maps a layout to the one its records are written with once
	// match_on found their Ids; a layout of found records maps to nil.
	resolved map[*sink.Layout]*matchLayout
	// verdict is max_deletes' verdict, for Stats.
	verdict string
	// counted says CheckCount applied max_deletes, so Hint does not.
	counted bool
	// removal is the sink on_removed wrote through.
	removal *sfSink
	// lockFailures counts rows Bulk jobs answered UNABLE_TO_LOCK_ROW,
	// retries included; lockREST the rows then sent through REST.
	lockFailures, lockREST atomic.Int64
	// viaREST counts records of a Bulk sync sent through REST because
	// they hold the text "#N/A".
	viaREST atomic.Int64
	// uploadRaw and uploadGzip count the bytes of gzipped Bulk uploads,
	// before and after compression.
	uploadRaw, uploadGzip atomic.Int64
	// warnings are things the sync should know that changed no outcome,
	// such as a match_on field without an index; each once.
	warnings []string
	// budget is the run's api_budget, set up once.
	budget     apiBudget
	budgetOnce sync.Once
}

// warn logs a warning once and keeps it for Warnings, which the sync's
// report carries.
func (s *sfSink) warn(msg string) {
	s.x.mu.Lock()
	defer s.x.mu.Unlock()
	if slices.Contains(s.x.warnings, msg) {
		return
	}
	s.x.warnings = append(s.x.warnings, msg)
	s.log.Warn("salesforce: " + msg)
}

// Warnings returns the sink's warnings (sink.Warner).
func (s *sfSink) Warnings() []string {
	s.x.mu.Lock()
	out := slices.Clone(s.x.warnings)
	s.x.mu.Unlock()
	return append(out, s.truncWarnings()...)
}

// budget is the run's api_budget, or nil without one.
func (s *sfSink) budget() *apiBudget {
	if s.dest.Options.APIBudget == nil {
		return nil
	}
	s.x.budgetOnce.Do(func() { s.x.budget.limit = int64(*s.dest.Options.APIBudget) })
	return &s.x.budget
}

// noteUpload counts a gzipped upload of raw bytes sent as sent bytes.
func (s *sfSink) noteUpload(raw, sent int) {
	s.x.uploadRaw.Add(int64(raw))
	s.x.uploadGzip.Add(int64(sent))
}

// writeConcurrency is how many Writes may run at once. Writes under
// group_by or serial run one at a time: jobs of different Writes then
// never hold rows at the same time, and group_by keeps the children of
// one parent in one job within each Write.
func (s *sfSink) writeConcurrency(conc int) int {
	if s.dest.Options.GroupBy != "" || s.dest.Options.Serial {
		return 1
	}
	return conc
}

// groupedBatch is the records per Write under group_by: enough for one job
// per job slot, so the jobs of a Write still run side by side, each with
// parents of its own.
func (s *sfSink) groupedBatch() int {
	return s.jobSize() * s.dest.Options.MaxJobsInFlight
}

// internalBatch is how many records Salesforce puts in each internal batch
// of a Bulk API 2.0 ingest job; the internal batches of one job run in
// parallel ("Understanding Bulk API 2.0 Ingest").
const internalBatch = 10_000

// jobSize is the most records one Bulk job takes. Under group_by it is at
// most one internal batch: in a larger job, a parent's children could
// straddle two internal batches, which run in parallel and lock each
// other out of the parent's row.
func (s *sfSink) jobSize() int {
	n := s.dest.Options.BulkBatchSize
	if s.dest.Options.GroupBy != "" {
		n = min(n, internalBatch)
	}
	return n
}

// groupOrder sorts the pending positions by their group_by value, stably,
// so that the children of one parent are next to each other. groups[k] is
// the size of the group starting at position k of the result, 0 inside a
// group; it is nil without group_by.
func (s *sfSink) groupOrder(records []sink.Record, pending []int) (sorted []int, groups []int) {
	by := s.dest.Options.GroupBy
	if by == "" || len(pending) == 0 {
		return pending, nil
	}
	gi := records[pending[0]].Layout.Index(by)
	if gi < 0 {
		return pending, nil
	}
	keys := make(map[int]string, len(pending))
	for _, ri := range pending {
		keys[ri] = groupKey(&records[ri], gi)
	}
	sorted = slices.Clone(pending)
	slices.SortStableFunc(sorted, func(a, b int) int { return cmp.Compare(keys[a], keys[b]) })
	groups = make([]int, len(sorted))
	start := 0
	for k := 1; k <= len(sorted); k++ {
		if k == len(sorted) || keys[sorted[k]] != keys[sorted[start]] {
			groups[start] = k - start
			start = k
		}
	}
	return sorted, groups
}

// groupKey is a record's group_by value as Salesforce tells parents apart:
// Ids in their 18-character form, external ids without regard to case. An
// empty value is a group of its own.
func groupKey(r *sink.Record, i int) string {
	if i >= len(r.Values) || r.Values[i].IsEmpty() {
		return ""
	}
	return strings.ToLower(toID18(r.Values[i].S))
}

// groupBreak reports whether the group starting at position k should open
// a new job: it would not fit in the current job of n records, and the
// job holds some already. A group larger than a job is split anyway.
func (s *sfSink) groupBreak(groups []int, k, n int) bool {
	return groups != nil && groups[k] > 0 && n > 0 && n+groups[k] > s.jobSize()
}

// noteLocks counts the rows of jobs answered UNABLE_TO_LOCK_ROW.
func (s *sfSink) noteLocks(jobs []*jobPlan, out []sink.Result) {
	n := 0
	for _, j := range jobs {
		for _, ri := range j.idx {
			if e := out[ri].Err; e != nil && e.Code == codeLocked {
				n++
			}
		}
	}
	s.x.lockFailures.Add(int64(n))
}

// lockFallback sends once through REST the records that still failed with
// UNABLE_TO_LOCK_ROW after the Bulk retries. A REST call saves at most 200
// records in one transaction and needs no job, so it waits on fewer locks.
// Salesforce did not write those records, so sending them again is safe.
// Hard deletes have no REST call and keep their failure.
func (s *sfSink) lockFallback(ctx context.Context, layout *sink.Layout, records []sink.Record, out []sink.Result) error {
	if s.dest.Operation == HardDelete {
		return nil
	}
	var again []int
	for i := range out {
		if e := out[i].Err; e != nil && e.Code == codeLocked {
			again = append(again, i)
		}
	}
	if len(again) == 0 {
		return nil
	}
	s.x.lockREST.Add(int64(len(again)))
	s.log.Info("salesforce: sending rows still locked after the Bulk retries through REST", "object", s.dest.Object, "rows", len(again))
	part := make([]sink.Record, len(again))
	for k, i := range again {
		part[k] = records[i]
	}
	res, err := s.restRound(ctx, s.newJSONShape(layout), part)
	if err != nil {
		return err
	}
	for k, i := range again {
		out[i] = res[k]
	}
	return nil
}

// extraStats adds what match_on, max_deletes, group_by and on_removed did
// to the sink's Stats.
func (s *sfSink) extraStats(st *sink.Statistics) {
	st.Count("lock_failures", s.x.lockFailures.Load())
	st.Count("lock_rest_retries", s.x.lockREST.Load())
	st.Count("null_marker_rest", s.x.viaREST.Load())
	if b := s.dest.Options.APIBudget; b != nil {
		st.Count("api_budget", int64(*b))
		st.Count("api_budget_refused_calls", s.x.budget.refused.Load())
	}
	if used, max, ok := s.c.APIUsage(); ok {
		st.Note("org_api_usage", fmt.Sprintf("%d/%d", used, max))
	}
	if n := s.x.uploadRaw.Load(); n > 0 {
		st.Count("upload_bytes", n)
		st.Count("upload_bytes_gzipped", s.x.uploadGzip.Load())
	}
	s.x.mu.Lock()
	verdict, removal := s.x.verdict, s.x.removal
	s.x.mu.Unlock()
	st.Note("max_deletes", verdict)
	if removal != nil {
		// on_removed's jobs and calls are the sync's too.
		rs := removal.Stats()
		st.Note("on_removed_api", rs.API)
		st.Jobs = append(st.Jobs, rs.Jobs...)
		st.Calls += rs.Calls
	}
}
