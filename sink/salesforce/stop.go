package salesforce

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/retl-go/retl/sink"
)

// stoppedResult is the result of a record that is known not to be written
// because the write stopped first (a cancelled run, or a sync that stopped
// on another error): it goes again in the next run.
var stoppedResult = sink.Result{Skipped: sink.SkipNotSent, SkipDetail: "the write stopped before it was sent"}

// salvageTimeout bounds what a stopped write still does to learn what
// Salesforce holds: abort its Bulk jobs, read their results, finish the
// REST calls in flight, look up inserts whose answers were lost.
const salvageTimeout = 2 * time.Minute

// notSentError marks the failure of work that reached no record: a Bulk
// job that never started processing (no slot, no job, or aborted before
// UploadComplete). Its records are known not written.
type notSentError struct{ err error }

func (e *notSentError) Error() string      { return e.err.Error() }
func (e *notSentError) unlabelled() string { return unlabelledText(e.err) }
func (e *notSentError) Unwrap() error      { return e.err }

func nothingSent(err error) error { return &notSentError{err: err} }

// stoppedResults gives every record of a write that stopped before it
// sent anything the skip stoppedResult.
func stoppedResults(n int) []sink.Result {
	out := make([]sink.Result, n)
	for i := range out {
		out[i] = stoppedResult
	}
	return out
}

// salvage learns what a Bulk job did after its write stopped or lost
// track of it: the job is aborted (it keeps the records it processed) and
// its results are read, with a context of their own. Records it never
// reached are skipped stoppedResult; a job whose results cannot be read
// leaves its records with an unknown outcome.
func (s *sfSink) salvage(ctx context.Context, bl *bulkLayout, j *jobPlan, id string, cause error, out []sink.Result) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), salvageTimeout)
	defer cancel()
	s.log.Info("salesforce: stopping a Bulk job and reading what it wrote", "job", id, "records", len(j.idx))
	body := []byte(`{"state":"` + stateAborted + `"}`)
	// A job that already ended refuses the abort; its results stand.
	_, _ = s.c.do(sctx, &request{method: http.MethodPatch, path: s.jobPath(id), body: body, ctype: "application/json", idempotent: true})
	info, err := s.settled(sctx, id)
	if err == nil && info.State == stateOpen {
		// UploadComplete never landed: the job processed nothing.
		return nothingSent(cause)
	}
	if err == nil {
		err = s.collect(sctx, bl, j, info, out)
	}
	if err != nil {
		return errorf("%w: reading job %s after the write stopped: %w", ErrOutcomeUnknown, id, err)
	}
	for _, ri := range j.idx {
		if e := out[ri].Err; e != nil && e.Code == CodeJobAborted {
			out[ri] = stoppedResult
		}
	}
	return nil
}

// settled polls a job until it is in a final state.
func (s *sfSink) settled(ctx context.Context, id string) (*jobInfo, error) {
	wait := s.dest.Options.pollStart
	for {
		info, err := s.jobInfo(ctx, id)
		if err != nil {
			return nil, err
		}
		switch info.State {
		case stateJobComplete, stateFailed, stateAborted, stateOpen:
			return info, nil
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return nil, err
		}
		wait = min(wait*3/2, s.dest.Options.PollMaxWait)
	}
}

// jobFailure is the result of a job's records when runJob failed.
func (s *sfSink) jobFailure(ctx context.Context, err error) sink.Result {
	var ns *notSentError
	switch {
	case errors.As(err, &ns) && ctx.Err() != nil:
		return stoppedResult
	case errors.As(err, &ns) && !errors.Is(err, ErrOutcomeUnknown):
		return sink.Result{Err: requestFailure(err)}
	case errors.As(err, &ns):
		// An upload whose answer was lost, in a job aborted before
		// UploadComplete: Salesforce processed nothing of it.
		return sink.Result{Err: recordErr(CodeRequestFailed, "the job's upload failed and the job was aborted before it processed anything, so no record was written (%s)", unlabelledText(err))}
	}
	return sink.Result{Err: requestFailure(err)}
}

// resolveInserts settles inserts whose answers were lost when the
// records carry a unique external id: a record holding the value was
// written (its Id is reported), a value no record holds was not. Without
// such a field they stay RETL_OUTCOME_UNKNOWN.
func (s *sfSink) resolveInserts(ctx context.Context, layout *sink.Layout, records []sink.Record, res []sink.Result) {
	if s.dest.Operation != Insert {
		return
	}
	var unknown []int
	for i := range res {
		if e := res[i].Err; e != nil && e.Code == CodeOutcomeUnknown {
			unknown = append(unknown, i)
		}
	}
	if len(unknown) == 0 {
		return
	}
	desc := s.c.describeCached(s.dest.Object)
	if desc == nil {
		return
	}
	field, fi := "", -1
	for i, name := range layout.Fields {
		if f := desc.Field(name); f != nil && f.ExternalID && f.Unique {
			field, fi = f.Name, i
			break
		}
	}
	if fi < 0 {
		return
	}
	keys := make([]string, 0, len(unknown))
	for _, i := range unknown {
		if fi < len(records[i].Values) && !records[i].Values[fi].IsEmpty() && records[i].Values[fi].S != "" {
			keys = append(keys, records[i].Values[fi].S)
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), salvageTimeout)
	defer cancel()
	rows, err := s.c.CurrentValues(sctx, s.dest.Object, field, keys, nil)
	if err != nil {
		s.log.Warn("salesforce: looking up inserts whose answers were lost failed; they stay unknown", "error", err)
		return
	}
	folded := make(map[string]currentRow, len(rows))
	for k, r := range rows {
		folded[foldKey(keyFold, k)] = r
	}
	for _, i := range unknown {
		if fi >= len(records[i].Values) || records[i].Values[fi].IsEmpty() || records[i].Values[fi].S == "" {
			continue
		}
		v := records[i].Values[fi].S
		if r, ok := folded[foldKey(keyFold, v)]; ok {
			res[i] = sink.Result{ID: toID18(r.String("Id")), Created: true}
			continue
		}
		if ctx.Err() != nil {
			res[i] = stoppedResult
			continue
		}
		res[i] = sink.Result{Err: recordErr(CodeRequestFailed, "the insert's answer was lost, and no %s record has %s %s: it was not written", s.dest.Object, field, v)}
	}
}
