package salesforce

import (
	"context"
	"fmt"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
)

var _ sink.Remover = (*Sink)(nil)

// ReasonAlreadyDeleted is the skip reason of a record on_removed acts on
// that Salesforce no longer has.
const ReasonAlreadyDeleted = "already deleted"

// Remove implements sink.Remover for a sync's on_removed: it deletes the
// records with the given Ids, or updates each with r.Set, through the
// sync's api (auto: REST below auto_threshold records). max_deletes
// applies to the whole list before anything is done. A record Salesforce
// no longer has (ENTITY_IS_DELETED, INVALID_CROSS_REFERENCE_KEY) is
// skipped "already deleted".
func (s *Sink) Remove(ctx context.Context, r sink.Removal) ([]sink.Result, error) {
	if len(r.IDs) == 0 {
		return []sink.Result{}, nil
	}
	ctx = withCallCounter(ctx, &s.calls)
	if err := s.checkDeletes(ctx, len(r.IDs), "on_removed would act on", "nothing was removed"); err != nil {
		return nil, fmt.Errorf("salesforce: %w", err)
	}
	d := Destination{Object: s.dest.Object, Operation: config.Delete, Options: s.dest.Options}
	d.Options.GroupBy, d.Options.MaxDeletes = "", DeleteLimit{}
	fields := []string{"Id"}
	var set []sink.Value
	if r.Set != nil {
		d.Operation = config.Update
		fields = append(fields, r.Set.Layout.Fields...)
		set = r.Set.Values
	}
	// The sync's destination was checked, and this one differs only in
	// its operation and in keys the removal does not use.
	sub := newSink(s.c, d)
	s.x.mu.Lock()
	s.x.removal = sub
	s.x.mu.Unlock()
	// Picks the API for auto; without max_deletes it refuses nothing.
	_ = sub.Hint(ctx, sink.Hint{Records: len(r.IDs), Final: true})
	layout := sink.NewLayout(fields, nil)
	recs := make([]sink.Record, len(r.IDs))
	for i, id := range r.IDs {
		vals := make([]sink.Value, 0, len(fields))
		vals = append(append(vals, sink.TextValue(id)), set...)
		recs[i] = sink.Record{Seq: int64(i + 1), Key: id, Layout: layout, Values: vals}
	}
	var res []sink.Result
	var err error
	if r.Plan {
		res, err = sub.Plan(ctx, recs)
	} else {
		res, err = sub.Write(ctx, recs)
	}
	if err != nil {
		return nil, err
	}
	for i := range res {
		if res[i].Skipped == ReasonStopped {
			// A removal's skip means "gone", and its state is then
			// forgotten: a stopped removal is an error, so the next run
			// tries the records again.
			return nil, fmt.Errorf("salesforce: on_removed stopped before every record was removed: %w", context.Cause(ctx))
		}
	}
	for i := range res {
		if e := res[i].Err; e != nil && (e.Code == "ENTITY_IS_DELETED" || e.Code == "INVALID_CROSS_REFERENCE_KEY") {
			res[i] = sink.Result{ID: r.IDs[i], Skipped: ReasonAlreadyDeleted}
		}
	}
	return res, nil
}
