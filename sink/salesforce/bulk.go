package salesforce

import (
	"context"
	"time"

	"github.com/retl-go/retl/sink"
)

// writeBulk writes records through Bulk API 2.0 jobs, several in flight
// up to max_jobs_in_flight across all Writes, and retries rows that failed
// with UNABLE_TO_LOCK_ROW in later jobs, then once through REST.
func (s *sfSink) writeBulk(ctx context.Context, layout *sink.Layout, records []sink.Record) ([]sink.Result, error) {
	out := make([]sink.Result, len(records))
	pending := make([]int, len(records))
	for i := range pending {
		pending[i] = i
	}
	bl, err := s.planColumns(layout, records, pending)
	if err != nil {
		return nil, err
	}
	for round := 0; ; round++ {
		jobs := s.planJobs(bl, records, pending, out)
		if err := s.runJobs(ctx, bl, jobs, out); err != nil {
			return nil, err
		}
		s.noteLocks(jobs, out)
		if ctx.Err() != nil {
			// Stopped: what the jobs did is known; nothing more is sent.
			return out, nil
		}
		if round >= s.dest.Options.lockRetries {
			break
		}
		pending = pending[:0:0]
		for _, j := range jobs {
			for _, ri := range j.idx {
				if e := out[ri].Err; e != nil && e.Code == "UNABLE_TO_LOCK_ROW" {
					pending = append(pending, ri)
				}
			}
		}
		if len(pending) == 0 {
			break
		}
		s.log.Info("salesforce: retrying rows locked by other work", "object", s.dest.Object, "rows", len(pending), "retry", round+1)
		if err := s.c.sleep(ctx, s.dest.Options.lockBackoff*time.Duration(round+1)); err != nil {
			return out, nil // stopped: the locked rows stay failed, unwritten
		}
	}
	if err := s.lockFallback(ctx, layout, records, out); err != nil {
		return nil, err
	}
	return out, nil
}
