package sftest

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"
)

type record struct {
	seq      int // creation order within the table
	id       string
	vals     []any // never mutated in place: updates swap in a new slice
	created  int64 // unix nanoseconds
	modified int64
	deleted  bool
	purged   bool // hard-deleted: gone even from queryAll
}

type index struct {
	one  map[string]*record
	more map[string][]*record // second and later records sharing a non-unique key
}

type table struct {
	obj  *objectDef
	recs []*record
	byID map[string]*record
	idx  map[*fieldDef]*index
}

func newTable(o *objectDef) *table {
	return &table{obj: o, byID: map[string]*record{}, idx: map[*fieldDef]*index{}}
}

func (t *table) indexFor(f *fieldDef) *index {
	ix := t.idx[f]
	if ix == nil {
		ix = &index{one: map[string]*record{}, more: map[string][]*record{}}
		t.idx[f] = ix
		// An index created after records exist (a field declared later) is
		// filled from the live records.
		for _, r := range t.recs {
			if !r.deleted && !r.purged && f.ord < len(r.vals) && r.vals[f.ord] != nil {
				ix.add(indexKey(f, r.vals[f.ord]), r)
			}
		}
	}
	return ix
}

func (ix *index) add(k string, r *record) {
	if ix.one[k] == nil {
		ix.one[k] = r
		return
	}
	ix.more[k] = append(ix.more[k], r)
}

func (ix *index) remove(k string, r *record) {
	if ix.one[k] == r {
		if m := ix.more[k]; len(m) > 0 {
			ix.one[k] = m[0]
			if len(m) == 1 {
				delete(ix.more, k)
			} else {
				ix.more[k] = m[1:]
			}
		} else {
			delete(ix.one, k)
		}
		return
	}
	m := ix.more[k]
	if i := slices.Index(m, r); i >= 0 {
		m = slices.Delete(slices.Clone(m), i, i+1)
		if len(m) == 0 {
			delete(ix.more, k)
		} else {
			ix.more[k] = m
		}
	}
}

func (ix *index) lookup(k string) []*record {
	r := ix.one[k]
	if r == nil {
		return nil
	}
	more := ix.more[k]
	if len(more) == 0 {
		// The common case: one match, no allocation beyond the result.
		return []*record{r}
	}
	return append([]*record{r}, more...)
}

func indexed(f *fieldDef) bool { return f.sys == sysNone && (f.Unique || f.ExternalID || f.IDLookup) }

func (t *table) reindex(r *record, old, new []any) {
	for _, f := range t.obj.fields {
		if !indexed(f) {
			continue
		}
		var ov, nv any
		if f.ord < len(old) {
			ov = old[f.ord]
		}
		if f.ord < len(new) {
			nv = new[f.ord]
		}
		ix := t.indexFor(f)
		if ov != nil {
			ix.remove(indexKey(f, ov), r)
		}
		if nv != nil {
			ix.add(indexKey(f, nv), r)
		}
	}
}

// val returns a data field of a record, tolerating records stored before the
// field was declared.
func (r *record) val(f *fieldDef) any {
	if f.ord < 0 || f.ord >= len(r.vals) {
		return nil
	}
	return r.vals[f.ord]
}

// get returns any field, computing system and compound fields.
func (t *table) get(r *record, f *fieldDef) any {
	switch f.sys {
	case sysID:
		return r.id
	case sysIsDeleted:
		return r.deleted
	case sysCreatedDate:
		return formatDateTime(time.Unix(0, r.created))
	case sysLastModifiedDate, sysSystemModstamp:
		return formatDateTime(time.Unix(0, r.modified))
	case sysFullName:
		o := t.obj
		var first, last string
		if o.firstName != nil {
			first, _ = r.val(o.firstName).(string)
		}
		if o.lastName != nil {
			last, _ = r.val(o.lastName).(string)
		}
		return strings.TrimSpace(first + " " + last)
	}
	return r.val(f)
}

// input is one record's worth of changes, already coerced to stored types.
type input struct {
	vals []inVal
	refs []refVal
	id   string // a value given for the Id field, if any
}

type inVal struct {
	f *fieldDef
	v any // nil sets the field to null
}

// refVal is a lookup written through a relationship and an external id, such
// as "Account": {"External_Id__c": "A-1"} or the CSV column
// Account.External_Id__c.
type refVal struct {
	ref *fieldDef // the reference field on the child, e.g. Contact.AccountId
	ext *fieldDef // the external id field on the parent
	key any
	raw string
}

type undo struct {
	t        *table
	r        *record
	inserted bool
	vals     []any
	modified int64
	deleted  bool
}

// txn collects what a request changed so allOrNone can roll it back.
type txn struct{ undos []undo }

func (tx *txn) push(u undo) {
	if tx != nil {
		tx.undos = append(tx.undos, u)
	}
}

// org is the in-memory Salesforce org: metadata and data.
type org struct {
	mu        sync.RWMutex
	objects   map[string]*objectDef
	order     []*objectDef
	byPrefix  map[string]*objectDef
	ids       idGen
	prefixSeq int
	now       func() time.Time

	lockShare float64
	lockSeed  uint64
	lockSeq   uint64

	readOnly map[string]bool // records the API user may read but not edit
}

func newOrg() *org {
	o := &org{objects: map[string]*objectDef{}, byPrefix: map[string]*objectDef{}, now: time.Now}
	for _, d := range defaultObjects() {
		o.addObject(d)
	}
	if err := o.link(); err != nil {
		panic(err)
	}
	return o
}

func (o *org) addObject(d *objectDef) {
	o.objects[strings.ToLower(d.name)] = d
	o.order = append(o.order, d)
	o.byPrefix[d.keyPrefix] = d
}

func (o *org) object(name string) *objectDef { return o.objects[strings.ToLower(name)] }

func (o *org) nextPrefix() string {
	for {
		n := o.prefixSeq
		o.prefixSeq++
		p := "a" + string(base62[n/26%10]) + string(base62[10+n%26])
		if o.byPrefix[p] == nil {
			return p
		}
	}
}

// define adds an object or extends an existing one. References are checked
// against the objects known after the whole batch is applied.
func (o *org) define(objs ...Object) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, obj := range objs {
		if obj.Name == "" {
			return fmt.Errorf("object without a name")
		}
		d := o.object(obj.Name)
		if d == nil {
			if !strings.HasSuffix(obj.Name, "__c") {
				return fmt.Errorf("object %s: custom object names end in __c", obj.Name)
			}
			prefix := obj.KeyPrefix
			if prefix == "" {
				prefix = o.nextPrefix()
			} else if len(prefix) != 3 || !isAlnum(prefix[0]) || !isAlnum(prefix[1]) || !isAlnum(prefix[2]) {
				return fmt.Errorf("object %s: keyPrefix must be 3 letters or digits", obj.Name)
			} else if o.byPrefix[prefix] != nil {
				return fmt.Errorf("object %s: keyPrefix %s is already used by %s", obj.Name, prefix, o.byPrefix[prefix].name)
			}
			d = newObjectDef(obj.Name, obj.Label, prefix)
			if d.field("Name") == nil {
				d.addField(mustField(Field{Name: "Name", Label: d.label + " Name", Type: TypeString, Length: 80, Required: true}))
			}
			o.addObject(d)
		}
		for _, f := range obj.Fields {
			// RecordTypeId is the standard field an object gets with its
			// first record type.
			if !d.custom && !strings.HasSuffix(f.Name, "__c") && d.field(f.Name) == nil && !strings.EqualFold(f.Name, "RecordTypeId") {
				return fmt.Errorf("object %s: new field %s on a standard object must end in __c", obj.Name, f.Name)
			}
			if old := d.field(f.Name); old != nil && old.sys != sysNone {
				return fmt.Errorf("object %s: field %s is a system field", obj.Name, f.Name)
			}
			fd, err := newFieldDef(f)
			if err != nil {
				return fmt.Errorf("object %s: %w", obj.Name, err)
			}
			d.addField(fd)
		}
		for _, r := range obj.OnSave {
			if err := d.addRule(r); err != nil {
				return fmt.Errorf("object %s: %w", obj.Name, err)
			}
		}
	}
	return o.link()
}

// link points reference fields at their target objects.
func (o *org) link() error {
	for _, d := range o.order {
		for _, f := range d.fields {
			if f.Type != TypeReference {
				continue
			}
			t := o.object(f.ReferenceTo)
			if t == nil {
				return fmt.Errorf("object %s: field %s refers to unknown object %s", d.name, f.Name, f.ReferenceTo)
			}
			f.target, f.ReferenceTo = t, t.name
		}
	}
	return nil
}

func (o *org) newRecordTime() int64 { return o.now().UnixNano() }

// lockFault decides, deterministically from the seed and the number of saves
// so far, whether this save hits the injected UNABLE_TO_LOCK_ROW.
func (o *org) lockFault() bool {
	if o.lockShare <= 0 {
		return false
	}
	o.lockSeq++
	h := fnv.New64a()
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(o.lockSeed >> (8 * i))
		b[8+i] = byte(o.lockSeq >> (8 * i))
	}
	h.Write(b[:])
	return float64(h.Sum64()%1_000_000)/1_000_000 < o.lockShare
}

// resolveRef checks an Id written to a reference field.
func (o *org) resolveRef(f *fieldDef, v string) (string, *apiError) {
	id, ok := normalizeID(v)
	if !ok {
		return "", newErr("MALFORMED_ID", f.Label+": id value of incorrect type: "+v, f.Name)
	}
	target := o.object(f.ReferenceTo)
	if id[:3] != target.keyPrefix {
		return "", newErr("FIELD_INTEGRITY_EXCEPTION", "field integrity exception: unknown ("+f.Label+": id value of incorrect type: "+v+")", f.Name)
	}
	r := target.tbl.byID[id]
	if r == nil {
		return "", newErr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
	}
	if r.deleted {
		return "", newErr("ENTITY_IS_DELETED", "entity is deleted")
	}
	return id, nil
}

// checkRecordType refuses a record type of another object, or an inactive
// one, in a reference to RecordType; id is a live RecordType's Id.
func (o *org) checkRecordType(obj *objectDef, f *fieldDef, id string) *apiError {
	if !strings.EqualFold(f.ReferenceTo, "RecordType") {
		return nil
	}
	rt := o.object("RecordType")
	r := rt.tbl.byID[id]
	if of, _ := rt.tbl.get(r, rt.field("SobjectType")).(string); !strings.EqualFold(of, obj.name) || rt.tbl.get(r, rt.field("IsActive")) != true {
		return newErr("INVALID_CROSS_REFERENCE_KEY", f.Label+": this ID value isn't valid for the user: "+id, f.Name)
	}
	return nil
}

// findByExt looks records up by an external id (or Id) value.
func (o *org) findByExt(obj *objectDef, f *fieldDef, key any) []*record {
	if f.sys == sysID {
		s, _ := key.(string)
		id, ok := normalizeID(s)
		if !ok {
			return nil
		}
		if r := obj.tbl.byID[id]; r != nil && !r.deleted {
			return []*record{r}
		}
		return nil
	}
	return obj.tbl.indexFor(f).lookup(indexKey(f, key))
}

func idList(rs []*record) string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.id
	}
	return "[" + strings.Join(ids, ", ") + "]"
}

// build applies an input on top of base (nil for an insert) and returns the
// new values, or the first error in the order Salesforce checks them.
func (o *org) build(obj *objectDef, in *input, base *record) ([]any, *apiError) {
	insert := base == nil
	if insert && in.id != "" {
		return nil, newErr("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", "Id")
	}
	var denied []string
	for _, iv := range in.vals {
		if (insert && !iv.f.createable) || (!insert && !iv.f.updateable) || iv.f.sys != sysNone {
			denied = append(denied, iv.f.Name)
		}
	}
	for _, rv := range in.refs {
		if (insert && !rv.ref.createable) || (!insert && !rv.ref.updateable) {
			denied = append(denied, rv.ref.Name)
		}
	}
	if denied != nil {
		return nil, newErr("INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: "+strings.Join(denied, ", ")+
			". Please check the security settings of this field and verify that it is read/write for your profile or permission set.", denied...)
	}
	vals := make([]any, obj.nData)
	if base != nil {
		copy(vals, base.vals)
	} else {
		for _, f := range obj.fields {
			if f.ord < 0 {
				continue
			}
			if f.Type == TypeBoolean {
				vals[f.ord] = false
			} else if f.defaultedOnCreate && len(f.Values) > 0 {
				vals[f.ord] = f.Values[0]
			}
		}
	}
	for _, iv := range in.vals {
		v := iv.v
		if v != nil {
			var err *apiError
			if v, err = checkValue(iv.f, v); err != nil {
				return nil, err
			}
			if iv.f.Type == TypeReference {
				s, _ := v.(string)
				if v, err = o.resolveRef(iv.f, s); err != nil {
					return nil, err
				}
				if err = o.checkRecordType(obj, iv.f, v.(string)); err != nil {
					return nil, err
				}
			}
		} else if iv.f.Type == TypeBoolean {
			v = false
		}
		vals[iv.f.ord] = v
	}
	for _, rv := range in.refs {
		for _, iv := range in.vals {
			if iv.f == rv.ref {
				return nil, newErr("INVALID_FIELD", "Cannot specify both an external ID reference "+rv.ref.RelationshipName+" and a salesforce id, "+rv.ref.Name)
			}
		}
		if rv.key == nil {
			vals[rv.ref.ord] = nil
			continue
		}
		parent := rv.ref.target
		if rv.ext.sys != sysID {
			// Fast path without allocating a match list: one parent.
			k := indexKey(rv.ext, rv.key)
			ix := parent.tbl.indexFor(rv.ext)
			if p := ix.one[k]; p != nil && len(ix.more[k]) == 0 {
				vals[rv.ref.ord] = p.id
				continue
			}
		}
		found := o.findByExt(parent, rv.ext, rv.key)
		switch len(found) {
		case 0:
			return nil, newErr("INVALID_FIELD", "Foreign key external ID: "+rv.raw+" not found for field "+rv.ext.Name+" in entity "+parent.name)
		case 1:
			vals[rv.ref.ord] = found[0].id
		default:
			return nil, newErr("DUPLICATE_EXTERNAL_ID", rv.ext.Label+": more than one record found for external id field: "+idList(found))
		}
	}
	if err := o.checkRecordTypeValues(obj, in, vals); err != nil {
		return nil, err
	}
	if len(obj.rules) > 0 {
		if err := obj.applyRules(vals); err != nil {
			return nil, err
		}
	}
	var missing []string
	for _, f := range obj.fields {
		if f.ord >= 0 && !f.nillable && !f.defaultedOnCreate && vals[f.ord] == nil {
			missing = append(missing, f.Name)
		}
	}
	if missing != nil {
		return nil, newErr("REQUIRED_FIELD_MISSING", "Required fields are missing: ["+strings.Join(missing, ", ")+"]", missing...)
	}
	for _, f := range obj.fields {
		if !f.Unique || f.ord < 0 || vals[f.ord] == nil {
			continue
		}
		ix := obj.tbl.indexFor(f)
		k := indexKey(f, vals[f.ord])
		if other := ix.one[k]; other != nil && other != base {
			return nil, newErr("DUPLICATE_VALUE", "duplicate value found: "+f.Name+" duplicates value on record with id: "+other.id)
		}
		for _, other := range ix.more[k] {
			if other != base {
				return nil, newErr("DUPLICATE_VALUE", "duplicate value found: "+f.Name+" duplicates value on record with id: "+other.id)
			}
		}
	}
	if o.lockFault() {
		what := "this record"
		if base != nil {
			what += " or 1 records: " + base.id
		}
		return nil, newErr("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to "+what)
	}
	return vals, nil
}

// insert creates a record. Callers hold o.mu.
func (o *org) insert(obj *objectDef, in *input, tx *txn) (string, *apiError) {
	vals, err := o.build(obj, in, nil)
	if err != nil {
		return "", err
	}
	now := o.newRecordTime()
	r := &record{id: o.ids.next(obj.keyPrefix), vals: vals, created: now, modified: now}
	t := obj.tbl
	// Index before appending: an index built lazily here scans t.recs and
	// must not find the new record there too.
	t.reindex(r, nil, vals)
	if n := len(t.recs); n > 0 {
		r.seq = t.recs[n-1].seq + 1
	}
	t.recs = append(t.recs, r)
	t.byID[r.id] = r
	tx.push(undo{t: t, r: r, inserted: true})
	return r.id, nil
}

// live returns the record an update or delete targets.
func (o *org) live(obj *objectDef, rawID string) (*record, *apiError) {
	id, ok := normalizeID(rawID)
	if !ok || id[:3] != obj.keyPrefix {
		return nil, newErr("MALFORMED_ID", obj.label+" ID: id value of incorrect type: "+rawID, "Id")
	}
	r := obj.tbl.byID[id]
	if r == nil || r.purged {
		return nil, errInvalidCrossRf
	}
	if r.deleted {
		return nil, errEntityDeleted
	}
	return r, nil
}

// errNoAccess is what Salesforce answers for a save on a record the user
// can see but not edit ("insufficient access rights on object id").
var errNoAccess = newErr("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")

// update changes a record. Callers hold o.mu.
func (o *org) update(obj *objectDef, r *record, in *input, tx *txn) *apiError {
	if o.readOnly[r.id] {
		return errNoAccess
	}
	vals, err := o.build(obj, in, r)
	if err != nil {
		return err
	}
	tx.push(undo{t: obj.tbl, r: r, vals: r.vals, modified: r.modified})
	obj.tbl.reindex(r, r.vals, vals)
	r.vals = vals
	r.modified = o.newRecordTime()
	return nil
}

// upsert matches on an external id field (or Id). A missing key inserts.
func (o *org) upsert(obj *objectDef, ext *fieldDef, key any, in *input, tx *txn) (string, bool, *apiError) {
	if key == nil {
		if ext.sys != sysID {
			in.vals = append(in.vals, inVal{f: ext})
		}
		id, err := o.insert(obj, in, tx)
		return id, err == nil, err
	}
	return o.upsertFound(obj, ext, key, o.findByExt(obj, ext, key), in, tx)
}

// upsertFound is upsert with the records the key matched already looked up.
func (o *org) upsertFound(obj *objectDef, ext *fieldDef, key any, found []*record, in *input, tx *txn) (string, bool, *apiError) {
	if key == nil {
		if ext.sys != sysID {
			in.vals = append(in.vals, inVal{f: ext})
		}
		id, err := o.insert(obj, in, tx)
		return id, err == nil, err
	}
	switch len(found) {
	case 0:
		if ext.sys == sysID {
			s, _ := key.(string)
			_, err := o.live(obj, s)
			if err == nil {
				err = errInvalidCrossRf
			}
			return "", false, err
		}
		in.vals = append(in.vals, inVal{f: ext, v: key})
		id, err := o.insert(obj, in, tx)
		return id, err == nil, err
	case 1:
		return found[0].id, false, o.update(obj, found[0], in, tx)
	}
	return "", false, newErr("DUPLICATE_EXTERNAL_ID", ext.Label+": more than one record found for external id field: "+idList(found))
}

// remove soft- or hard-deletes a record.
func (o *org) remove(obj *objectDef, r *record, hard bool, tx *txn) *apiError {
	if o.readOnly[r.id] {
		return errNoAccess
	}
	if o.lockFault() {
		return newErr("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records: "+r.id)
	}
	tx.push(undo{t: obj.tbl, r: r, vals: r.vals, modified: r.modified, deleted: r.deleted})
	obj.tbl.reindex(r, r.vals, nil)
	r.deleted = true
	r.modified = o.newRecordTime()
	if hard {
		r.purged = true
		delete(obj.tbl.byID, r.id)
	}
	return nil
}

// rollback undoes a transaction in reverse order.
func (o *org) rollback(tx *txn) {
	for i := len(tx.undos) - 1; i >= 0; i-- {
		u := tx.undos[i]
		t, r := u.t, u.r
		if u.inserted {
			t.reindex(r, r.vals, nil)
			delete(t.byID, r.id)
			if n := len(t.recs); n > 0 && t.recs[n-1] == r {
				t.recs = t.recs[:n-1]
			} else if j := slices.Index(t.recs, r); j >= 0 {
				t.recs = slices.Delete(t.recs, j, j+1)
			}
			continue
		}
		if r.deleted && !u.deleted {
			r.deleted, r.purged = false, false
			t.byID[r.id] = r
			t.reindex(r, nil, u.vals)
		} else {
			t.reindex(r, r.vals, u.vals)
		}
		r.vals, r.modified = u.vals, u.modified
	}
	tx.undos = nil
}
