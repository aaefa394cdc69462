package salesforce

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/retl-go/retl/sink"
)

var _ sink.Screener = (*sfSink)(nil)

// Codes of records refused before anything is sent.
const (
	// CodeDuplicateKey fails a record whose key an earlier record of the
	// sync already has, compared as Salesforce matches keys.
	CodeDuplicateKey = "RETL_DUPLICATE_KEY"
	// CodeMissingKey fails a record without the value of the field that
	// finds its Salesforce record (the external id of an upsert, the Id of
	// an update or delete).
	CodeMissingKey = "RETL_MISSING_KEY"
	// CodeInvalidID fails a record with a value that is not a Salesforce
	// Id in an Id or lookup field: not 15 or 18 letters and digits, or 18
	// characters whose last three do not encode the case of the first 15.
	CodeInvalidID = "RETL_INVALID_ID"
	// CodeOutOfRange fails a record with a date or date-time outside the
	// range Salesforce stores, 1700-01-01 through 4000-12-31 (UTC).
	CodeOutOfRange = "RETL_OUT_OF_RANGE"
	// CodeNullMarker fails a record holding the text "#N/A" that only
	// Bulk can write (an upsert on Id): Bulk would store it as null.
	CodeNullMarker = "RETL_NULL_MARKER"
)

// On duplicate key choices.
const (
	// DuplicateFail: the first record with a key is sent; each later one
	// fails with CodeDuplicateKey (the default).
	DuplicateFail = "fail"
	// DuplicateSkip: the first record with a key is sent; each later one
	// is skipped with sink.SkipDuplicateKey.
	DuplicateSkip = "skip"
)

// duplicateKey is the result of a later record with the key of an earlier
// one, under on_duplicate_key: skip.
var duplicateKey = sink.Result{Skipped: sink.SkipDuplicateKey, SkipDetail: "an earlier row has the same key"}

// screenState is what Screen keeps across the batches of a sync: a plan
// per layout and the keys seen so far.
type screenState struct {
	mu    sync.Mutex
	plans map[*sink.Layout]*screenPlan
	seen  keySet
	buf   []byte
	// Per batch, reused: the key hashes, their rows' Seq and index, and
	// the duplicates found with the rows that first had their keys.
	hs     []uint64
	seqs   []int64
	at     []int32
	dups   []int32
	firsts []int64
}

// screenPlan is what Screen checks in the records of one layout.
type screenPlan struct {
	key   int // the field that finds the record, -1 for none
	rule  keyRule
	field string // its name, for messages
	// needKey: a record without a key value fails (the key is not a
	// match_on field, whose empty values viaMatch reports).
	needKey bool
	ids     []int // Id and lookup-by-Id fields
	dates   []int // date fields
	times   []int // date-time fields
	// bulkOnly: records cannot take REST, so the text #N/A cannot be sent.
	bulkOnly bool
	// rtype is the RecordTypeId field, whose names become Ids; -1 for none.
	rtype int
	// cuts are the fields whose text truncate: true cuts to length.
	cuts []cutField
	// pred foresees Salesforce's refusals; nil when predict_rejects is off.
	pred *predictor
}

// Screen fails, before anything is sent, the records Salesforce would
// misread or that would write one record twice: a missing key, a value in
// an Id field that is not an Id, a date out of Salesforce's range, and a
// key an earlier record of the sync already has. It runs in input order
// (see sink.Screener), so the first record with a key is the one written,
// in every run and in the plan.
func (s *sfSink) Screen(ctx context.Context, records []sink.Record) ([]sink.Result, error) {
	if len(records) == 0 {
		return nil, nil
	}
	st := &s.scr
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []sink.Result
	fail := func(i int, r sink.Result) {
		if out == nil {
			out = make([]sink.Result, len(records))
		}
		out[i] = r
	}
	// Two passes: the checks and the key hashes first, then the key
	// table in one tight loop. The table is tens of megabytes at a million
	// keys, so each new key misses the cache; alone in its loop, those
	// misses overlap instead of waiting one by one between the checks.
	st.hs, st.seqs, st.at = st.hs[:0], st.seqs[:0], st.at[:0]
	var p *screenPlan
	var pl *sink.Layout
	for i := range records {
		r := &records[i]
		if p == nil || r.Layout != pl {
			var err error
			if p, err = s.screenPlanFor(ctx, r.Layout); err != nil {
				return nil, err
			}
			pl = r.Layout
		}
		if len(p.cuts) > 0 {
			s.cut(p.cuts, r)
		}
		if p.rtype >= 0 {
			e, err := s.nameRecordType(ctx, p.rtype, r)
			if err != nil {
				return nil, err
			}
			if e != nil {
				fail(i, sink.Result{Err: e})
				continue
			}
		}
		if e := p.check(r); e != nil {
			fail(i, sink.Result{Err: e})
			continue
		}
		if p.pred != nil {
			if e := p.pred.predict(r); e != nil {
				fail(i, sink.Result{Err: e})
				continue
			}
			e, err := s.predictRecordType(ctx, p, r)
			if err != nil {
				return nil, err
			}
			if e != nil {
				fail(i, sink.Result{Err: e})
				continue
			}
		}
		if p.key < 0 || p.key >= len(r.Values) || r.Values[p.key].IsEmpty() || r.Values[p.key].S == "" {
			continue
		}
		h, ok := uint64(0), false
		if p.rule == keyFold {
			h, ok = foldHash(keySeed64, r.Values[p.key].S)
		}
		if !ok {
			st.buf = appendFolded(st.buf[:0], p.rule, r.Values[p.key].S)
			h = maphash.Bytes(keySeed, st.buf)
		}
		st.hs = append(st.hs, h)
		st.seqs = append(st.seqs, r.Seq)
		st.at = append(st.at, int32(i))
	}
	st.dups, st.firsts = st.seen.addAll(st.hs, st.seqs, st.dups[:0], st.firsts[:0])
	for j, d := range st.dups {
		i := int(st.at[d])
		if s.dest.Options.OnDuplicateKey == DuplicateSkip {
			fail(i, duplicateKey)
			continue
		}
		r := &records[i]
		p := st.plans[r.Layout]
		first := "an earlier row"
		if st.firsts[j] > 0 {
			first = "row " + strconv.FormatInt(st.firsts[j], 10)
		}
		fail(i, sink.Result{Err: &sink.RecordError{Code: CodeDuplicateKey,
			Message: fmt.Sprintf("%s already has %s %s (as Salesforce matches it); the first row with a key is written, later ones are not",
				first, p.field, r.Values[p.key].S),
			Fields: []string{p.field}}})
	}
	return out, nil
}

// keySeed hashes keys for the duplicate check. A random seed per process:
// two keys that collide (odds about 1 in 3.6e7 at a million keys) do not
// collide again in the next run.
var keySeed = maphash.MakeSeed()

// keySeed64 seeds foldHash, likewise once per process.
var keySeed64 = rand.Uint64()

// foldHash hashes an ASCII key as keyFold compares it, folding and hashing
// in one pass over eight bytes at a time; ok is false for other text, which
// appendFolded and maphash take. Each word is mixed by a 64×64→128-bit
// multiply folded to 64 bits (as wyhash does), so distinct keys collide
// with odds near 2⁻⁶⁴ a pair.
func foldHash(seed uint64, key string) (h uint64, ok bool) {
	const hi, belowA, aboveZ = 0x8080808080808080, 0x3f3f3f3f3f3f3f3f, 0x2525252525252525
	const p0, p1, p2 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db, 0x8ebc6af09c88c6e3
	h = mix(seed^p0, uint64(len(key))^p1)
	i := 0
	for ; i+8 <= len(key); i += 8 {
		w := le64(key[i : i+8])
		if w&hi != 0 {
			return 0, false
		}
		w |= ((w + belowA) &^ (w + aboveZ) & hi) >> 2
		h = mix(h^w, p2)
	}
	if i < len(key) {
		var w uint64
		for j := len(key) - 1; j >= i; j-- {
			c := key[j]
			if c >= utf8.RuneSelf {
				return 0, false
			}
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			w = w<<8 | uint64(c)
		}
		h = mix(h^w, p1)
	}
	return mix(h, p0^seed), true
}

// mix multiplies a and b into 128 bits and folds the halves.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// screenPlanFor returns the checks for a layout, from the describe that
// Preflight fetched.
func (s *sfSink) screenPlanFor(ctx context.Context, l *sink.Layout) (*screenPlan, error) {
	st := &s.scr
	if p := st.plans[l]; p != nil {
		return p, nil
	}
	desc, err := s.c.Describe(ctx, s.dest.Object)
	if err != nil {
		return nil, errorf("screening records: %w", err)
	}
	p := &screenPlan{key: -1, rule: s.keyRule(), bulkOnly: s.dest.upsertByID(), rtype: l.Index(recordTypeField)}
	if field := s.dest.matchField(); field != "" {
		p.key, p.field = l.Index(field), field
		p.needKey = !s.dest.matching()
	}
	for i, name := range l.Fields {
		if strings.Contains(name, ".") {
			continue // a lookup by external id: the parent's field, not ours
		}
		f := desc.Field(name)
		switch {
		case strings.EqualFold(name, "Id"), f != nil && (f.Type == "id" || f.Type == "reference"):
			p.ids = append(p.ids, i)
		case f != nil && f.Type == "date":
			p.dates = append(p.dates, i)
		case f != nil && f.Type == "datetime":
			p.times = append(p.times, i)
		}
	}
	p.cuts = truncPlan(desc, l)
	if s.dest.Options.predicting() {
		p.pred = s.newPredictor(desc, l)
	}
	if st.plans == nil {
		st.plans = map[*sink.Layout]*screenPlan{}
	}
	st.plans[l] = p
	return p, nil
}

// check returns why a record must not be sent, or nil.
func (p *screenPlan) check(r *sink.Record) *sink.RecordError {
	if p.needKey && p.key >= 0 && (p.key >= len(r.Values) || r.Values[p.key].IsEmpty() || r.Values[p.key].S == "") {
		return &sink.RecordError{Code: CodeMissingKey, Fields: []string{p.field},
			Message: fmt.Sprintf("%s is empty: Salesforce cannot find the record without it (an upsert would create a new record on every run)", p.field)}
	}
	for _, i := range p.ids {
		if i >= len(r.Values) || r.Values[i].IsEmpty() {
			continue
		}
		if msg := idProblem(r.Values[i].S); msg != "" {
			return &sink.RecordError{Code: CodeInvalidID, Message: r.Layout.Fields[i] + ": " + msg, Fields: []string{r.Layout.Fields[i]}}
		}
	}
	if p.bulkOnly {
		for i, v := range r.Values {
			if isNullMarker(v) {
				return &sink.RecordError{Code: CodeNullMarker, Fields: []string{r.Layout.Fields[i]},
					Message: fmt.Sprintf("%s holds the text %q, which the Bulk API stores as null, and an upsert on Id cannot go through REST", r.Layout.Fields[i], v.S)}
			}
		}
	}
	for _, i := range p.dates {
		if i < len(r.Values) && !r.Values[i].IsEmpty() && !dateInRange(r.Values[i].S, false) {
			return outOfRange(r.Layout.Fields[i], r.Values[i].S)
		}
	}
	for _, i := range p.times {
		if i < len(r.Values) && !r.Values[i].IsEmpty() && !dateInRange(r.Values[i].S, true) {
			return outOfRange(r.Layout.Fields[i], r.Values[i].S)
		}
	}
	return nil
}

func outOfRange(field, v string) *sink.RecordError {
	return &sink.RecordError{Code: CodeOutOfRange, Fields: []string{field},
		Message: fmt.Sprintf("%s: %s is outside the dates Salesforce accepts (1700-01-01 through 4000-12-31)", field, v)}
}

// idProblem says why s is not a Salesforce Id, or "".
func idProblem(s string) string {
	if len(s) != 15 && len(s) != 18 {
		return fmt.Sprintf("%q is not a Salesforce Id (15 or 18 letters and digits)", s)
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return fmt.Sprintf("%q is not a Salesforce Id (15 or 18 letters and digits)", s)
		}
	}
	if len(s) == 15 || toID18(s[:15]) == s {
		return ""
	}
	if fixed, ok := restoreIDCase(s); ok {
		return fmt.Sprintf("%s has lost the case of its letters (its last three characters say it is %s); a warehouse that changes the case of text changes Ids", s, fixed)
	}
	return fmt.Sprintf("%s: its last three characters do not match the first 15", s)
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// restoreIDCase rebuilds an 18-character Id from its suffix, which records
// which of the first 15 characters are upper case.
func restoreIDCase(s string) (string, bool) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	b := []byte(s)
	for block := 0; block < 3; block++ {
		bits := strings.IndexByte(alphabet, upper(s[15+block]))
		if bits < 0 {
			return "", false
		}
		for i := 0; i < 5; i++ {
			c := &b[block*5+i]
			if bits&(1<<i) != 0 {
				*c = upper(*c)
			} else if *c >= 'A' && *c <= 'Z' {
				*c += 'a' - 'A'
			}
		}
		b[15+block] = upper(s[15+block])
	}
	out := string(b)
	return out, toID18(out[:15]) == out
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// dateInRange reports whether a date (yyyy-mm-dd) or date-time lies in
// 1700-01-01 .. 4000-12-31, date-times in UTC. A value it cannot read is
// left for Salesforce to judge.
func dateInRange(v string, datetime bool) bool {
	if v != "" && (v[0] == '-' || v[0] == '+') {
		return false // signed years: before year 0 or beyond 9999
	}
	n := 0
	for n < len(v) && v[n] >= '0' && v[n] <= '9' {
		n++
	}
	if n == 0 || n >= len(v) || v[n] != '-' {
		return true
	}
	if n > 4 {
		return false
	}
	year, _ := strconv.Atoi(v[:n])
	switch {
	case year > 1700 && year < 4000:
		return true
	case year < 1699 || year > 4001:
		return false
	case !datetime:
		return year >= 1700 && year <= 4000
	}
	// A date-time near an edge: its zone may move it across.
	t, ok := planInstant(v)
	if !ok {
		if d, ok := planDate(v); ok {
			return d >= "1700-01-01" && d <= "4000-12-31"
		}
		return true
	}
	u := t.UTC()
	return u.Year() >= 1700 && u.Year() <= 4000
}

// appendFolded appends the key as Salesforce compares it (see foldKey),
// without allocating for ASCII keys.
func appendFolded(b []byte, r keyRule, key string) []byte {
	switch r {
	case keyID:
		if len(key) == 15 {
			key = toID18(key)
		}
		for i := 0; i < len(key); i++ {
			b = append(b, upper(key[i]))
		}
		return b
	case keyFold:
		// Eight bytes at a time: a byte from 'A' to 'Z' gains 0x20. The
		// sums stay within each byte for ASCII, which the first test
		// ensures; other text folds as strings.ToLower does.
		const hi, belowA, aboveZ = 0x8080808080808080, 0x3f3f3f3f3f3f3f3f, 0x2525252525252525
		start, i := len(b), 0
		for ; i+8 <= len(key); i += 8 {
			w := le64(key[i : i+8])
			if w&hi != 0 {
				return append(b[:start], strings.ToLower(key)...)
			}
			w |= ((w + belowA) &^ (w + aboveZ) & hi) >> 2
			b = binary.LittleEndian.AppendUint64(b, w)
		}
		for ; i < len(key); i++ {
			c := key[i]
			if c >= utf8.RuneSelf {
				return append(b[:start], strings.ToLower(key)...)
			}
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
		}
		return b
	}
	return append(b, key...)
}

// le64 reads 8 bytes of s as a little-endian word (one load once
// compiled).
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// keySet is an open-addressed table of 64-bit key hashes, with the row
// that first had each in a parallel array: 12 bytes a slot, at most three
// quarters full, so a sync's duplicate check holds 16 to 32 bytes per
// distinct key (25 at a million keys) and no key text. The probes read
// only the hashes, so the table they miss in is 8 bytes a slot.
type keySet struct {
	hs    []uint64
	seqs  []uint32 // 0: the row number does not fit
	n     int
	shift uint // 64 - log2(len(hs))
	touch uint64
}

// addAll records the hashes of one batch, in order, for the rows seqs,
// and appends to dups the index of each hash an earlier row already had,
// and to firsts that row (0 when its number is beyond 32 bits). Hash 0
// marks a free slot, so it is stored as 1.
func (k *keySet) addAll(hs []uint64, seqs []int64, dups []int32, firsts []int64) ([]int32, []int64) {
	for (k.n+len(hs))*4 > len(k.hs)*3 {
		k.grow()
	}
	tab, rows, shift := k.hs, k.seqs, k.shift
	mask := uint64(len(tab) - 1)
	// Reading the home slot of a key a few places ahead starts its cache
	// miss early; the value read is kept only so the read is not dropped.
	const ahead = 8
	touch := k.touch
	for j, h := range hs {
		if j+ahead < len(hs) {
			touch ^= tab[(hs[j+ahead]>>shift)&mask]
		}
		if h == 0 {
			h = 1
		}
		for i := h >> shift; ; i = (i + 1) & mask {
			if tab[i] == 0 {
				tab[i] = h
				if seq := seqs[j]; seq > 0 && seq <= math.MaxUint32 {
					rows[i] = uint32(seq)
				}
				k.n++
				break
			}
			if tab[i] == h {
				dups = append(dups, int32(j))
				firsts = append(firsts, int64(rows[i]))
				break
			}
		}
	}
	k.touch = touch
	return dups, firsts
}

// bytes is the memory the table holds.
func (k *keySet) bytes() int { return len(k.hs)*8 + len(k.seqs)*4 }

func (k *keySet) grow() {
	old, oldRows := k.hs, k.seqs
	size := max(len(old)*2, 1024)
	k.hs, k.seqs = make([]uint64, size), make([]uint32, size)
	k.shift = uint(64 - bits.TrailingZeros(uint(size)))
	mask := uint64(size - 1)
	// A slot is chosen by the hash's top bits, so the old table, read in
	// order, fills the new one nearly in order: growing streams through
	// memory instead of missing the cache once per key.
	for j, h := range old {
		if h == 0 {
			continue
		}
		for i := h >> k.shift; ; i = (i + 1) & mask {
			if k.hs[i] == 0 {
				k.hs[i], k.seqs[i] = h, oldRows[j]
				break
			}
		}
	}
}

// checkDuplicateOption validates on_duplicate_key.
func checkDuplicateOption(v string, op Operation) (string, error) {
	switch v {
	case "":
		if op == Insert {
			return "", nil // insert finds no record by a key
		}
		return DuplicateFail, nil
	case DuplicateFail, DuplicateSkip:
		if op == Insert {
			return "", keyErrorf("on_duplicate_key", "on_duplicate_key applies to operations that find records by a key, not insert")
		}
		return v, nil
	}
	return "", keyErrorf("on_duplicate_key", "on_duplicate_key %q: want fail or skip", v)
}
