package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/retl-go/retl/sink"
)

var _ sink.Remover = (*sfSink)(nil)

// Remove implements sink.Remover for a sync's on_removed: it deletes the
// records with the given Ids, or updates each with r.Set, through the
// sync's api (auto: REST below auto_threshold records). max_deletes
// applies, before anything is done, to the records of the list that
// Salesforce still holds.
//
// A record is skipped already_deleted only when it is gone: Salesforce
// answers ENTITY_IS_DELETED for a record in the Recycle Bin, but
// INVALID_CROSS_REFERENCE_KEY both for a record emptied from it and for
// a record the user cannot reach or a lookup in Set that finds nothing.
// So every record refused with either code is looked up with queryAll: it
// is gone when queryAll does not return it or returns it with IsDeleted.
// Otherwise it keeps Salesforce's error.
func (s *sfSink) Remove(ctx context.Context, r sink.Removal) ([]sink.Result, error) {
	if len(r.IDs) == 0 {
		return []sink.Result{}, nil
	}
	ctx = withCallCounter(ctx, &s.calls)
	if s.dest.Options.MaxDeletes.Set {
		n, err := s.countIDs(ctx, r.IDs)
		if err != nil {
			return nil, errorf("max_deletes: %w", err)
		}
		if err := s.checkDeletes(ctx, n, "on_removed would act on", "nothing was removed"); err != nil {
			return nil, errorf("%w", err)
		}
	}
	d := Destination{Object: s.dest.Object, Operation: Delete, Options: s.dest.Options}
	d.Options.GroupBy, d.Options.MaxDeletes = "", DeleteLimit{}
	// on_removed's outcomes carry no altered fields: verify reads back the
	// sync's own writes only.
	d.Options.Verify = false
	fields := []string{"Id"}
	var set []sink.Value
	if r.Set != nil {
		d.Operation = Update
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
		if res[i].Skipped == sink.SkipNotSent {
			// A removal's skip means "gone", and its state is then
			// forgotten: a stopped removal is an error, so the next run
			// tries the records again.
			return nil, errorf("on_removed stopped before every record was removed: %w", context.Cause(ctx))
		}
	}
	s.markGone(ctx, r.IDs, res)
	return res, nil
}

// mayBeGone reports whether Salesforce's code can mean that the record
// itself no longer exists.
func mayBeGone(e *sink.RecordError) bool {
	return e != nil && (e.Code == "ENTITY_IS_DELETED" || e.Code == "INVALID_CROSS_REFERENCE_KEY")
}

// markGone turns the failures of records that are gone into skips. When
// queryAll cannot say, the records keep their error, with the reason it
// could not: only a record known to be gone counts as gone.
func (s *sfSink) markGone(ctx context.Context, ids []string, res []sink.Result) {
	var check []string
	for i := range res {
		if mayBeGone(res[i].Err) {
			check = append(check, ids[i])
		}
	}
	if len(check) == 0 {
		return
	}
	live, err := s.c.liveIDs(ctx, s.dest.Object, check)
	for i := range res {
		e := res[i].Err
		if !mayBeGone(e) {
			continue
		}
		switch {
		case err != nil:
			e.Message = clipMessage(fmt.Sprintf("%s (whether the record is gone could not be checked: %s)", e.Message, unlabelledText(err)))
		case !live[foldKey(keyID, ids[i])]:
			res[i] = sink.Result{ID: ids[i], Skipped: sink.SkipAlreadyDeleted}
		}
	}
}

// liveIDs returns, of ids, those queryAll finds not deleted, by their
// folded Id (foldKey). queryAll also returns records in the Recycle Bin,
// with IsDeleted true, and no record emptied from it. The Ids go in IN
// lists short enough for a GET; a malformed Id, which would fail the
// whole query, is left out and so not found.
func (c *apiClient) liveIDs(ctx context.Context, object string, ids []string) (map[string]bool, error) {
	if !identRe.MatchString(object) {
		return nil, errorf("%q is not an object name", object)
	}
	var valid []string
	for _, id := range ids {
		if _, ok := planIDShape(id); ok {
			valid = append(valid, id)
		}
	}
	live := map[string]bool{}
	head := "SELECT Id, IsDeleted FROM " + object + " WHERE Id IN ("
	for _, chunk := range chunkLiterals(valid, maxQueryBytes-encodedLen(head)-encodedLen(")")) {
		soql := head + strings.Join(chunk, ", ") + ")"
		next := c.dataPath("queryAll") + "?" + url.Values{"q": {soql}}.Encode()
		for next != "" {
			b, err := c.get(ctx, next)
			if err != nil {
				return nil, errorf("queryAll: %w", err)
			}
			var page struct {
				Done           bool   `json:"done"`
				NextRecordsURL string `json:"nextRecordsUrl"`
				Records        []struct {
					ID        string `json:"Id"`
					IsDeleted bool   `json:"IsDeleted"`
				} `json:"records"`
			}
			if err := json.NewDecoder(bytes.NewReader(b)).Decode(&page); err != nil {
				return nil, errorf("queryAll: decoding the answer: %w", err)
			}
			for _, rec := range page.Records {
				if !rec.IsDeleted {
					live[foldKey(keyID, rec.ID)] = true
				}
			}
			next = ""
			if !page.Done {
				next = page.NextRecordsURL
			}
		}
	}
	return live, nil
}
