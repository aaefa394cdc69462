package sftest

import (
	"encoding/json"
	"net/http"
	"strings"
)

const maxCollection = 200

var errTooMany = newErr("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call")

type collectionBody struct {
	AllOrNone bool              `json:"allOrNone"`
	Records   []json.RawMessage `json:"records"`
}

type parsedRec struct {
	obj *objectDef
	in  *input
	key any // upsert: external id value
	raw string
}

// handleCollections serves /composite/sobjects: POST creates, PATCH updates
// (or upserts with /{Object}/{ExternalIdField}), DELETE deletes by ?ids=.
func (s *Server) handleCollections(c *reqCtx) {
	segs := c.segs[2:]
	switch {
	case len(segs) == 0 && c.r.Method == http.MethodPost:
		s.collectionSave(c, "insert", nil, nil)
	case len(segs) == 0 && c.r.Method == http.MethodPatch:
		s.collectionSave(c, "update", nil, nil)
	case len(segs) == 0 && c.r.Method == http.MethodDelete:
		s.collectionDelete(c)
	case len(segs) == 2 && c.r.Method == http.MethodPatch:
		if c.ver.major < 46 {
			writeErrors(c.w, http.StatusNotFound, errNotFound)
			return
		}
		s.org.mu.RLock()
		obj := s.org.object(segs[0])
		var ext *fieldDef
		if obj != nil {
			ext = obj.field(segs[1])
		}
		s.org.mu.RUnlock()
		switch {
		case obj == nil:
			writeErrors(c.w, http.StatusNotFound, errNotFound)
		case ext == nil:
			writeErrors(c.w, http.StatusNotFound, newErr("NOT_FOUND", "Provided external ID field does not exist or is not accessible: "+segs[1]))
		case ext.sys == sysID:
			// "Only external ids are supported. Don't use record ids."
			writeErrors(c.w, http.StatusBadRequest, newErr("INVALID_FIELD", "Field name provided, "+ext.Name+" is a record id; upsert through sObject Collections needs an External ID field of "+obj.name))
		case !ext.ExternalID:
			writeErrors(c.w, http.StatusBadRequest, newErr("INVALID_FIELD", "Field name provided, "+ext.Name+" does not match an External ID, Salesforce Id, or indexed field for "+obj.name))
		default:
			s.collectionSave(c, "upsert", obj, ext)
		}
	case len(segs) == 0 || len(segs) == 2:
		methodNotAllowed(c.w, c.r.Method, "GET", "POST", "PATCH", "DELETE")
	default:
		writeErrors(c.w, http.StatusNotFound, errNotFound)
	}
}

func (s *Server) collectionSave(c *reqCtx, op string, upsertObj *objectDef, ext *fieldDef) {
	var body collectionBody
	if !decodeJSON(c, &body) {
		return
	}
	if len(body.Records) > maxCollection {
		writeErrors(c.w, http.StatusBadRequest, errTooMany)
		return
	}
	recs := make([]parsedRec, len(body.Records))
	s.org.mu.RLock()
	for i, raw := range body.Records {
		members, err := decodeObject(raw)
		if err != nil {
			s.org.mu.RUnlock()
			writeErrors(c.w, http.StatusBadRequest, newErr("JSON_PARSER_ERROR", "Unexpected character or end of input: "+err.Error()))
			return
		}
		typ := ""
		for _, m := range members {
			if m.key == "attributes" {
				if a, ok := m.val.(map[string]any); ok {
					typ, _ = a["type"].(string)
				}
			}
		}
		obj := s.org.object(typ)
		if upsertObj != nil && (typ == "" || obj == upsertObj) {
			obj = upsertObj
		}
		if obj == nil {
			s.org.mu.RUnlock()
			if typ == "" {
				writeErrors(c.w, http.StatusBadRequest, newErr("INVALID_TYPE", "Must send a concrete entity type."))
			} else {
				writeErrors(c.w, http.StatusBadRequest, newErr("INVALID_TYPE", "sObject type '"+typ+"' is not supported."))
			}
			return
		}
		if upsertObj != nil && obj != upsertObj {
			s.org.mu.RUnlock()
			writeErrors(c.w, http.StatusBadRequest, newErr("INVALID_TYPE", "Upsert by external ID needs every record to be of type "+upsertObj.name))
			return
		}
		in, aerr := s.parseRecord(obj, members)
		if aerr != nil {
			s.org.mu.RUnlock()
			writeErrors(c.w, http.StatusBadRequest, aerr)
			return
		}
		pr := parsedRec{obj: obj, in: in}
		if ext != nil {
			if ext.sys == sysID {
				if in.id != "" {
					pr.key, pr.raw = in.id, in.id
				}
				in.id = ""
			} else {
				vals := in.vals[:0]
				for _, iv := range in.vals {
					if iv.f == ext {
						pr.key, pr.raw = iv.v, formatText(ext, iv.v)
						continue
					}
					vals = append(vals, iv)
				}
				in.vals = vals
			}
		}
		recs[i] = pr
	}
	s.org.mu.RUnlock()

	// The same external id twice in one request fails every occurrence.
	dupKeys := map[string]int{}
	if ext != nil {
		for _, pr := range recs {
			if pr.key != nil {
				dupKeys[indexKey(ext, pr.key)]++
			}
		}
	}

	results := make([]saveResult, len(recs))
	failed := false
	tx := &txn{}
	contention := s.lockContention()
	ins := make([]*input, len(recs))
	for i := range recs {
		ins[i] = recs[i].in
	}
	s.lockForREST(contention, ins...)
	for i, pr := range recs {
		var id string
		var created bool
		err := s.restLock(contention, pr.in)
		switch {
		case err != nil:
		case op == "insert":
			id, err = s.org.insert(pr.obj, pr.in, tx)
			created = err == nil
		case op == "update":
			if pr.in.id == "" {
				err = newErr("MISSING_ARGUMENT", "Id not specified in an update call")
				break
			}
			var r *record
			if r, err = s.org.live(pr.obj, pr.in.id); err == nil {
				id = r.id
				err = s.org.update(pr.obj, r, pr.in, tx)
			}
		case op == "upsert":
			if pr.key != nil && dupKeys[indexKey(ext, pr.key)] > 1 {
				err = newErr("DUPLICATE_VALUE", "Duplicate external id specified: "+pr.raw, ext.Name)
				break
			}
			id, created, err = s.org.upsert(pr.obj, ext, pr.key, pr.in, tx)
		}
		if err != nil {
			failed = true
			results[i] = saveResult{Success: false, Errors: []saveError{err.save()}}
			if op == "update" && pr.in.id != "" {
				if nid, ok := normalizeID(pr.in.id); ok {
					results[i].ID = &nid
				}
			}
		} else {
			results[i] = okResult(id)
		}
		if op == "upsert" {
			cr := created
			results[i].Created = &cr
		}
	}
	if failed && body.AllOrNone {
		s.org.rollback(tx)
		for i := range results {
			if results[i].Success {
				f := false
				results[i] = saveResult{Success: false, Errors: []saveError{errRolledBack.save()}}
				if op == "upsert" {
					results[i].Created = &f
				}
			}
		}
	}
	s.org.mu.Unlock()
	writeJSON(c.w, http.StatusOK, results)
}

func (s *Server) collectionDelete(c *reqCtx) {
	q := c.r.URL.Query()
	raw := q.Get("ids")
	if raw == "" {
		writeErrors(c.w, http.StatusBadRequest, newErr("MISSING_ARGUMENT", "ids not specified"))
		return
	}
	ids := strings.Split(raw, ",")
	if len(ids) > maxCollection {
		writeErrors(c.w, http.StatusBadRequest, errTooMany)
		return
	}
	allOrNone := strings.EqualFold(q.Get("allOrNone"), "true")
	results := make([]saveResult, len(ids))
	failed := false
	tx := &txn{}
	s.org.mu.Lock()
	for i, id := range ids {
		id = strings.TrimSpace(id)
		res := saveResult{Errors: []saveError{}}
		var err *apiError
		nid, ok := normalizeID(id)
		var obj *objectDef
		if ok {
			obj = s.org.byPrefix[nid[:3]]
			res.ID = &nid
		}
		switch {
		case !ok:
			err = newErr("MALFORMED_ID", "malformed id "+id)
			idCopy := id
			res.ID = &idCopy
		case obj == nil:
			err = errInvalidCrossRf
		default:
			var r *record
			if r, err = s.org.live(obj, nid); err == nil {
				err = s.org.remove(obj, r, false, tx)
			}
		}
		if err != nil {
			failed = true
			res.Errors = []saveError{err.save()}
		} else {
			res.Success = true
		}
		results[i] = res
	}
	if failed && allOrNone {
		s.org.rollback(tx)
		for i := range results {
			if results[i].Success {
				results[i] = saveResult{ID: results[i].ID, Errors: []saveError{errRolledBack.save()}}
			}
		}
	}
	s.org.mu.Unlock()
	writeJSON(c.w, http.StatusOK, results)
}
