package reverseetl

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
)

// StateLister is optionally implemented by a StateStore that serves
// on_removed: it lists a sync's state and forgets keys.
type StateLister interface {
	// StateRows calls fn with every state row of sync.
	StateRows(ctx context.Context, sync string, fn func(StateRow) error) error
	// ForgetState removes the state of keys of sync.
	ForgetState(ctx context.Context, sync string, keys []string) error
}

// RemovedPushdown is optionally implemented by a StatePushdown: it lists,
// in the warehouse, the state rows of q.Sync whose keys q.Query no longer
// returns. on_removed needs it when the warehouse compares, since the keys
// of unchanged rows never reach retl then. It returns false when it cannot
// run there.
type RemovedPushdown interface {
	RemovedRows(ctx context.Context, q ChangeQuery) ([]StateRow, bool, error)
}

// RemovedReport is what on_removed did: records the sync wrote in earlier
// runs whose keys its query no longer returns. They are not rows read,
// and are counted here, apart from the rows' outcomes.
type RemovedReport struct {
	// Action is delete or set.
	Action string `json:"action"`
	// Found counts the records the state knows and the query no longer
	// returns.
	Found int64 `json:"found"`
	// Done counts the records deleted, or updated with set (in a plan: that
	// would be).
	Done int64 `json:"done"`
	// Failed counts the records Salesforce refused to remove.
	Failed int64 `json:"failed"`
	// Skipped counts the records already gone, or with no id in the state.
	Skipped int64 `json:"skipped"`
	// FailedRows holds the first MaxFailedRowsInReport failures.
	FailedRows []Outcome `json:"failed_rows,omitempty"`
}

// Skip reason of a removed key whose state holds no destination id.
const reasonNoID = "no destination id in the state"

// seeKeys notes the keys a batch's rows carry, for on_removed.
func (c *changeStage) seeKeys(keys []string) {
	if c == nil || c.seen == nil {
		return
	}
	for _, k := range keys {
		if k != "" {
			c.seen[k] = struct{}{}
		}
	}
}

// removed lists the state rows whose keys this run's query did not
// return: in the warehouse when it compares, otherwise from the state,
// leaving out the keys seen. Keeping the seen keys costs memory for every
// row of the query (the key and a map entry, some tens of bytes).
func (c *changeStage) removed(ctx context.Context) ([]StateRow, error) {
	if c.pushdown {
		rp, ok := c.store.(RemovedPushdown)
		if !ok {
			return nil, errors.New("the warehouse state cannot list removed keys")
		}
		rows, ok, err := rp.RemovedRows(ctx, ChangeQuery{Sync: c.sync, Connection: c.connection, Query: c.query,
			KeyColumn: c.keyCol, Fingerprint: c.fp, Full: c.full})
		if err == nil && !ok {
			err = errors.New("the warehouse state cannot list removed keys for this source")
		}
		return rows, err
	}
	sl, ok := c.store.(StateLister)
	if !ok {
		return nil, errors.New("the state store cannot list a sync's keys")
	}
	var out []StateRow
	err := sl.StateRows(ctx, c.sync, func(r StateRow) error {
		if _, ok := c.seen[r.Key]; !ok {
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// removeStale carries out the sync's on_removed once every row has its
// outcome and the source was read to its end: the sink removes the
// records whose keys the query no longer returns, and their state is
// forgotten. A plan asks the sink what it would do.
func (e *Engine) removeStale(ctx context.Context, s *config.Sync, k sink.Sink, cd *changeStage, rec *recorder, rep *SyncReport) error {
	o := s.OnRemoved
	if o == nil {
		return nil
	}
	rm, ok := k.(sink.Remover)
	switch {
	case !ok:
		return fmt.Errorf("on_removed: destination type %q cannot remove records", s.Destination.Type)
	case cd == nil:
		return errors.New("on_removed needs change_detection")
	}
	rows, err := cd.removed(ctx)
	if err != nil {
		return fmt.Errorf("on_removed: listing the records the query no longer returns: %w", err)
	}
	rr := &RemovedReport{Action: "delete", Found: int64(len(rows))}
	var set *sink.Record
	if !o.Delete {
		rr.Action = "set"
		set = setRecord(o)
	}
	rep.Removed = rr
	var ids, keys, forget []string
	var outs []Outcome // for the observers that record on_removed
	for _, r := range rows {
		if r.ID == "" {
			rr.Skipped++
			forget = append(forget, r.Key)
			outs = append(outs, Outcome{Sync: s.Name, Seq: int64(len(outs) + 1), Key: r.Key, Kind: RowSkipped, Reason: reasonNoID})
			continue
		}
		ids = append(ids, r.ID)
		keys = append(keys, r.Key)
	}
	var res []sink.Result
	if len(ids) > 0 {
		if err := safeCall(func() error {
			res, err = rm.Remove(ctx, sink.Removal{IDs: ids, Set: set, Plan: cd.plan})
			return err
		}); err != nil {
			return fmt.Errorf("on_removed: %w", err)
		}
		if len(res) != len(ids) {
			return fmt.Errorf("on_removed: the sink returned %d results for %d records", len(res), len(ids))
		}
	}
	for i, x := range res {
		o := Outcome{Sync: s.Name, Seq: int64(len(outs) + 1), Key: keys[i], ID: ids[i]}
		switch {
		case x.Err != nil:
			rr.Failed++
			e := *x.Err
			e.Message = rec.redact(e.Message)
			o.Kind, o.Err = RowFailed, &e
			if len(rr.FailedRows) < MaxFailedRowsInReport {
				rr.FailedRows = append(rr.FailedRows, o)
			}
		case x.Skipped != "":
			rr.Skipped++
			forget = append(forget, keys[i])
			o.Kind, o.Reason = RowSkipped, x.Skipped
		default:
			rr.Done++
			forget = append(forget, keys[i])
			o.Kind = Written
		}
		outs = append(outs, o)
	}
	if !cd.plan {
		rec.removed(rr.Action, outs)
	}
	if len(forget) > 0 && !cd.plan {
		// The destination no longer holds them as the sync wrote them; a
		// key that comes back is sent as new.
		err := errors.New("the state store cannot forget keys")
		if sl, ok := cd.store.(StateLister); ok {
			err = sl.ForgetState(context.WithoutCancel(ctx), s.Name, forget)
		}
		if err != nil {
			rec.writebackFailed("on_removed: forgetting the state of removed records: " + err.Error() + " (the next run tries them again)")
		}
	}
	if msg := overLimit(s, &SyncReport{Read: rr.Found, Failed: rr.Failed}); msg != "" {
		return fmt.Errorf("on_removed: %s", msg)
	}
	return nil
}

// setRecord is on_removed's set as a record: each constant as the kind of
// value it is.
func setRecord(o *config.OnRemoved) *sink.Record {
	fields := make([]string, len(o.Set))
	vals := make([]sink.Value, len(o.Set))
	for i, f := range o.Set {
		fields[i] = f.Field
		switch v := f.Value.(type) {
		case nil:
			vals[i] = sink.NullValue()
		case bool:
			vals[i] = sink.BoolValue(v)
		case string:
			vals[i] = sink.TextValue(v)
		case int64:
			vals[i] = sink.NumberValue(strconv.FormatInt(v, 10))
		case uint64:
			vals[i] = sink.NumberValue(strconv.FormatUint(v, 10))
		case float64:
			vals[i] = sink.NumberValue(strconv.FormatFloat(v, 'f', -1, 64))
		default:
			vals[i] = sink.TextValue(fmt.Sprint(v))
		}
	}
	return &sink.Record{Layout: sink.NewLayout(fields, nil), Values: vals}
}
