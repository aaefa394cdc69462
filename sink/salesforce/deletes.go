package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/retl-go/retl/sink"
)

// DeleteLimit is max_deletes: the most records one run of a sync may
// delete, or act on through on_removed. It is a count ("500") or a
// percentage ("10%") of the object's records, counted with SELECT COUNT()
// FROM the object when the run is about to delete (records in the Recycle
// Bin are not counted). What it limits are the records the run would
// find, not its rows: a row whose Id or match_on value finds no record
// (already deleted, say) does not count.
type DeleteLimit struct {
	// Count is the limit when Percent is false.
	Count int
	// Share is the percentage when Percent is true.
	Share   float64
	Percent bool
	// Set says max_deletes was given.
	Set bool
}

// ParseDeleteLimit reads a count such as "500" or a percentage such as
// "10%".
func ParseDeleteLimit(s string) (DeleteLimit, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
			return DeleteLimit{}, errors.New("want a percentage between 0% and 100%, such as 10%")
		}
		return DeleteLimit{Share: f, Percent: true, Set: true}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return DeleteLimit{}, errors.New("want a count of records such as 500, or a percentage such as 10%")
	}
	return DeleteLimit{Count: n, Set: true}, nil
}

// UnmarshalText lets max_deletes be written as 500 or 10%.
func (l *DeleteLimit) UnmarshalText(b []byte) error {
	v, err := ParseDeleteLimit(string(b))
	if err != nil {
		// Quoted, so that the config's error finds the value's line (and
		// shows it as [value]).
		return fmt.Errorf("%q: %w", string(b), err)
	}
	*l = v
	return nil
}

func (l DeleteLimit) String() string {
	if l.Percent {
		return strconv.FormatFloat(l.Share, 'f', -1, 64) + "%"
	}
	return strconv.Itoa(l.Count)
}

// CountFirst implements sink.Counter: a delete or hard delete with
// max_deletes needs the number of deletes before the first. The Engine
// then holds the records of the run until it is read; a delete's record
// is its Id or match_on value and its key, under 200 bytes held. Once
// CheckCount has applied the limit to the records found, it reports
// false, so that Hint does not apply it again to the number of rows.
func (s *sfSink) CountFirst() bool {
	op := s.dest.Operation
	if (op != Delete && op != HardDelete) || !s.dest.Options.MaxDeletes.Set {
		return false
	}
	s.x.mu.Lock()
	defer s.x.mu.Unlock()
	return !s.x.counted
}

var _ sink.CountChecker = (*sfSink)(nil)

// CheckCount implements sink.CountChecker: max_deletes applies to the
// records the sync's records find, counted before the first delete. By Id
// they are the Ids Salesforce holds (deleted ones left out); by match_on,
// the records that a value matches alone (a value matching several fails
// and deletes nothing). Each record counts once, however many rows name
// it. A plan counts the same way, so that it agrees with the run.
func (s *sfSink) CheckCount(ctx context.Context, records []sink.Record) error {
	op := s.dest.Operation
	if (op != Delete && op != HardDelete) || !s.dest.Options.MaxDeletes.Set {
		return nil
	}
	ctx = withCallCounter(ctx, &s.calls)
	n, err := s.countMatched(ctx, records)
	if err != nil {
		return errorf("max_deletes: counting the %s records the rows find: %w", s.dest.Object, err)
	}
	s.x.mu.Lock()
	s.x.counted = true
	s.x.mu.Unlock()
	if err := s.checkDeletes(ctx, n, "the sync would delete", "nothing was deleted"); err != nil {
		return errorf("%w", err)
	}
	return nil
}

// countMatched counts the distinct records that records find.
func (s *sfSink) countMatched(ctx context.Context, records []sink.Record) (int, error) {
	field := "Id"
	if s.dest.matching() {
		field = s.dest.MatchOn
	}
	var keys []string
	for i := range records {
		r := &records[i]
		if r.Layout == nil {
			continue
		}
		if j := r.Layout.Index(field); j >= 0 {
			if v := matchValue(r, j); v != "" {
				keys = append(keys, v)
			}
		}
	}
	if len(keys) == 0 {
		return 0, nil
	}
	if !s.dest.matching() {
		return s.countIDs(ctx, keys)
	}
	m, err := s.matchIDs(ctx, keys)
	if err != nil {
		return 0, err
	}
	found := map[string]bool{}
	for _, k := range keys {
		if ids := m.lookup(k); len(ids) == 1 {
			found[ids[0]] = true
		}
	}
	return len(found), nil
}

// countIDs returns how many distinct records of the object ids name that
// Salesforce holds, deleted ones left out. A malformed Id names none.
func (s *sfSink) countIDs(ctx context.Context, ids []string) (int, error) {
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if _, ok := planIDShape(id); ok {
			valid = append(valid, id)
		}
	}
	if len(valid) == 0 {
		return 0, nil
	}
	rows, err := s.c.CurrentValues(ctx, s.dest.Object, "Id", valid, nil)
	if err != nil {
		return 0, err
	}
	return len(rows), nil
}

// checkDeletes applies max_deletes to n deletes (or on_removed actions)
// before the first; what says who acts ("the sync would delete"), none
// what a breach leaves undone ("nothing was deleted"). Over the limit, the error names the
// numbers; the caller then removes nothing. The verdict goes to Stats
// either way, so that a plan shows it.
func (s *sfSink) checkDeletes(ctx context.Context, n int, what, none string) error {
	l := s.dest.Options.MaxDeletes
	if !l.Set {
		return nil
	}
	limit, basis := l.Count, strconv.Itoa(l.Count)
	if l.Percent {
		total, err := s.c.count(ctx, s.dest.Object)
		if err != nil {
			return errorf("max_deletes: counting the %s records: %w", s.dest.Object, err)
		}
		limit = int(math.Floor(l.Share * float64(total) / 100))
		basis = fmt.Sprintf("%d: %s of %d %s records", limit, l, total, s.dest.Object)
	}
	ok := n <= limit
	verdict := fmt.Sprintf("%s %d %s records, within max_deletes (%s)", what, n, s.dest.Object, basis)
	if !ok {
		verdict = fmt.Sprintf("%s %d %s records, more than max_deletes allows (%s); %s", what, n, s.dest.Object, basis, none)
	}
	s.x.mu.Lock()
	s.x.verdict = verdict
	s.x.mu.Unlock()
	if !ok {
		return &sink.DeleteLimitError{Setting: "max_deletes", Verdict: verdict}
	}
	return nil
}

// count returns how many records of object exist, deleted ones left out.
func (c *apiClient) count(ctx context.Context, object string) (int, error) {
	if !identRe.MatchString(object) {
		return 0, errorf("%q is not an object name", object)
	}
	b, err := c.get(ctx, c.dataPath("query")+"?"+url.Values{"q": {"SELECT COUNT() FROM " + object}}.Encode())
	if err != nil {
		return 0, err
	}
	var page struct {
		TotalSize *int `json:"totalSize"`
	}
	if err := json.Unmarshal(b, &page); err != nil || page.TotalSize == nil {
		return 0, fmt.Errorf("SELECT COUNT() FROM %s: the answer holds no totalSize", object)
	}
	return *page.TotalSize, nil
}
