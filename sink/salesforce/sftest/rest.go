package sftest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const maxVersion = 64

type apiVersion struct {
	major int
	str   string // "58.0"
}

// parseVersion reads "58.0" (without the leading v).
func parseVersion(seg string) (apiVersion, bool) {
	maj, min, ok := strings.Cut(seg, ".")
	if !ok {
		return apiVersion{}, false
	}
	n, err := strconv.Atoi(maj)
	if err != nil || n < 20 || min != "0" {
		return apiVersion{}, false
	}
	return apiVersion{major: n, str: seg}, true
}

var releaseNames = []string{"Winter", "Spring", "Summer"}

func (s *Server) handleVersions(w http.ResponseWriter, r *http.Request) {
	type ver struct {
		Label   string `json:"label"`
		URL     string `json:"url"`
		Version string `json:"version"`
	}
	var out []ver
	for v := 20; v <= maxVersion; v++ {
		// API 20.0 was Winter '11; three releases a year since.
		year := 11 + (v-20+0)/3
		rel := releaseNames[(v-20)%3]
		if rel != "Winter" {
			year++
		}
		out = append(out, ver{Label: fmt.Sprintf("%s '%02d", rel, year%100), URL: fmt.Sprintf("/services/data/v%d.0", v), Version: fmt.Sprintf("%d.0", v)})
	}
	writeJSON(w, http.StatusOK, out)
}

// reqCtx carries what every REST handler needs.
type reqCtx struct {
	w    http.ResponseWriter
	r    *http.Request
	ver  apiVersion
	segs []string // path segments after /services/data/vXX.X/
}

func (c *reqCtx) base() string { return "/services/data/v" + c.ver.str }

func methodNotAllowed(w http.ResponseWriter, method string, allowed ...string) {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	writeErrors(w, http.StatusMethodNotAllowed, newErr("METHOD_NOT_ALLOWED",
		"HTTP Method '"+method+"' not allowed. Allowed are "+strings.Join(allowed, ",")))
}

func (s *Server) handleData(w http.ResponseWriter, r *http.Request) {
	// Segments are split before unescaping so that an external id value
	// may contain an escaped slash.
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/services/data/v")
	verSeg, tail, _ := strings.Cut(rest, "/")
	ver, ok := parseVersion(verSeg)
	if !ok {
		writeErrors(w, http.StatusNotFound, errNotFound)
		return
	}
	if !s.authenticate(r) {
		writeErrors(w, http.StatusUnauthorized, errSession)
		return
	}
	if s.APICalls() > s.cfg.apiLimit {
		writeErrors(w, http.StatusForbidden, errDailyLimit)
		return
	}
	tail = strings.TrimSuffix(tail, "/")
	var segs []string
	if tail != "" {
		for _, p := range strings.Split(tail, "/") {
			// EscapedPath only holds valid escapes, so this cannot fail.
			if u, err := url.PathUnescape(p); err == nil {
				p = u
			}
			segs = append(segs, p)
		}
	}
	c := &reqCtx{w: w, r: r, ver: ver, segs: segs}
	if len(segs) == 0 {
		s.handleResources(c)
		return
	}
	switch segs[0] {
	case "sobjects":
		s.handleSObjects(c)
	case "query", "queryAll":
		s.handleQuery(c, segs[0] == "queryAll")
	case "composite":
		if len(segs) >= 2 && segs[1] == "sobjects" && ver.major >= 42 {
			s.handleCollections(c)
			return
		}
		writeErrors(w, http.StatusNotFound, errNotFound)
	case "jobs":
		if len(segs) >= 2 && segs[1] == "ingest" && ver.major >= 41 {
			s.handleIngest(c)
			return
		}
		if len(segs) >= 2 && segs[1] == "query" && ver.major >= 47 {
			s.handleQueryJobs(c)
			return
		}
		writeErrors(w, http.StatusNotFound, errNotFound)
	case "ui-api":
		s.handleUIAPI(c)
	case "limits":
		if len(segs) != 1 {
			writeErrors(w, http.StatusNotFound, errNotFound)
			return
		}
		s.handleLimits(c)
	default:
		writeErrors(w, http.StatusNotFound, errNotFound)
	}
}

func (s *Server) handleResources(c *reqCtx) {
	b := c.base()
	writeJSON(c.w, http.StatusOK, map[string]string{
		"sobjects": b + "/sobjects", "query": b + "/query", "queryAll": b + "/queryAll",
		"limits": b + "/limits", "composite": b + "/composite", "jobs": b + "/jobs",
	})
}

type limit struct {
	Max       int `json:"Max"`
	Remaining int `json:"Remaining"`
}

func (s *Server) handleLimits(c *reqCtx) {
	if c.r.Method != http.MethodGet {
		methodNotAllowed(c.w, c.r.Method, "GET", "HEAD")
		return
	}
	s.mu.Lock()
	jobs := len(s.jobOrder)
	s.mu.Unlock()
	used := s.APICalls()
	writeJSON(c.w, http.StatusOK, map[string]limit{
		"DailyApiRequests":              {Max: s.cfg.apiLimit, Remaining: max(0, s.cfg.apiLimit-used)},
		"DailyBulkApiBatches":           {Max: 15000, Remaining: max(0, 15000-jobs)},
		"DailyBulkV2QueryJobs":          {Max: 10000, Remaining: 10000},
		"DailyBulkV2QueryFileStorageMB": {Max: 976562, Remaining: 976562},
		"DataStorageMB":                 {Max: 1024, Remaining: 1024},
		"FileStorageMB":                 {Max: 1024, Remaining: 1024},
		"DailyAsyncApexExecutions":      {Max: 250000, Remaining: 250000},
		"SingleEmail":                   {Max: 15, Remaining: 15},
	})
}

func readBody(r *http.Request, limit int64) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, limit))
}

// parseRecord turns a JSON record into an input for obj. Unknown fields and
// values of the wrong type fail the whole request, as the REST API's JSON
// reader does before any save runs.
func (s *Server) parseRecord(obj *objectDef, members []kv) (*input, *apiError) {
	in := &input{}
	for _, m := range members {
		if m.key == "attributes" {
			continue
		}
		f := obj.field(m.key)
		if f == nil {
			if rel := obj.relationship(m.key); rel != nil {
				rv, err := s.parseRelationship(rel, m.val)
				if err != nil {
					return nil, err
				}
				in.refs = append(in.refs, rv)
				continue
			}
			return nil, newErr("INVALID_FIELD", "No such column '"+m.key+"' on sobject of type "+obj.name)
		}
		if f.sys == sysID {
			sv, _ := m.val.(string)
			in.id = sv
			continue
		}
		v, err := coerceJSON(f, m.val)
		if err != nil {
			return nil, err
		}
		in.vals = append(in.vals, inVal{f: f, v: v})
	}
	return in, nil
}

func (s *Server) parseRelationship(ref *fieldDef, v any) (refVal, *apiError) {
	m, ok := v.(map[string]any)
	if v == nil {
		return refVal{ref: ref}, nil
	}
	if !ok {
		return refVal{}, jsonParseError(ref.ReferenceTo, v)
	}
	parent := s.org.object(ref.ReferenceTo)
	var rv refVal
	n := 0
	for k, val := range m {
		if k == "attributes" {
			continue
		}
		n++
		ext := parent.field(k)
		if ext == nil {
			return refVal{}, newErr("INVALID_FIELD", "No such column '"+k+"' on sobject of type "+parent.name)
		}
		if !ext.ExternalID && !ext.IDLookup {
			return refVal{}, newErr("INVALID_FIELD", "The "+ext.Name+" field is not an external ID or indexed field for "+parent.name)
		}
		key, err := coerceJSON(ext, val)
		if err != nil {
			return refVal{}, err
		}
		rv = refVal{ref: ref, ext: ext, key: key, raw: formatText(ext, key)}
	}
	if n != 1 {
		return refVal{}, newErr("INVALID_FIELD", "The "+ref.RelationshipName+" relationship must name exactly one external ID field")
	}
	return rv, nil
}

func (s *Server) handleSObjects(c *reqCtx) {
	segs := c.segs
	if len(segs) == 1 {
		if c.r.Method != http.MethodGet {
			methodNotAllowed(c.w, c.r.Method, "GET", "HEAD")
			return
		}
		s.handleGlobalDescribe(c)
		return
	}
	s.org.mu.RLock()
	obj := s.org.object(segs[1])
	s.org.mu.RUnlock()
	if obj == nil {
		writeErrors(c.w, http.StatusNotFound, errNotFound)
		return
	}
	switch len(segs) {
	case 2:
		switch c.r.Method {
		case http.MethodGet:
			writeJSON(c.w, http.StatusOK, map[string]any{"objectDescribe": s.describeSummary(obj, c), "recentItems": []any{}})
		case http.MethodPost:
			s.createOne(c, obj)
		default:
			methodNotAllowed(c.w, c.r.Method, "GET", "POST", "HEAD")
		}
	case 3:
		if c.r.Method == http.MethodPost && strings.EqualFold(segs[2], "Id") && c.ver.major >= 37 {
			// POST /sobjects/{Obj}/Id upserts with Id as the key and no
			// value: it always creates (API 37.0 and later).
			s.createOne(c, obj)
			return
		}
		if segs[2] == "describe" {
			if c.r.Method != http.MethodGet {
				methodNotAllowed(c.w, c.r.Method, "GET", "HEAD")
				return
			}
			s.org.mu.RLock()
			d := s.describe(obj, c)
			s.org.mu.RUnlock()
			writeJSON(c.w, http.StatusOK, d)
			return
		}
		switch c.r.Method {
		case http.MethodGet:
			s.getOne(c, obj, obj.field("Id"), segs[2])
		case http.MethodPatch:
			s.updateOne(c, obj, segs[2])
		case http.MethodDelete:
			s.deleteOne(c, obj, segs[2])
		default:
			methodNotAllowed(c.w, c.r.Method, "GET", "PATCH", "DELETE", "HEAD")
		}
	case 4:
		s.byExternalID(c, obj, segs[2], segs[3])
	default:
		writeErrors(c.w, http.StatusNotFound, errNotFound)
	}
}

func (s *Server) readRecord(c *reqCtx, obj *objectDef) (*input, bool) {
	body, err := readBody(c.r, 64<<20)
	if err != nil {
		writeErrors(c.w, http.StatusBadRequest, newErr("JSON_PARSER_ERROR", "Unable to read request body"))
		return nil, false
	}
	members, err := decodeObject(body)
	if err != nil {
		writeErrors(c.w, http.StatusBadRequest, newErr("JSON_PARSER_ERROR", "Unexpected character or end of input: "+err.Error()))
		return nil, false
	}
	s.org.mu.RLock()
	in, aerr := s.parseRecord(obj, members)
	s.org.mu.RUnlock()
	if aerr != nil {
		writeErrors(c.w, http.StatusBadRequest, aerr)
		return nil, false
	}
	return in, true
}

type saveResult struct {
	ID      *string     `json:"id"`
	Success bool        `json:"success"`
	Errors  []saveError `json:"errors"`
	Created *bool       `json:"created,omitempty"`
}

func okResult(id string) saveResult {
	return saveResult{ID: &id, Success: true, Errors: []saveError{}}
}

func (s *Server) createOne(c *reqCtx, obj *objectDef) {
	in, ok := s.readRecord(c, obj)
	if !ok {
		return
	}
	contention := s.lockContention()
	s.lockForREST(contention, in)
	err := s.restLock(contention, in)
	var id string
	if err == nil {
		id, err = s.org.insert(obj, in, nil)
	}
	s.org.mu.Unlock()
	if err != nil {
		writeErrors(c.w, http.StatusBadRequest, err)
		return
	}
	c.w.Header().Set("Location", c.base()+"/sobjects/"+obj.name+"/"+id)
	writeJSON(c.w, http.StatusCreated, okResult(id))
}

func (s *Server) updateOne(c *reqCtx, obj *objectDef, rawID string) {
	in, ok := s.readRecord(c, obj)
	if !ok {
		return
	}
	contention := s.lockContention()
	s.lockForREST(contention, in)
	defer s.org.mu.Unlock()
	r, err := s.org.live(obj, rawID)
	if err == nil {
		if err = s.restLock(contention, in); err == nil {
			err = s.org.update(obj, r, in, nil)
		}
	} else if err == errInvalidCrossRf || err == errEntityDeleted {
		// A single-record PATCH on an unknown or deleted Id is a missing
		// resource, not a save error.
		writeErrors(c.w, http.StatusNotFound, errNotFound)
		return
	}
	if err != nil {
		writeErrors(c.w, http.StatusBadRequest, err)
		return
	}
	c.w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deleteOne(c *reqCtx, obj *objectDef, rawID string) {
	s.org.mu.Lock()
	defer s.org.mu.Unlock()
	r, err := s.org.live(obj, rawID)
	switch {
	case err == errEntityDeleted:
		writeErrors(c.w, http.StatusNotFound, errEntityDeleted)
		return
	case err == errInvalidCrossRf:
		writeErrors(c.w, http.StatusNotFound, errNotFound)
		return
	case err != nil:
		writeErrors(c.w, http.StatusBadRequest, err)
		return
	}
	if err := s.org.remove(obj, r, false, nil); err != nil {
		writeErrors(c.w, http.StatusBadRequest, err)
		return
	}
	c.w.WriteHeader(http.StatusNoContent)
}

// selectFields parses ?fields=; nil means every field.
func selectFields(obj *objectDef, q string) ([]*fieldDef, *apiError) {
	if q == "" {
		return obj.fields, nil
	}
	var out []*fieldDef
	for _, name := range strings.Split(q, ",") {
		name = strings.TrimSpace(name)
		f := obj.field(name)
		if f == nil {
			return nil, newErr("INVALID_FIELD", "No such column '"+name+"' on entity '"+obj.name+"'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.")
		}
		out = append(out, f)
	}
	return out, nil
}

func (s *Server) renderRecord(b []byte, c *reqCtx, obj *objectDef, r *record, fields []*fieldDef) []byte {
	b = append(b, `{"attributes":{"type":`...)
	b = appendJSONString(b, obj.name)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, c.base()+"/sobjects/"+obj.name+"/"+r.id)
	b = append(b, '}')
	for _, f := range fields {
		b = append(b, ',')
		b = appendJSONString(b, f.Name)
		b = append(b, ':')
		b = appendJSONValue(b, f, obj.tbl.get(r, f))
	}
	return append(b, '}')
}

func (s *Server) getOne(c *reqCtx, obj *objectDef, key *fieldDef, raw string) {
	s.org.mu.RLock()
	defer s.org.mu.RUnlock()
	fields, err := selectFields(obj, c.r.URL.Query().Get("fields"))
	if err != nil {
		writeErrors(c.w, http.StatusBadRequest, err)
		return
	}
	var found []*record
	if key.sys == sysID {
		id, ok := normalizeID(raw)
		if !ok || id[:3] != obj.keyPrefix {
			writeErrors(c.w, http.StatusNotFound, newErr("NOT_FOUND", "Provided external ID field does not exist or is not accessible: "+raw))
			return
		}
		if r := obj.tbl.byID[id]; r != nil && !r.deleted {
			found = []*record{r}
		}
	} else {
		kv, err := coerceText(key, raw)
		if err != nil {
			writeErrors(c.w, http.StatusBadRequest, err)
			return
		}
		found = s.org.findByExt(obj, key, kv)
	}
	switch len(found) {
	case 0:
		writeErrors(c.w, http.StatusNotFound, errNotFound)
	case 1:
		c.w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		c.w.WriteHeader(http.StatusOK)
		_, _ = c.w.Write(s.renderRecord(nil, c, obj, found[0], fields))
	default:
		writeMultipleChoices(c, obj, found)
	}
}

func writeMultipleChoices(c *reqCtx, obj *objectDef, found []*record) {
	urls := make([]string, len(found))
	for i, r := range found {
		urls[i] = c.base() + "/sobjects/" + obj.name + "/" + r.id
	}
	writeJSON(c.w, http.StatusMultipleChoices, urls)
}

// byExternalID serves /sobjects/{Obj}/{Field}/{value}: GET reads, PATCH
// upserts, DELETE deletes by external id.
func (s *Server) byExternalID(c *reqCtx, obj *objectDef, fieldName, value string) {
	s.org.mu.RLock()
	f := obj.field(fieldName)
	s.org.mu.RUnlock()
	if f == nil {
		writeErrors(c.w, http.StatusNotFound, newErr("NOT_FOUND", "Provided external ID field does not exist or is not accessible: "+fieldName))
		return
	}
	if f.sys != sysID && !f.ExternalID && !f.IDLookup {
		writeErrors(c.w, http.StatusBadRequest, newErr("INVALID_FIELD", "Field name provided, "+f.Name+" does not match an External ID, Salesforce Id, or indexed field for "+obj.name))
		return
	}
	switch c.r.Method {
	case http.MethodGet:
		s.getOne(c, obj, f, value)
	case http.MethodPatch:
		s.upsertOne(c, obj, f, value)
	case http.MethodDelete:
		s.deleteByExt(c, obj, f, value)
	default:
		methodNotAllowed(c.w, c.r.Method, "GET", "PATCH", "DELETE", "HEAD")
	}
}

func (s *Server) upsertOne(c *reqCtx, obj *objectDef, f *fieldDef, value string) {
	if f.sys == sysID {
		// "In REST API, upsert uses external ids, not record ids": a record
		// is updated through /sobjects/{Obj}/{id}, created through a POST to
		// /sobjects/{Obj}/Id.
		writeErrors(c.w, http.StatusBadRequest, newErr("INVALID_FIELD", "Field name provided, Id is a record id; upsert needs an External ID field of "+obj.name))
		return
	}
	if !f.ExternalID {
		writeErrors(c.w, http.StatusBadRequest, newErr("INVALID_FIELD", "Field name provided, "+f.Name+" does not match an External ID, Salesforce Id, or indexed field for "+obj.name))
		return
	}
	in, ok := s.readRecord(c, obj)
	if !ok {
		return
	}
	for _, iv := range in.vals {
		if iv.f == f {
			writeErrors(c.w, http.StatusBadRequest, newErr("INVALID_FIELD", "The field "+f.Name+" was specified in the URL and the body; specify it only in the URL"))
			return
		}
	}
	key, kerr := coerceText(f, value)
	if kerr != nil {
		writeErrors(c.w, http.StatusBadRequest, kerr)
		return
	}
	contention := s.lockContention()
	s.lockForREST(contention, in)
	defer s.org.mu.Unlock()
	if found := s.org.findByExt(obj, f, key); len(found) > 1 {
		writeMultipleChoices(c, obj, found)
		return
	}
	if err := s.restLock(contention, in); err != nil {
		writeErrors(c.w, http.StatusBadRequest, err)
		return
	}
	id, created, err := s.org.upsert(obj, f, key, in, nil)
	if err != nil {
		writeErrors(c.w, http.StatusBadRequest, err)
		return
	}
	res := okResult(id)
	res.Created = &created
	if created {
		c.w.Header().Set("Location", c.base()+"/sobjects/"+obj.name+"/"+id)
		writeJSON(c.w, http.StatusCreated, res)
		return
	}
	if c.ver.major < 46 {
		// Before API 46.0 an update through upsert answered 204 with no body.
		c.w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(c.w, http.StatusOK, res)
}

func (s *Server) deleteByExt(c *reqCtx, obj *objectDef, f *fieldDef, value string) {
	if f.sys == sysID {
		s.deleteOne(c, obj, value)
		return
	}
	key, err := coerceText(f, value)
	if err != nil {
		writeErrors(c.w, http.StatusBadRequest, err)
		return
	}
	s.org.mu.Lock()
	defer s.org.mu.Unlock()
	found := s.org.findByExt(obj, f, key)
	switch len(found) {
	case 0:
		writeErrors(c.w, http.StatusNotFound, errNotFound)
	case 1:
		if err := s.org.remove(obj, found[0], false, nil); err != nil {
			writeErrors(c.w, http.StatusBadRequest, err)
			return
		}
		c.w.WriteHeader(http.StatusNoContent)
	default:
		writeMultipleChoices(c, obj, found)
	}
}

// decodeJSON decodes a whole body, answering JSON_PARSER_ERROR on failure.
func decodeJSON(c *reqCtx, v any) bool {
	body, err := readBody(c.r, 64<<20)
	if err == nil {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.UseNumber()
		err = dec.Decode(v)
	}
	if err != nil {
		writeErrors(c.w, http.StatusBadRequest, newErr("JSON_PARSER_ERROR", "Unexpected character or end of input: "+err.Error()))
		return false
	}
	return true
}
