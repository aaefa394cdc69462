package sftest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Record types narrow a picklist's values: an administrator picks, per
// record type, which of the field's values its records may hold, and
// Salesforce serves them per record type through the User Interface API
// ("Get Values for All Picklist Fields of a Record Type":
// /ui-api/object-info/{objectApiName}/picklist-values/{recordTypeId}).
// The emulator refuses, on save, a value of a restricted picklist that the
// record's record type does not have, with the code and message of any
// value outside a restricted picklist (INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST).

// masterRecordType is the Id Salesforce gives the master record type, the
// one an object without record types has.
const masterRecordType = "012000000000000AAA"

// recordTypeSubsets checks RecordTypeValues and indexes them.
func (d *fieldDef) recordTypeSubsets() error {
	if len(d.RecordTypeValues) == 0 {
		return nil
	}
	if d.Type != TypePicklist || !d.Restricted {
		return fmt.Errorf("field %s: recordTypeValues needs a restricted picklist", d.Name)
	}
	d.rtValues = make(map[string]map[string]bool, len(d.RecordTypeValues))
	for rt, vals := range d.RecordTypeValues {
		set := make(map[string]bool, len(vals))
		for _, v := range vals {
			if _, ok := d.valueSet[strings.ToLower(v)]; !ok {
				return fmt.Errorf("field %s: record type %s: %q is not one of the field's values", d.Name, rt, v)
			}
			set[strings.ToLower(v)] = true
		}
		d.rtValues[strings.ToLower(rt)] = set
	}
	return nil
}

// recordTypeName is the lower-case DeveloperName of the record type of
// the values a save leaves, "" when it has none. Callers hold o.mu.
func (o *org) recordTypeName(obj *objectDef, vals []any) string {
	f := obj.field("RecordTypeId")
	if f == nil || f.ord < 0 {
		return ""
	}
	id, _ := vals[f.ord].(string)
	rt := o.object("RecordType")
	if id == "" || rt == nil {
		return ""
	}
	r := rt.tbl.byID[id]
	if r == nil {
		return ""
	}
	name, _ := rt.tbl.get(r, rt.field("DeveloperName")).(string)
	return strings.ToLower(name)
}

// checkRecordTypeValues refuses a value of a restricted picklist that the
// record's record type does not have: for the picklists the save writes,
// and for all of them when it sets the record type. Callers hold o.mu.
func (o *org) checkRecordTypeValues(obj *objectDef, in *input, vals []any) *apiError {
	var narrowed []*fieldDef
	for _, f := range obj.fields {
		if f.rtValues != nil && f.ord >= 0 {
			narrowed = append(narrowed, f)
		}
	}
	if narrowed == nil {
		return nil
	}
	rt := o.recordTypeName(obj, vals)
	if rt == "" {
		return nil
	}
	all := slices.ContainsFunc(in.vals, func(iv inVal) bool { return strings.EqualFold(iv.f.Name, "RecordTypeId") })
	for _, f := range narrowed {
		set, ok := f.rtValues[rt]
		if !ok {
			continue
		}
		written := all || slices.ContainsFunc(in.vals, func(iv inVal) bool { return iv.f == f })
		v, _ := vals[f.ord].(string)
		if !written || v == "" || set[strings.ToLower(v)] {
			continue
		}
		return newErr("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", f.Label+": bad value for restricted picklist field: "+v, f.Name)
	}
	return nil
}

// handleUIAPI serves GET ui-api/object-info/{object}/picklist-values/{recordTypeId}:
// every picklist of the object with the values the record type has (all
// of them for the master record type, or a record type that narrows
// nothing), in the shape of the User Interface API's Picklist Values
// Collection.
func (s *Server) handleUIAPI(c *reqCtx) {
	segs := c.segs
	if len(segs) != 5 || segs[1] != "object-info" || segs[3] != "picklist-values" {
		writeErrors(c.w, http.StatusNotFound, errNotFound)
		return
	}
	if c.r.Method != http.MethodGet {
		methodNotAllowed(c.w, c.r.Method, "GET")
		return
	}
	s.org.mu.RLock()
	defer s.org.mu.RUnlock()
	obj := s.org.object(segs[2])
	if obj == nil {
		writeErrors(c.w, http.StatusNotFound, newErr("NOT_FOUND", "The requested resource does not exist"))
		return
	}
	rtID, rtName := segs[4], ""
	if rtID != masterRecordType {
		rt := s.org.object("RecordType")
		var r *record
		if rt != nil {
			if id, ok := normalizeID(rtID); ok {
				r = rt.tbl.byID[id]
			}
		}
		if r == nil {
			writeErrors(c.w, http.StatusNotFound, newErr("NOT_FOUND", "The requested resource does not exist"))
			return
		}
		if of, _ := rt.tbl.get(r, rt.field("SobjectType")).(string); !strings.EqualFold(of, obj.name) {
			writeErrors(c.w, http.StatusNotFound, newErr("NOT_FOUND", "The requested resource does not exist"))
			return
		}
		name, _ := rt.tbl.get(r, rt.field("DeveloperName")).(string)
		rtName = strings.ToLower(name)
	}
	fields := map[string]any{}
	for _, f := range obj.fields {
		if f.Type != TypePicklist {
			continue
		}
		set := f.rtValues[rtName]
		values := []any{}
		for _, v := range f.Values {
			if set != nil && !set[strings.ToLower(v)] {
				continue
			}
			values = append(values, map[string]any{"attributes": nil, "label": v, "validFor": []any{}, "value": v})
		}
		fields[f.Name] = map[string]any{"controllerValues": map[string]any{}, "defaultValue": nil,
			"url": c.base() + "/ui-api/object-info/" + obj.name + "/picklist-values/" + rtID + "/" + f.Name, "values": values}
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"picklistFieldValues": fields})
}
