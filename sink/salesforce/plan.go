package salesforce

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/retl-go/retl/sink"
)

var _ sink.Planner = (*sfSink)(nil)

// Plan tells what Write would do with records, writing nothing. It reads
// the object's describe and, in chunked SOQL queries, the current values
// of the mapped fields for the records' keys (external id for upsert, Id
// for update and delete) and the parents their lookups name. Each record
// gets the Result Write would give it:
//
//   - Created, with every field sent as a change, for an insert or an
//     upsert whose key is not found;
//   - Skipped sink.SkipUnchanged when every field sent already holds the
//     value (numbers, booleans, dates and date-times compared by value, at
//     the field's scale; picklists, Ids and lookups without regard to case);
//   - otherwise an update with its Changes and, as Write, the set_if_empty
//     fields KeptBack because they already hold a value;
//   - Err, with the code Salesforce would answer, for what can be known
//     before writing: an Id that does not exist (INVALID_CROSS_REFERENCE_KEY),
//     a missing key (MISSING_ARGUMENT), a key twice in one call
//     (DUPLICATE_VALUE), a lookup to a parent that does not exist
//     (INVALID_FIELD), text longer than the field (STRING_TOO_LONG), a
//     malformed email address (INVALID_EMAIL_ADDRESS), a value outside a
//     restricted picklist, and required fields left empty
//     (REQUIRED_FIELD_MISSING).
//
// Validation rules, triggers, duplicate rules and sharing are not
// evaluated, so Write can still reject a record Plan accepts.
//
// A lookup may name a parent that a sync planned earlier in the same run
// (through the same Client) would create: Plan counts it as existing, so a
// plan of syncs that depend on each other matches what the run does.
func (s *sfSink) Plan(ctx context.Context, records []sink.Record) ([]sink.Result, error) {
	if len(records) == 0 {
		return []sink.Result{}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, errorf("plan: %w", err)
	}
	ctx = withCallCounter(ctx, &s.calls)
	results := make([]sink.Result, len(records))
	for _, g := range groupByLayout(records) {
		part := make([]sink.Record, len(g))
		for i, idx := range g {
			part[i] = records[idx]
		}
		res, err := s.planGroup(ctx, part)
		if err != nil {
			return nil, errorf("plan %s %s: %w", s.dest.Operation, s.dest.Object, err)
		}
		for i, idx := range g {
			results[idx] = res[i]
		}
	}
	return s.markDeleted(results), nil
}

// lookup resolves a lookup path's relationship: by relationship name
// (Account, Parent__r) or by the reference field's own name (AccountId).
func (d *objectDescribe) lookup(rel string) *fieldDescribe {
	for i := range d.Fields {
		f := &d.Fields[i]
		if f.Type == "reference" && (strings.EqualFold(f.RelationshipName, rel) || strings.EqualFold(f.Name, rel)) {
			return f
		}
	}
	return nil
}

// planColumn is one layout field as Plan reads and compares it.
type planColumn struct {
	name  string         // as in the layout
	soql  string         // path to select, "" when not read
	field *fieldDescribe // the field, or the reference field of a lookup
	// lookup: the parent object and its external id field.
	parent, parentKey string
	// guardSOQL is what set_if_empty reads when it is not soql: a
	// lookup's reference field, which holds the parent whether or not
	// the parent has an external id.
	guardSOQL string
}

// planColumns resolves each layout field against the describe.
func planColumns(desc *objectDescribe, layout *sink.Layout) []planColumn {
	cols := make([]planColumn, len(layout.Fields))
	for i, name := range layout.Fields {
		c := planColumn{name: name}
		if rel, sub, ok := cutPath(name); ok {
			if ref := desc.lookup(rel); ref != nil && len(ref.ReferenceTo) > 0 {
				c.field, c.parent, c.parentKey = ref, ref.ReferenceTo[0], sub
				c.soql = ref.RelationshipName + "." + sub
				c.guardSOQL = ref.Name
			}
		} else if f := desc.Field(name); f != nil {
			c.field, c.soql = f, f.Name
		}
		cols[i] = c
	}
	return cols
}

// planSelect is what Plan and only_if_different read of a current record:
// every mapped field but the key, and the reference field of a guarded
// lookup.
func planSelect(cols []planColumn, layout *sink.Layout, ki int) []string {
	var sel []string
	for j, c := range cols {
		if j != ki && c.soql != "" {
			sel = append(sel, c.soql)
		}
		if j != ki && c.guardSOQL != "" && layout.Guarded[j] {
			sel = append(sel, c.guardSOQL)
		}
	}
	return sel
}

func (s *sfSink) planGroup(ctx context.Context, records []sink.Record) ([]sink.Result, error) {
	layout := records[0].Layout
	if layout == nil {
		return nil, errors.New("record without a layout")
	}
	if s.dest.matching() && !s.isResolved(layout) {
		return s.viaMatch(ctx, records, s.planGroup, func(err error) error { return err })
	}
	desc, err := s.c.Describe(ctx, s.dest.Object)
	if err != nil {
		return nil, err
	}
	op := s.dest.Operation
	keyField := s.dest.keyField()
	ki := -1
	if keyField != "" {
		if ki = layout.Index(keyField); ki < 0 {
			return nil, fmt.Errorf("the records have no %s field", keyField)
		}
	}

	cols := planColumns(desc, layout)
	track := s.Tracks(layout)

	res := make([]sink.Result, len(records))
	failed := func(i int, code, msg string, fields ...string) {
		if res[i].Err == nil {
			res[i] = sink.Result{Err: &sink.RecordError{Code: code, Message: msg, Fields: fields}}
		}
	}

	// What the records' values alone tell.
	for i := range records {
		for j, c := range cols {
			if j >= len(records[i].Values) || c.field == nil || c.parent != "" {
				continue
			}
			if code, msg := planCheckValue(c.field, records[i].Values[j]); code != "" {
				failed(i, code, msg, c.field.Name)
			}
		}
	}

	// Parents named by lookups.
	for j, c := range cols {
		if c.parent == "" {
			continue
		}
		if err := s.planLookups(ctx, records, j, c, failed); err != nil {
			return nil, err
		}
	}

	// Current records.
	var current map[string]currentRow
	dupKeys := map[string]int{}
	if ki >= 0 {
		// A record without a key, or with a malformed Id, fails on its
		// own below.
		keys := s.queryKeys(records, ki, keyField)
		for _, k := range keys {
			dupKeys[s.normKey(k)]++
		}
		var sel []string
		if op == Update || op == Upsert {
			sel = planSelect(cols, layout, ki)
		}
		rows, err := s.c.CurrentValues(ctx, s.dest.Object, keyField, keys, sel)
		if err != nil {
			return nil, errorf("reading current values: %w", err)
		}
		current = make(map[string]currentRow, len(rows))
		for k, r := range rows {
			current[s.normKey(k)] = r
		}
	}

	for i := range records {
		if res[i].Err != nil {
			continue
		}
		rec := &records[i]
		if op == Insert {
			res[i] = sink.Result{Created: true, Changes: planCreation(rec, cols)}
			if code, msg, fields := planMissingRequired(desc, rec, cols); code != "" {
				failed(i, code, msg, fields...)
			}
			continue
		}
		key := s.recordKey(rec, ki)
		if key == "" && op != Upsert {
			if ki < len(rec.Values) && rec.Values[ki].Kind == sink.Null && s.chosenAPI() == APIBulk {
				// Bulk sends a null as #N/A, which is no Id at all.
				failed(i, "MALFORMED_ID", fmt.Sprintf("%s ID: id value of incorrect type: %s", s.dest.Object, nullCell), "Id")
				continue
			}
			failed(i, "MISSING_ARGUMENT", "Id not specified in an update call")
			continue
		}
		if op == Update || op == Delete || op == HardDelete {
			if _, ok := planIDShape(key); !ok {
				failed(i, "MALFORMED_ID", fmt.Sprintf("%s ID: id value of incorrect type: %s", s.dest.Object, key), "Id")
				continue
			}
		}
		if op == Upsert && key != "" && dupKeys[s.normKey(key)] > 1 {
			failed(i, "DUPLICATE_VALUE", "Duplicate external id specified: "+key, s.dest.ExternalID)
			continue
		}
		// An upsert without a key value creates a record, as Salesforce does.
		row, exists := current[s.normKey(key)]
		exists = exists && key != ""
		switch {
		case !exists && op == Upsert && s.dest.upsertByID() && key != "":
			// Bulk's upsert on Id updates only records that exist.
			failed(i, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
		case !exists && op == Upsert:
			res[i] = sink.Result{Created: true, Changes: planCreation(rec, cols)}
			if code, msg, fields := planMissingRequired(desc, rec, cols); code != "" {
				failed(i, code, msg, fields...)
			}
		case !exists:
			failed(i, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
		case op == Delete || op == HardDelete:
			res[i] = sink.Result{ID: row.String("Id")}
		default:
			res[i] = planUpdate(rec, cols, ki, row, track)
			if fields := planClearsRequired(rec, cols); len(fields) > 0 {
				failed(i, "REQUIRED_FIELD_MISSING", "Required fields are missing: ["+strings.Join(fields, ", ")+"]", fields...)
			}
		}
	}
	s.remember(desc, records, res, cols)
	return res, nil
}

// planLookups marks the records whose lookup in column j names a parent
// that neither exists nor was planned by an earlier sync.
func (s *sfSink) planLookups(ctx context.Context, records []sink.Record, j int, c planColumn, failed func(int, string, string, ...string)) error {
	var keys []string
	for i := range records {
		if j < len(records[i].Values) && !records[i].Values[j].IsEmpty() {
			keys = append(keys, records[i].Values[j].S)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	rows, err := s.c.CurrentValues(ctx, c.parent, c.parentKey, keys, nil)
	if err != nil {
		return errorf("reading the parents of %s: %w", c.name, err)
	}
	found := make(map[string]bool, len(rows))
	for k := range rows {
		found[strings.ToLower(k)] = true
	}
	pending := planPending(s.c)
	for i := range records {
		if j >= len(records[i].Values) || records[i].Values[j].IsEmpty() {
			continue
		}
		v := records[i].Values[j].S
		if found[strings.ToLower(v)] || pending.has(c.parent, c.parentKey, v) {
			continue
		}
		failed(i, "INVALID_FIELD", fmt.Sprintf("Foreign key external ID: %s not found for field %s in entity %s", v, c.parentKey, c.parent))
	}
	return nil
}

// planCheckValue applies the field's own limits to a value.
func planCheckValue(f *fieldDescribe, v sink.Value) (code, msg string) {
	if v.IsEmpty() {
		return "", ""
	}
	switch f.Type {
	case "string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox", "encryptedstring":
	default:
		return "", ""
	}
	label := f.Label
	if label == "" {
		label = f.Name
	}
	if f.Length > 0 && sfLen(v.S) > f.Length {
		return "STRING_TOO_LONG", fmt.Sprintf("%s: data value too large: %s (max length=%d)", label, v.S, f.Length)
	}
	if f.Type == "email" && !planEmailOK(v.S) {
		return "INVALID_EMAIL_ADDRESS", label + ": invalid email address: " + v.S
	}
	if f.Type == "picklist" && f.RestrictedPicklist {
		for _, p := range f.PicklistValues {
			if strings.EqualFold(p.Value, v.S) {
				return "", ""
			}
		}
		return "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", label + ": bad value for restricted picklist field: " + v.S
	}
	return "", ""
}

// planEmailOK is a light check, close to what Salesforce refuses: one
// local part, an @, and a dotted domain, without spaces or brackets.
func planEmailOK(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || strings.ContainsAny(s, " ,;<>()[]\\\"") {
		return false
	}
	dom := s[at+1:]
	return strings.Contains(dom, ".") && !strings.HasPrefix(dom, ".") && !strings.HasSuffix(dom, ".")
}

// planMissingRequired checks that a record to be created sets every field
// Salesforce requires on create.
func planMissingRequired(desc *objectDescribe, rec *sink.Record, cols []planColumn) (code, msg string, fields []string) {
	set := map[string]bool{}
	for j, c := range cols {
		if c.field != nil && j < len(rec.Values) && !rec.Values[j].IsEmpty() {
			set[strings.ToLower(c.field.Name)] = true
		}
	}
	var missing []string
	for _, f := range desc.Fields {
		if f.Nillable || !f.Createable || f.DefaultedOnCreate || f.Type == "boolean" || set[strings.ToLower(f.Name)] {
			continue
		}
		missing = append(missing, f.Name)
	}
	if len(missing) == 0 {
		return "", "", nil
	}
	return "REQUIRED_FIELD_MISSING", "Required fields are missing: [" + strings.Join(missing, ", ") + "]", missing
}

// planClearsRequired lists the required fields an update would clear.
func planClearsRequired(rec *sink.Record, cols []planColumn) []string {
	var out []string
	for j, c := range cols {
		if j < len(rec.Values) && rec.Values[j].Kind == sink.Null && c.field != nil && c.parent == "" &&
			!c.field.Nillable && c.field.Type != "boolean" {
			out = append(out, c.field.Name)
		}
	}
	return out
}

// planCreation lists the fields a new record would get.
func planCreation(rec *sink.Record, cols []planColumn) []sink.FieldChange {
	var out []sink.FieldChange
	for j, c := range cols {
		if j < len(rec.Values) && !rec.Values[j].IsEmpty() {
			out = append(out, sink.FieldChange{Field: c.name, To: rec.Values[j].S})
		}
	}
	return out
}

// update compares a record with the current row, field by field. A
// tracked field (keep_human_edits) whose current value is not the one the
// record expects is KeptEdits, as Write keeps it.
func planUpdate(rec *sink.Record, cols []planColumn, ki int, row currentRow, track []bool) sink.Result {
	r := sink.Result{ID: row.String("Id")}
	for j, c := range cols {
		if j == ki || j >= len(rec.Values) || rec.Values[j].Kind == sink.Absent || c.soql == "" {
			continue
		}
		cur, _ := row.Get(c.soql)
		if rec.Layout.Guarded[j] {
			held := cur
			if c.guardSOQL != "" {
				held, _ = row.Get(c.guardSOQL)
			}
			if !isEmptyValue(held) {
				r.KeptBack = append(r.KeptBack, c.name)
				continue
			}
		}
		if j < len(track) && track[j] && j < len(rec.Expect) && rec.Expect[j] != "" && editToken(c, cur) != rec.Expect[j] {
			r.KeptEdits = append(r.KeptEdits, c.name)
			continue
		}
		v := rec.Values[j]
		if planSame(c, v, cur) {
			continue
		}
		r.Changes = append(r.Changes, sink.FieldChange{Field: c.name, From: valueText(cur), To: v.S})
	}
	if len(r.Changes) == 0 {
		r.Skipped, r.SkipDetail = sink.SkipUnchanged, unchangedDetail
	}
	return r
}

// planSame reports whether sending v would leave the field as it is.
func planSame(c planColumn, v sink.Value, cur any) bool {
	if v.Kind == sink.Null || (v.Kind == sink.Text && v.S == "") {
		return isEmptyValue(cur)
	}
	if isEmptyValue(cur) {
		return false
	}
	have := valueText(cur)
	if c.parent != "" {
		// External ids match without regard to case.
		return strings.EqualFold(have, v.S)
	}
	typ, scale := "", -1
	if c.field != nil {
		typ = c.field.Type
		switch typ {
		case "int":
			scale = 0
		case "double", "currency", "percent":
			scale = c.field.Scale
		}
	}
	switch typ {
	case "boolean":
		a, err1 := strconv.ParseBool(have)
		b, err2 := strconv.ParseBool(v.S)
		return err1 == nil && err2 == nil && a == b
	case "int", "double", "currency", "percent":
		return planSameNumber(have, v.S, scale)
	case "date":
		a, ok1 := planDate(have)
		b, ok2 := planDate(v.S)
		return ok1 && ok2 && a == b
	case "datetime":
		a, ok1 := planInstant(have)
		b, ok2 := planInstant(v.S)
		return ok1 && ok2 && a.Equal(b)
	case "reference", "id":
		return toID18(have) == toID18(v.S)
	case "picklist", "multipicklist":
		return strings.EqualFold(have, v.S)
	}
	if have == v.S {
		return true
	}
	switch v.Kind {
	case sink.Number:
		return planSameNumber(have, v.S, -1)
	case sink.Bool:
		return strings.EqualFold(have, v.S)
	}
	return false
}

// planSameNumber compares decimals exactly, the new value rounded half away
// from zero to the field's scale as Salesforce stores it (scale < 0: as is).
func planSameNumber(have, want string, scale int) bool {
	a, ok1 := new(big.Rat).SetString(have)
	b, ok2 := new(big.Rat).SetString(want)
	if !ok1 || !ok2 {
		return false
	}
	if scale >= 0 {
		b = planRound(b, scale)
	}
	return a.Cmp(b) == 0
}

func planRound(r *big.Rat, scale int) *big.Rat {
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
	x := new(big.Rat).Mul(r, new(big.Rat).SetInt(p))
	half := big.NewRat(1, 2)
	if x.Sign() < 0 {
		x.Sub(x, half)
	} else {
		x.Add(x, half)
	}
	q := new(big.Int).Quo(x.Num(), x.Denom()) // truncates toward zero
	return new(big.Rat).SetFrac(q, p)
}

func planDate(s string) (string, bool) {
	if len(s) >= 10 {
		if _, err := time.Parse("2006-01-02", s[:10]); err == nil {
			return s[:10], true
		}
	}
	return "", false
}

// instant parses the date-time forms Salesforce reads and writes; it keeps
// milliseconds, as Salesforce does.
func planInstant(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700", "2006-01-02T15:04:05.000Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Truncate(time.Millisecond), true
		}
	}
	return time.Time{}, false
}

// planIDShape checks that s has the shape of a Salesforce Id.
func planIDShape(s string) (string, bool) {
	if len(s) != 15 && len(s) != 18 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return "", false
		}
	}
	return toID18(s), true
}

// remember notes the external ids of records the plan would create, so
// that lookups planned later in the run find them.
func (s *sfSink) remember(desc *objectDescribe, records []sink.Record, res []sink.Result, cols []planColumn) {
	var ext []int
	for j, c := range cols {
		if c.parent == "" && c.field != nil && (c.field.ExternalID || c.field.IDLookup) {
			ext = append(ext, j)
		}
	}
	if len(ext) == 0 {
		return
	}
	pending := planPending(s.c)
	for i := range records {
		if !res[i].Created || res[i].Err != nil {
			continue
		}
		for _, j := range ext {
			if j < len(records[i].Values) && !records[i].Values[j].IsEmpty() {
				pending.add(desc.Name, cols[j].field.Name, records[i].Values[j].S)
			}
		}
	}
}

// planPendingSet holds the external ids that plans through one Client would
// create, as object.field → value, all lower case.
type planPendingSet struct {
	mu sync.Mutex
	m  map[string]map[string]bool
}

func (p *planPendingSet) add(object, field, value string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := strings.ToLower(object + "." + field)
	if p.m[k] == nil {
		p.m[k] = map[string]bool{}
	}
	p.m[k][strings.ToLower(value)] = true
}

func (p *planPendingSet) has(object, field, value string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[strings.ToLower(object+"."+field)][strings.ToLower(value)]
}

// planned maps a Client (weakly, so a finished run's client is still
// collected) to what its plans would create. A run shares one Client per
// connection, so this spans exactly the syncs of one run.
var planPendingByClient sync.Map // weak.Pointer[Client] → *planPendingSet

func planPending(c *apiClient) *planPendingSet {
	key := weak.Make(c)
	if v, ok := planPendingByClient.Load(key); ok {
		return v.(*planPendingSet)
	}
	v, loaded := planPendingByClient.LoadOrStore(key, &planPendingSet{m: map[string]map[string]bool{}})
	if !loaded {
		runtime.AddCleanup(c, func(k weak.Pointer[apiClient]) { planPendingByClient.Delete(k) }, key)
	}
	return v.(*planPendingSet)
}
