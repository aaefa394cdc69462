package salesforce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/retl-go/retl/sink"
)

// Destination is what a sink writes: the object, the operation and its key,
// and the tuning options of the destination section.
type Destination struct {
	Object    string
	Operation Operation
	// ExternalID is the upsert key field.
	ExternalID string
	// MatchOn, for update, delete and hard_delete, names the field whose
	// value finds each record's Id, instead of an Id in the records.
	MatchOn string
	Options Options
}

// sfSink writes records to one Salesforce object through the Bulk API 2.0 or
// sObject Collections. It implements sink.sfSink and the optional
// sink.Batching, sink.Hinter, sink.Preflighter and sink.Stats.
type sfSink struct {
	c    *apiClient
	dest Destination
	log  *slog.Logger

	jobSlots  chan struct{} // bounds Bulk jobs in flight
	restSlots chan struct{} // bounds REST calls in flight
	calls     atomic.Int64

	mu   sync.Mutex
	api  string // bulk or rest, once decided
	jobs []string
	// assignID is the assignment rule Bulk jobs name, once resolved.
	assignID string
	// trunc counts the values truncate: true cut.
	trunc truncStats

	x extras
	// scr is what Screen keeps across a sync's batches.
	scr screenState
	// gj is how set_if_empty reads current values (see guardjob.go).
	gj jobGate[filledSet]
	// dj is how only_if_different reads them (see diffjob.go).
	dj jobGate[heldSet]
	// vf counts what verify read back (see verify.go).
	vf verifyStats
}

var (
	_ sink.Sink        = (*sfSink)(nil)
	_ sink.Batching    = (*sfSink)(nil)
	_ sink.Hinter      = (*sfSink)(nil)
	_ sink.Preflighter = (*sfSink)(nil)
	_ sink.Stats       = (*sfSink)(nil)
	_ sink.Counter     = (*sfSink)(nil)
	_ sink.Warner      = (*sfSink)(nil)
)

// buildSink returns a sink writing through c. It does no I/O.
func buildSink(c *apiClient, d Destination) (*sfSink, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	return newSink(c, d), nil
}

// newSink builds a sink for a checked destination.
func newSink(c *apiClient, d Destination) *sfSink {
	s := &sfSink{
		c: c, dest: d, log: c.log,
		jobSlots:  make(chan struct{}, d.Options.MaxJobsInFlight),
		restSlots: make(chan struct{}, d.Options.RESTConcurrency),
	}
	switch {
	case d.Operation == HardDelete, d.upsertByID():
		// REST has no hard delete, and upserts by external ids only.
		s.api = APIBulk
	case d.Options.API != APIAuto:
		s.api = d.Options.API
	}
	return s
}

func (d *Destination) check() error {
	if !identRe.MatchString(d.Object) {
		return keyErrorf("object", "object %q is not an object name", d.Object)
	}
	switch d.Operation {
	case Insert, Update, Delete, HardDelete:
	case Upsert:
		if d.ExternalID == "" {
			return keyErrorf("match_on", "missing required key: upsert finds records by match_on, an external id field (or Id)")
		}
		if !identRe.MatchString(d.ExternalID) {
			return keyErrorf("match_on", "match_on %q is not a field name", d.ExternalID)
		}
		if d.upsertByID() && d.Options.API == APIREST {
			// REST upserts by external id fields only ("upsert uses
			// external ids, not record ids"; Collections: "Don't use
			// record ids"); Bulk API 2.0 upserts "based on an ID".
			return keyErrorf("api", "upsert on Id goes through the Bulk API only: Salesforce's REST API upserts by external id fields, not record Ids; "+
				"use api: bulk (or auto, which then always uses Bulk), or operation: update")
		}
	case "":
		return keyErrorf("operation", "missing required key: insert, update, upsert, delete or hard_delete")
	default:
		return keyErrorf("operation", "operation %q: must be one of insert, update, upsert, delete, hard_delete", d.Operation)
	}
	if err := d.checkMatch(); err != nil {
		return err
	}
	if err := d.checkVerify(); err != nil {
		return err
	}
	if d.Options.OnlyIfDifferent && d.Operation != Update && d.Operation != Upsert {
		// An insert has no current record to compare with, and a delete
		// sends no values.
		return keyErrorf("only_if_different", "only_if_different compares with the current record: it applies to update and upsert, not %s", d.Operation)
	}
	if d.Options.KeepHumanEdits && d.Operation != Update && d.Operation != Upsert {
		// An insert makes a record nobody edited yet, and a delete sends
		// no values.
		return keyErrorf("keep_human_edits", "keep_human_edits compares with the current record: it applies to update and upsert, not %s", d.Operation)
	}
	if d.Options.KeepPriorValues && d.Operation != Update && d.Operation != Upsert {
		// An insert changes no value a record held, and a delete keeps
		// the record in the Recycle Bin.
		return keyErrorf("keep_prior_values", "keep_prior_values keeps what an update changed: it applies to update and upsert, not %s", d.Operation)
	}
	if err := d.Options.normalize(); err != nil {
		return err
	}
	var err error
	if d.Options.OnDuplicateKey, err = checkDuplicateOption(d.Options.OnDuplicateKey, d.Operation); err != nil {
		return err
	}
	return d.checkAssignment()
}

// upsertByID reports an upsert keyed on the record Id, which only the Bulk
// API takes. A row without an Id fails (RETL_MISSING_KEY) as for any
// upsert: it would create a new record on every run.
func (d *Destination) upsertByID() bool {
	return d.Operation == Upsert && strings.EqualFold(d.ExternalID, "Id")
}

// keyField is the field that identifies a record for the operation, or "".
func (d *Destination) keyField() string {
	switch d.Operation {
	case Update, Delete, HardDelete:
		return "Id"
	case Upsert:
		return d.ExternalID
	}
	return ""
}

// Batching asks for Bulk-sized batches and one Write per job slot. With
// api: rest it asks for one round of parallel calls per Write, so records
// stream instead of gathering. With api: auto it answers for Bulk: the
// Engine asks before its Hint, and auto picks REST only for a load that
// fits in one batch anyway.
func (s *sfSink) Batching() (maxRecords, concurrency int) {
	if s.dest.Options.API == APIREST && s.chosenAPI() == APIREST {
		return restBatch * s.dest.Options.RESTConcurrency, s.writeConcurrency(2)
	}
	if s.dest.Options.GroupBy != "" {
		return s.groupedBatch(), 1
	}
	return s.dest.Options.BulkBatchSize, s.writeConcurrency(s.dest.Options.MaxJobsInFlight)
}

// Hint decides the API for api: auto: REST when all records are known to
// be fewer than auto_threshold, Bulk otherwise. For bulk or rest it does
// nothing. For a delete with max_deletes (see CountFirst) it applies the
// limit to the total first.
func (s *sfSink) Hint(ctx context.Context, h sink.Hint) error {
	if s.CountFirst() && h.Final {
		if err := s.checkDeletes(withCallCounter(ctx, &s.calls), h.Records, "the sync would delete", "nothing was deleted"); err != nil {
			return errorf("%w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.api != "" {
		return nil
	}
	if h.Final && h.Records < s.dest.Options.AutoThreshold {
		s.api = APIREST
	} else {
		s.api = APIBulk
	}
	return nil
}

func (s *sfSink) chosenAPI() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.api == "" {
		// auto without a hint: the size is unknown, so plan for a large load.
		s.api = APIBulk
	}
	return s.api
}

// Stats reports the API used, the Bulk job ids and the number of API calls.
func (s *sfSink) Stats() sink.Statistics {
	s.mu.Lock()
	defer s.mu.Unlock()
	api := s.api
	if api == "" {
		api = APIBulk
	}
	st := &sink.Statistics{API: api, Jobs: append([]string{}, s.jobs...), Calls: s.calls.Load()}
	s.extraStats(st)
	s.truncStats(st)
	s.verifyStatsTo(st)
	return *st
}

func (s *sfSink) addJob(id string) {
	s.mu.Lock()
	s.jobs = append(s.jobs, id)
	s.mu.Unlock()
}

// Close releases idle connections; the client itself may be shared and is
// closed by its owner.
func (s *sfSink) Close(context.Context) error {
	s.c.http.CloseIdleConnections()
	return nil
}

// Write writes records and returns one result per record in input order.
// A record Salesforce rejects, or whose request failed after retries, has
// a Result with Err; Write itself fails only when the context ends or the
// login fails.
func (s *sfSink) Write(ctx context.Context, records []sink.Record) ([]sink.Result, error) {
	if len(records) == 0 {
		return []sink.Result{}, nil
	}
	if ctx.Err() != nil {
		// Stopped before anything was sent: known not written.
		return stoppedResults(len(records)), nil
	}
	ctx = withBudget(withCallCounter(ctx, &s.calls), s.budget())
	// Records normally share one layout and are written as they come,
	// without copies; otherwise each layout is written on its own, since
	// a Bulk job has one header.
	if sameLayout(records) {
		res, err := s.writeGroup(ctx, records)
		return s.markDeleted(res), err
	}
	results := make([]sink.Result, len(records))
	for _, g := range groupByLayout(records) {
		part := make([]sink.Record, len(g))
		for i, idx := range g {
			part[i] = records[idx]
		}
		res, err := s.writeGroup(ctx, part)
		if err != nil {
			return nil, err
		}
		for i, idx := range g {
			results[idx] = res[i]
		}
	}
	return s.markDeleted(results), nil
}

// markDeleted says, in a delete sync's results, which records the write
// deleted.
func (s *sfSink) markDeleted(res []sink.Result) []sink.Result {
	if s.dest.Operation != Delete && s.dest.Operation != HardDelete {
		return res
	}
	for i := range res {
		if res[i].Err == nil && res[i].Skipped == "" {
			res[i].Deleted = true
		}
	}
	return res
}

var _ sink.Describer = (*sfSink)(nil)

// Describe says what the sink's writes do.
func (s *sfSink) Describe() sink.Description {
	d := &s.dest
	id := string(d.Operation) + " " + d.Object
	switch {
	case d.Operation == Upsert:
		id += " by " + d.ExternalID
	case d.matching():
		id += " by " + d.MatchOn
	}
	return sink.Description{Label: string(d.Operation) + " " + d.Object, Identity: id,
		KeyField: d.matchField(), CreatesOnly: d.Operation == Insert}
}

func sameLayout(records []sink.Record) bool {
	for i := range records {
		if records[i].Layout != records[0].Layout {
			return false
		}
	}
	return true
}

func groupByLayout(records []sink.Record) [][]int {
	var groups [][]int
	pos := map[*sink.Layout]int{}
	for i := range records {
		l := records[i].Layout
		g, ok := pos[l]
		if !ok {
			g = len(groups)
			pos[l] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

func (s *sfSink) writeGroup(ctx context.Context, records []sink.Record) ([]sink.Result, error) {
	layout := records[0].Layout
	if layout == nil {
		return nil, newError("write: record without a layout")
	}
	if s.dest.matching() && !s.isResolved(layout) {
		res, err := s.viaMatch(ctx, records, s.writeGroup, func(err error) error { return s.writeErr(ctx, err) })
		if err != nil && ctx.Err() != nil && !errors.Is(err, ErrLogin) {
			// Stopped while finding the records: none was sent.
			return stoppedResults(len(records)), nil
		}
		return res, err
	}
	var kept, edited [][]string
	var same []bool
	var ids []string
	var err error
	track := s.Tracks(layout)
	sent := records
	if s.differs() || expects(records, track) {
		records, kept, edited, same, ids, err = s.differ(ctx, layout, records, track)
	} else {
		records, kept, err = s.guard(ctx, layout, records)
	}
	var prior [][]sink.PriorValue
	if err == nil && s.keepsPriors() {
		// After the fields withheld are Absent: only what is sent changes.
		prior, err = s.priors(ctx, layout, records)
	}
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ErrLogin) {
			return stoppedResults(len(records)), nil
		}
		return nil, s.writeErr(ctx, err)
	}
	res, err := s.sendChanged(ctx, layout, records, same, ids)
	if err != nil {
		return nil, s.writeErr(ctx, err)
	}
	for i := range prior {
		if len(prior[i]) > 0 && res[i].Err == nil && res[i].Skipped == "" && !res[i].Created {
			res[i].Prior = prior[i]
		}
	}
	s.resolveInserts(ctx, layout, records, res)
	s.verifyAfterWrite(ctx, layout, records, res)
	for i := range kept {
		if len(kept[i]) > 0 && res[i].Err == nil {
			res[i].KeptBack = kept[i]
		}
	}
	for i := range edited {
		if len(edited[i]) > 0 && res[i].Err == nil {
			res[i].KeptEdits = edited[i]
		}
	}
	if track != nil {
		if err := s.noteWrote(ctx, layout, track, sent, kept, edited, res); err != nil {
			return nil, s.writeErr(ctx, err)
		}
	}
	for i := range res {
		if e := res[i].Err; e != nil {
			e.Message = clipMessage(e.Message)
		}
	}
	return res, nil
}

// differs reports whether only_if_different applies: to updates and
// upserts, the operations that change existing records.
func (s *sfSink) differs() bool {
	return s.dest.Options.OnlyIfDifferent && (s.dest.Operation == Update || s.dest.Operation == Upsert)
}

// sendChanged writes the records not marked same, and answers those with
// Skipped sink.SkipUnchanged and their Id, in input order.
func (s *sfSink) sendChanged(ctx context.Context, layout *sink.Layout, records []sink.Record, same []bool, ids []string) ([]sink.Result, error) {
	if same == nil {
		return s.send(ctx, layout, records)
	}
	var part []sink.Record
	var at []int
	for i := range records {
		if !same[i] {
			part, at = append(part, records[i]), append(at, i)
		}
	}
	res := make([]sink.Result, len(records))
	for i := range records {
		if same[i] {
			res[i] = sink.Result{ID: ids[i], Skipped: sink.SkipUnchanged, SkipDetail: unchangedDetail}
		}
	}
	if len(part) == 0 {
		return res, nil
	}
	sent, err := s.send(ctx, layout, part)
	if err != nil {
		return nil, err
	}
	for k, i := range at {
		res[i] = sent[k]
	}
	return res, nil
}

// send writes records through the API chosen for them.
func (s *sfSink) send(ctx context.Context, layout *sink.Layout, records []sink.Record) ([]sink.Result, error) {
	switch {
	case s.chosenAPI() == APIREST:
		return s.writeREST(ctx, layout, records)
	case s.dest.Operation != HardDelete && !s.dest.upsertByID() && anyNullMarker(records):
		return s.writeSplit(ctx, layout, records)
	default:
		return s.writeBulk(ctx, layout, records)
	}
}

func (s *sfSink) writeErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return errorf("write %s %s: %w", s.dest.Operation, s.dest.Object, err)
}

// requestFailure turns a request's error into the error of each record it carried.
func requestFailure(err error) *sink.RecordError {
	var ae *APIError
	switch {
	case errors.Is(err, ErrAPIBudget):
		return recordErr(CodeAPIBudget, "not sent: %s", unlabelledText(err))
	case errors.Is(err, ErrOutcomeUnknown):
		return recordErr(CodeOutcomeUnknown, "the request was sent but its answer was lost, so the record may or may not have been written; it was not resent (%s)", unlabelledText(err))
	case errors.As(err, &ae):
		re := ae.RecordError()
		return re
	}
	return recordErr(CodeRequestFailed, "%s", unlabelledText(err))
}

// isNullMarker reports whether a text value would read as Bulk's null
// marker: in a Bulk CSV "#N/A" sets the field to null ("Valid CSV Record
// Rows"), so the text itself cannot travel through Bulk.
func isNullMarker(v sink.Value) bool {
	if v.Kind != sink.Text || len(v.S) < 4 {
		return false
	}
	return strings.EqualFold(strings.TrimSpace(v.S), nullCell)
}

func anyNullMarker(records []sink.Record) bool {
	for i := range records {
		for _, v := range records[i].Values {
			if isNullMarker(v) {
				return true
			}
		}
	}
	return false
}

// writeSplit writes through REST the records holding the text "#N/A",
// which Bulk would store as null, and the others through Bulk, so that
// both APIs store the same data. Results keep the input order.
func (s *sfSink) writeSplit(ctx context.Context, layout *sink.Layout, records []sink.Record) ([]sink.Result, error) {
	var bulk, rest []sink.Record
	var bulkAt, restAt []int
	for i := range records {
		marked := false
		for _, v := range records[i].Values {
			if isNullMarker(v) {
				marked = true
				break
			}
		}
		if marked {
			rest, restAt = append(rest, records[i]), append(restAt, i)
		} else {
			bulk, bulkAt = append(bulk, records[i]), append(bulkAt, i)
		}
	}
	s.x.viaREST.Add(int64(len(rest)))
	out := make([]sink.Result, len(records))
	for _, part := range []struct {
		recs  []sink.Record
		at    []int
		write func(context.Context, *sink.Layout, []sink.Record) ([]sink.Result, error)
	}{{bulk, bulkAt, s.writeBulk}, {rest, restAt, s.writeREST}} {
		if len(part.recs) == 0 {
			continue
		}
		res, err := part.write(ctx, layout, part.recs)
		if err != nil {
			return nil, err
		}
		for k, i := range part.at {
			out[i] = res[k]
		}
	}
	return out, nil
}
