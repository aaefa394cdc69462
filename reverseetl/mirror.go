package reverseetl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
// returns (compared as text, as WrapQuery compares them), each marked Held
// when a key the query does return holds the same destination id in the
// state. on_removed needs it when the warehouse compares, since the keys
// of unchanged rows never reach retl then. It returns false when it cannot
// run there.
type RemovedPushdown interface {
	RemovedRows(ctx context.Context, q ChangeQuery) ([]RemovedRow, bool, error)
}

// RemovedRow is a state row whose key a sync's query no longer returns.
type RemovedRow struct {
	StateRow
	// Held says that another key of the sync, one the query still
	// returns, holds the same destination id in the state: the record is
	// still in the query under that key, and only this key's state is
	// stale.
	Held bool
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

// seeKeys notes the keys a batch's rows carry, for on_removed: every key
// of the query when retl compares, the keys of changed rows when the
// Skip reason of a removed key whose state holds no destination id.
const reasonNoID = "no destination id in the state"

// warehouse does.
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

// noteIDs notes the destination ids a write's results name, for
// on_removed: those records are in this run's query.
func (c *changeStage) noteIDs(res []sink.Result) {
	if c.wrote == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range res {
		if r.ID != "" {
			c.wrote[r.ID] = struct{}{}
		}
	}
}

// removed lists the state rows whose keys this run's query did not
// return: in the warehouse when it compares, otherwise from the state,
// leaving out the keys seen. Keeping the seen keys costs memory for every
// row of the query (the key and a map entry, some tens of bytes).
func (c *changeStage) removed(ctx context.Context) ([]RemovedRow, error) {
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
	var out []RemovedRow
	ids := map[string][]int{} // id of removed rows → their indexes in out
	err := sl.StateRows(ctx, c.sync, func(r StateRow) error {
		if _, ok := c.seen[r.Key]; !ok {
			if r.ID != "" {
				ids[r.ID] = append(ids[r.ID], len(out))
			}
			out = append(out, RemovedRow{StateRow: r})
		}
		return nil
	})
	if err != nil || len(ids) == 0 {
		return out, err
	}
	// A second pass marks the removed rows whose id a returned key holds,
	// so that memory stays with the removed rows rather than the state.
	err = sl.StateRows(ctx, c.sync, func(r StateRow) error {
		if _, ok := c.seen[r.Key]; ok {
			for _, i := range ids[r.ID] {
				out[i].Held = true
			}
		}
		return nil
	})
	return out, err
}

// keyFold returns how the sink compares the sync's keys, or nil to compare
// them as they are. State keys are values of the sync's key; they
// compare as the destination compares its match field (sink.KeyFolder)
// only when that column is mapped as it is to that field. A key column
// the destination does not match on keeps two keys that differ only in
// case apart: they are two rows, and may be two records.
func keyFold(s *config.Sync, k sink.Sink) func(string) string {
	kf, ok := k.(sink.KeyFolder)
	if !ok || s.ChangeDetection == nil {
		return nil
	}
	field := describe(k).KeyField
	if field == "" {
		return nil
	}
	for _, m := range s.Mapping {
		if m.Expr == "" && !m.HasValue && m.When == "" && strings.EqualFold(m.From, s.ChangeDetection.Key) && strings.EqualFold(m.To, field) {
			return kf.FoldKey
		}
	}
	return nil
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
	rr := &RemovedReport{Action: "delete"}
	var set *sink.Record
	if !o.Delete {
		rr.Action = "set"
		set = setRecord(o)
	}
	rep.Removed = rr
	fold := keyFold(s, k)
	var folded map[string]struct{}
	if fold != nil {
		folded = make(map[string]struct{}, len(cd.seen))
		for key := range cd.seen {
			folded[fold(key)] = struct{}{}
		}
	}
	var ids, forget []string
	keys := map[string][]string{} // id → the removed keys that hold it
	var outs []Outcome            // for the observers that record on_removed
	for _, r := range rows {
		_, wrote := cd.wrote[r.ID]
		switch {
		case r.ID != "" && (r.Held || wrote):
			// The record is in the query under another key: this key's
			// state is stale, the record stays.
			forget = append(forget, r.Key)
			continue
		case fold != nil:
			if _, ok := folded[fold(r.Key)]; ok {
				// The query returns the key in a form the destination
				// takes for the same record.
				continue
			}
		}
		switch {
		case r.ID == "":
			rr.Found++
			rr.Skipped++
			forget = append(forget, r.Key)
			outs = append(outs, Outcome{Sync: s.Name, Seq: int64(len(outs) + 1), Key: r.Key, Kind: RowSkipped, Reason: sink.SkipNoID, Detail: reasonNoID})
			continue
		case len(keys[r.ID]) == 0:
			// Two keys may hold one record: it is acted on once.
			rr.Found++
			ids = append(ids, r.ID)
		}
		keys[r.ID] = append(keys[r.ID], r.Key)
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
		o := Outcome{Sync: s.Name, Seq: int64(len(outs) + 1), Key: keys[ids[i]][0], ID: ids[i]}
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
			forget = append(forget, keys[ids[i]]...)
			o.Kind, o.Reason, o.Detail = RowSkipped, x.Skipped, x.SkipDetail
		default:
			rr.Done++
			forget = append(forget, keys[ids[i]]...)
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
	if err := overLimit(s, &SyncReport{Read: rr.Found, Failed: rr.Failed}); err != nil {
		return fmt.Errorf("on_removed: %w", err)
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
