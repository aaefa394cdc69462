package reverseetl

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
)

// recorder is the one place where a row's outcome is decided and counted.
type recorder struct {
	ctx       context.Context
	sync      *config.Sync
	rep       *SyncReport
	observers []Observer
	chunk     int
	redact    func(string) string
	// exclude keeps excluded fields' values out of failed rows' messages.
	exclude Exclusion
	// drain hands outcomes and state over off the hot path.
	drain *drain

	mu      sync.Mutex
	pending []Outcome
	warned  map[string]bool
}

func newRecorder(ctx context.Context, s *config.Sync, rep *SyncReport, obs []Observer, chunk int, redact func(string) string) *recorder {
	return &recorder{ctx: context.WithoutCancel(ctx), sync: s, rep: rep, observers: obs, chunk: chunk, redact: redact, warned: map[string]bool{}}
}

func (r *recorder) read(n int) {
	r.mu.Lock()
	r.rep.Read += int64(n)
	r.mu.Unlock()
}

func (r *recorder) add(o Outcome) {
	o.Sync = r.sync.Name
	if o.Key == "" && o.Record != nil {
		o.Key = o.Record.Key
	}
	if o.Key == "" {
		o.Key = "row " + strconv.FormatInt(o.Seq, 10)
	}
	if o.Kind != RowFailed {
		// A plan's unchanged record keeps fields back as its write would.
		r.rep.KeptBack += int64(len(o.KeptBack))
		for _, f := range o.KeptBack {
			if r.rep.KeptBackFields == nil {
				r.rep.KeptBackFields = map[string]int64{}
			}
			r.rep.KeptBackFields[f]++
		}
		r.rep.KeptEdits += int64(len(o.KeptEdits))
		if len(o.KeptEdits) > 0 && len(r.rep.KeptEditRows) < MaxFailedRowsInReport {
			r.rep.KeptEditRows = append(r.rep.KeptEditRows, o)
		}
	}
	if len(o.Altered) > 0 {
		// A copy: the values leave the process, the sink's result does not.
		alt := make([]sink.FieldChange, len(o.Altered))
		for i, a := range r.exclude.ScrubChanges(o.Altered) {
			alt[i] = sink.FieldChange{Field: a.Field, From: r.redact(a.From), To: r.redact(a.To)}
		}
		o.Altered = alt
		r.rep.Altered++
		if o.Kind == Written && len(r.rep.AlteredRows) < MaxAlteredRowsInReport {
			r.rep.AlteredRows = append(r.rep.AlteredRows, o)
		}
	}
	switch o.Kind {
	case Written:
		if o.Created {
			r.rep.Created++
		} else {
			r.rep.Updated++
		}
		if o.Deleted {
			r.rep.Deleted++
		}
	case RowFailed:
		r.rep.Failed++
		if o.Err != nil {
			o.Err.Message = r.redact(r.exclude.Scrub(o.Err.Message, o.Record))
		}
		if len(r.rep.FailedRows) < MaxFailedRowsInReport {
			r.rep.FailedRows = append(r.rep.FailedRows, o)
		}
	case RowSkipped:
		r.rep.Skipped++
		if o.Reason == sink.SkipUnchanged {
			r.rep.Unchanged++
		}
		o.Detail = r.redact(o.Detail)
		if r.rep.SkipReasons == nil {
			r.rep.SkipReasons = map[sink.SkipCode]int64{}
		}
		r.rep.SkipReasons[o.Reason]++
	}
	if len(r.observers) > 0 {
		r.pending = append(r.pending, o)
		if len(r.pending) >= r.chunk {
			r.flushLocked()
		}
	}
}

// skipWhy is why rows were not written: a code and words for people.
type skipWhy struct {
	code   sink.SkipCode
	detail string
}

// notSent is why rows that never reached the sink were not written.
func notSent(detail string) skipWhy { return skipWhy{sink.SkipNotSent, detail} }

func (r *recorder) skip(seq int64, key string, why skipWhy, rec *sink.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.add(Outcome{Seq: seq, Key: key, Kind: RowSkipped, Reason: why.code, Detail: why.detail, Record: rec})
}

func (r *recorder) fail(seq int64, key, code, msg string, rec *sink.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.add(Outcome{Seq: seq, Key: key, Kind: RowFailed, Err: &sink.RecordError{Code: code, Message: msg}, Record: rec})
}

func (r *recorder) skipAll(recs []sink.Record, why skipWhy) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range recs {
		r.add(Outcome{Seq: recs[i].Seq, Kind: RowSkipped, Reason: why.code, Detail: why.detail, Record: &recs[i]})
	}
}

func (r *recorder) failAll(recs []sink.Record, code, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range recs {
		r.add(Outcome{Seq: recs[i].Seq, Kind: RowFailed, Err: &sink.RecordError{Code: code, Message: msg}, Record: &recs[i]})
	}
}

func (r *recorder) results(recs []sink.Record, res []sink.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range recs {
		x := res[i]
		o := Outcome{Seq: recs[i].Seq, ID: x.ID, Created: x.Created, Deleted: x.Deleted, KeptBack: x.KeptBack, KeptEdits: x.KeptEdits, Altered: x.Altered, Prior: x.Prior, Record: &recs[i]}
		switch {
		case x.Err != nil:
			o.Kind = RowFailed
			e := *x.Err
			o.Err = &e
		case x.Skipped != "":
			o.Kind = RowSkipped
			o.Reason, o.Detail = x.Skipped, x.SkipDetail
		default:
			o.Kind = Written
		}
		if len(x.Changes) > 0 && len(r.rep.Changes) < MaxChangesInReport {
			r.rep.Changes = append(r.rep.Changes, PlannedChange{Key: recs[i].Key, ID: x.ID, Create: x.Created, Fields: r.scrubChanges(x.Changes)})
		}
		r.add(o)
	}
}

// scrubChanges returns a copy of a plan's field changes that may leave the
// process: an excluded field's values replaced, the others redacted.
func (r *recorder) scrubChanges(changes []sink.FieldChange) []sink.FieldChange {
	out := make([]sink.FieldChange, len(changes))
	for i, c := range changes {
		if r.exclude.Has(c.Field) {
			c.From, c.To = excludedValue(c.From), excludedValue(c.To)
		} else {
			c.From, c.To = r.redact(c.From), r.redact(c.To)
		}
		out[i] = c
	}
	return out
}

// excludedValue hides a value but not whether there is one: "(empty) →
// [EXCLUDED]" still says the field would be filled.
func excludedValue(v string) string {
	if v == "" {
		return ""
	}
	return Excluded
}

func (r *recorder) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushLocked()
}

func (r *recorder) flushLocked() {
	if len(r.pending) == 0 {
		return
	}
	outs := r.pending
	r.pending = nil
	// Queued under the lock, so that chunks keep their order; the lock is
	// held while waiting only when the queue is full, which is the
	// backpressure the queue's bound gives.
	r.drain.put(drainJob{rows: len(outs), do: func(ctx context.Context, d *drain) {
		for _, o := range r.observers {
			// A broken observer costs a warning, never an outcome or the process.
			if err := safeCall(func() error { return o.Outcomes(ctx, r.sync, outs) }); err != nil {
				d.warn(firstLine(err.Error()), false)
			}
		}
	}})
}

// close hands over the last outcomes, waits for the drain (see
// drain.close) and adds what it reported to the report.
func (r *recorder) close() {
	r.flush()
	warnings, failed := r.drain.close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range warnings {
		r.warnLocked(w)
	}
	if failed {
		r.rep.WritebackFailed = true
	}
}

// firstLine keeps a warning to its first line: a panic's stack does not
// belong in a report.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// warn adds a warning to the report once per message, up to 10.
func (r *recorder) warn(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnLocked(msg)
}

// warnLocked adds a warning to the report once per message, up to 10.
func (r *recorder) warnLocked(msg string) {
	msg = r.redact(msg)
	if !r.warned[msg] && len(r.warned) < 10 {
		r.warned[msg] = true
		r.rep.Warnings = append(r.rep.Warnings, msg)
	}
}

// writebackFailed records a failure to read or write the warehouse state:
// a warning, and the report's WritebackFailed.
func (r *recorder) writebackFailed(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.WritebackFailed = true
	r.warnLocked(msg)
}

// unchangedNotRead counts rows the warehouse found unchanged and kept.
func (r *recorder) unchangedNotRead(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Unchanged += n
	r.rep.UnchangedNotRead += n
}
