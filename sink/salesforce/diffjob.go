package salesforce

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/retl-go/retl/sink"
)

// only_if_different reads current values as set_if_empty does: by IN lists
// until the keys read, times jobRatio, reach the records one Bulk query job
// would read (every record with a key), then by that one job, whose answer
// serves the later batches (see guardjob.go). The job keeps, per record, a
// hash of each field's value in a canonical form (canon), so that memory
// stays at 8 bytes a field whatever the values.

// heldSet holds, for each record the job read, the hash of each read
// field's canonical value, found by the hash of its key as Salesforce
// compares keys.
type heldSet struct {
	seed maphash.Seed
	// stable: values are hashed as edit tokens (editHash), which stay the
	// same from one run to the next, for keep_human_edits to compare.
	stable  bool
	fold    bool
	width   int
	cols    []planColumn // by read position, the column whose value it holds
	entries []heldEntry
	vals    []uint64
	ids     []string // by off / width
}

// hash is the hash of a canonical value as the set keeps it.
func (f *heldSet) hash(canonical string) uint64 {
	if f.stable {
		return editHash(canonical)
	}
	return maphash.String(f.seed, canonical)
}

type heldEntry struct {
	h   uint64
	off int // into vals; -1: the key names two records, which Salesforce refuses
}

// find returns the hashes and the Id of the record with key k, or false.
func (f *heldSet) find(k string) ([]uint64, string, bool) {
	if f.fold {
		k = strings.ToLower(k)
	}
	h := maphash.String(f.seed, k)
	i, ok := slices.BinarySearchFunc(f.entries, h, func(e heldEntry, h uint64) int { return cmp.Compare(e.h, h) })
	if !ok || f.entries[i].off < 0 {
		return nil, "", false
	}
	off := f.entries[i].off
	return f.vals[off : off+f.width], f.ids[off/f.width], true
}

// seal sorts the entries for find, and marks a key that names two records
// as found in none: Salesforce refuses to write by it (MULTIPLE_RECORDS),
// so the record is sent as is and fails there.
func (f *heldSet) seal() {
	slices.SortFunc(f.entries, func(a, b heldEntry) int { return cmp.Compare(a.h, b.h) })
	for i := 1; i < len(f.entries); i++ {
		if f.entries[i].h == f.entries[i-1].h {
			f.entries[i].off, f.entries[i-1].off = -1, -1
		}
	}
}

// add reads one page of the job's results: a header, then the key, the
// Id and the read fields of each record. An empty cell is null.
func (f *heldSet) add(r io.Reader) error {
	return eachResultRow(r, func(row []string) error {
		if len(row) != f.width+2 {
			return fmt.Errorf("a result row has %d cells, not %d", len(row), f.width+2)
		}
		k := row[0]
		if f.fold {
			k = strings.ToLower(k)
		}
		f.entries = append(f.entries, heldEntry{maphash.String(f.seed, k), len(f.vals)})
		f.ids = append(f.ids, strings.Clone(row[1]))
		for i, cell := range row[2:] {
			var v any
			if cell != "" {
				v = cell
			}
			f.vals = append(f.vals, f.hash(canon(f.cols[i], v)))
		}
		return nil
	})
}

// emptyCanon is the canonical form of an empty field and of a value that
// clears one.
const emptyCanon = "\x00"

// canon is the form in which a current value (from) and a value to send
// compare equal exactly when planSame says sending would leave the field
// as it is; where the two cannot be put in one form, they differ, so a
// field is at worst sent again, never withheld wrongly. A value to send is
// a sink.Value; a current value is what Salesforce answers.
func canon(c planColumn, x any) string {
	var s string
	mine := false
	switch v := x.(type) {
	case sink.Value:
		if v.Kind == sink.Null || v.Kind == sink.Text && v.S == "" {
			return emptyCanon
		}
		s, mine = v.S, true
	default:
		if isEmptyValue(v) {
			return emptyCanon
		}
		s = valueText(v)
	}
	// never is a form no value of the other side takes.
	never := func() string {
		if mine {
			return "\x01new\x00" + s
		}
		return "\x01cur\x00" + s
	}
	if c.parent != "" {
		return "r\x00" + strings.ToLower(s)
	}
	typ := ""
	if c.field != nil {
		typ = c.field.Type
	}
	switch typ {
	case "boolean":
		b, err := strconv.ParseBool(s)
		if err != nil {
			return never()
		}
		return "b\x00" + strconv.FormatBool(b)
	case "int", "double", "currency", "percent":
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return never()
		}
		if mine {
			scale := c.field.Scale
			if typ == "int" {
				scale = 0
			}
			r = planRound(r, scale)
		}
		return "n\x00" + r.RatString()
	case "date":
		d, ok := planDate(s)
		if !ok {
			return never()
		}
		return "d\x00" + d
	case "datetime":
		t, ok := planInstant(s)
		if !ok {
			return never()
		}
		return "t\x00" + strconv.FormatInt(t.UnixMilli(), 10)
	case "reference", "id":
		return "i\x00" + toID18(s)
	case "picklist", "multipicklist":
		return "p\x00" + strings.ToLower(s)
	}
	return "s\x00" + s
}

// heldByJob answers only_if_different's read from the query job when the
// choice falls on it, running the job the first time. It returns false
// when IN lists are to read these keys. sel is what is read, cols the
// column each read field holds; stable asks for edit tokens.
func (s *sfSink) heldByJob(ctx context.Context, keyField string, keys, sel []string, cols []planColumn, stable bool) (*heldSet, bool) {
	if s.dest.Operation != Upsert || s.dest.upsertByID() || len(sel) == 0 {
		return nil, false
	}
	rule := s.keyRule()
	if rule != keyFold && rule != keyExact {
		return nil, false
	}
	for _, n := range sel {
		if strings.EqualFold(n, keyField) || strings.EqualFold(n, "Id") {
			// The job reads the key and the Id first: IN lists read a
			// mapping to either.
			return nil, false
		}
	}
	where := keyField + " != null"
	f, ok := s.dj.use(ctx, s, "only_if_different", keyField, len(keys),
		func(ctx context.Context) (int, error) { return s.countWhere(ctx, where) },
		func(n int) (*heldSet, error) {
			f := &heldSet{seed: maphash.MakeSeed(), stable: stable, fold: rule == keyFold, width: len(sel), cols: cols,
				entries: make([]heldEntry, 0, n), vals: make([]uint64, 0, n*len(sel)), ids: make([]string, 0, n)}
			soql := "SELECT " + keyField + ", Id, " + strings.Join(sel, ", ") + " FROM " + s.dest.Object + " WHERE " + where
			if err := s.queryJob(ctx, soql, f.add); err != nil {
				return nil, err
			}
			f.seal()
			return f, nil
		})
	if ok && f.stable != stable {
		// Read for the other purpose (a second layout): IN lists answer.
		return nil, false
	}
	return f, ok
}

// countWhere counts the object's records that meet a condition.
func (s *sfSink) countWhere(ctx context.Context, where string) (int, error) {
	soql := "SELECT COUNT() FROM " + s.dest.Object + " WHERE " + where
	resp, err := s.c.do(ctx, &request{method: http.MethodGet, path: s.c.dataPath("query"), query: url.Values{"q": {soql}}, idempotent: true})
	if err != nil {
		return 0, err
	}
	var page struct {
		TotalSize *int `json:"totalSize"`
	}
	if err := json.Unmarshal(resp.body, &page); err != nil || page.TotalSize == nil {
		return 0, fmt.Errorf("%s: the answer holds no totalSize", soql)
	}
	return *page.TotalSize, nil
}
