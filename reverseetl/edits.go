package reverseetl

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
)

// keep_human_edits: the sink tracks fields (sink.Tracker) and names, in
// each result, a token of the value it wrote to each (Result.Wrote). The
// state keeps them with the record's row (StateRow.Fields). Before a
// record is sent again, its stored tokens become the record's Expect, and
// the sink keeps back each field whose current value is not the one
// expected (Result.KeptEdits). Only the records change detection sends
// are read, one look-up per write.

// FieldStateStore is optionally implemented by a StateStore that keeps
// StateRow.Fields: the tokens of the values the destination holds for the
// fields a sink tracks.
type FieldStateStore interface {
	// StoredFields returns the stored tokens of keys of a sync, by key and
	// field. A key with none is absent from the map.
	StoredFields(ctx context.Context, sync string, keys []string) (map[string]map[string]string, error)
}

// ReasonKeptEdit is why a field of Outcome.KeptEdits was not sent.
const ReasonKeptEdit = "edited in Salesforce since retl wrote it"

// CodeEditState fails a record whose stored tokens could not be read:
// sent without them, it could overwrite a person's edit.
const CodeEditState = "RETL_EDIT_STATE"

// editTracking is keep_human_edits' part of a sync's change detection.
type editTracking struct {
	tracker sink.Tracker
	store   FieldStateStore
	// tracks caches the tracked fields by layout; old holds, by Seq, the
	// tokens stored for a record sent and not yet answered. Both under
	// changeStage.mu.
	tracks map[*sink.Layout][]bool
	old    map[int64]map[string]string
	// fresh holds the records whose key the state does not hold: they have
	// no tokens either, and are not looked up.
	fresh map[int64]bool
}

// trackEdits sets up keep_human_edits for a sync when its sink tracks
// fields of its layout: it needs change detection, whose state keeps the
// tokens, and a state that can keep them. A mapping entry that asks for
// it from a sink that tracks nothing is an error.
func (e *Engine) trackEdits(s *config.Sync, sk sink.Sink, layout *sink.Layout, c *changeStage) error {
	asked := false
	for _, m := range s.Mapping {
		if m != nil && m.KeepHumanEdits != nil && *m.KeepHumanEdits {
			asked = true
		}
	}
	tr, ok := sk.(sink.Tracker)
	var track []bool
	if ok && layout != nil {
		track = tr.Tracks(layout)
	}
	if track == nil {
		if asked {
			return fmt.Errorf("keep_human_edits: destination type %q does not keep edits for this sync (update and upsert only)", s.Destination.Type)
		}
		return nil
	}
	if c == nil {
		return errors.New("keep_human_edits needs change_detection: its state keeps what retl last wrote to each field")
	}
	fs, ok := c.store.(FieldStateStore)
	if !ok {
		return errors.New("keep_human_edits: the warehouse state cannot keep what retl last wrote to each field")
	}
	c.edits = &editTracking{tracker: tr, store: fs, tracks: map[*sink.Layout][]bool{layout: track}, old: map[int64]map[string]string{},
		fresh: map[int64]bool{}}
	return nil
}

// expect returns the records with the tokens the state holds for them as
// their Expect, copied where given. Each record's stored tokens are kept
// until its result is known (accepted).
func (c *changeStage) expect(ctx context.Context, recs []sink.Record) ([]sink.Record, error) {
	ed := c.edits
	keyOf := make([]string, len(recs))
	var keys []string
	seen := map[string]bool{}
	c.mu.Lock()
	for i := range recs {
		if ed.fresh[recs[i].Seq] {
			delete(ed.fresh, recs[i].Seq)
			continue
		}
		if st, ok := c.pending[recs[i].Seq]; ok && st.Key != "" {
			keyOf[i] = st.Key
			if !seen[st.Key] {
				seen[st.Key] = true
				keys = append(keys, st.Key)
			}
		}
	}
	c.mu.Unlock()
	if len(keys) == 0 {
		return recs, nil
	}
	stored, err := ed.store.StoredFields(ctx, c.sync, keys)
	if err != nil {
		return nil, err
	}
	out := recs
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range recs {
		tokens := stored[keyOf[i]]
		if keyOf[i] == "" || len(tokens) == 0 {
			continue
		}
		if !c.plan {
			ed.old[recs[i].Seq] = tokens
		}
		l := recs[i].Layout
		track, ok := ed.tracks[l]
		if !ok {
			track = ed.tracker.Tracks(l)
			ed.tracks[l] = track
		}
		var exp []string
		for j, on := range track {
			if !on || j >= len(l.Fields) || tokens[l.Fields[j]] == "" {
				continue
			}
			if exp == nil {
				exp = make([]string, len(l.Fields))
			}
			exp[j] = tokens[l.Fields[j]]
		}
		if exp == nil {
			continue
		}
		if &out[0] == &recs[0] {
			out = append([]sink.Record(nil), recs...)
		}
		out[i].Expect = exp
	}
	return out, nil
}

// noteFresh marks a record whose key the state was read for and does not
// hold: expect need not look it up.
func (c *changeStage) noteFresh(seq int64) {
	if c.edits == nil {
		return
	}
	c.mu.Lock()
	c.edits.fresh[seq] = true
	c.mu.Unlock()
}

// editStateFailed is the result of every record when the stored tokens
// could not be read: none is sent.
func editStateFailed(n int, err error) []sink.Result {
	res := make([]sink.Result, n)
	for i := range res {
		res[i].Err = &sink.RecordError{Code: CodeEditState,
			Message: "not sent: reading what retl last wrote to its fields (keep_human_edits) failed: " + err.Error()}
	}
	return res
}

// fields returns the tokens to store for a record written: those stored
// before, with the ones the write gave in their place. Called under
// changeStage.mu; it forgets the record's stored tokens.
func (ed *editTracking) fields(r *sink.Record, wrote []string) map[string]string {
	old := ed.old[r.Seq]
	delete(ed.old, r.Seq)
	var out map[string]string
	for j, tok := range wrote {
		if tok == "" || j >= len(r.Layout.Fields) {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(old)+len(wrote))
			maps.Copy(out, old)
		}
		out[r.Layout.Fields[j]] = tok
	}
	if out == nil {
		return old
	}
	return out
}
