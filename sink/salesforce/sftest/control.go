package sftest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// DefineObject adds a custom object, or custom fields to an existing object.
func (s *Server) DefineObject(obj Object) error { return s.org.define(obj) }

// AddRecordType makes an active record type of an object, with its
// DeveloperName and label, and gives the object a RecordTypeId field
// (a reference to RecordType, relationship RecordType) if it has none, as
// creating the first record type does on a real org. It returns the
// record type's Id.
func (s *Server) AddRecordType(object, developerName, label string) (string, error) {
	s.org.mu.RLock()
	obj := s.org.object(object)
	var has bool
	if obj != nil {
		has = obj.field("RecordTypeId") != nil
	}
	s.org.mu.RUnlock()
	if obj == nil {
		return "", fmt.Errorf("sftest: unknown object %s", object)
	}
	if !has {
		err := s.DefineObject(Object{Name: obj.name, Fields: []Field{{Name: "RecordTypeId", Label: "Record Type ID", Type: TypeReference,
			ReferenceTo: "RecordType", RelationshipName: "RecordType"}}})
		if err != nil {
			return "", err
		}
	}
	return s.Insert("RecordType", map[string]any{"Name": label, "DeveloperName": developerName, "SobjectType": obj.name, "IsActive": true})
}

// Insert seeds a record as a REST create would, and returns its Id. Values
// may be Go strings, numbers, bools, time.Time or nil; a relationship can be
// set through an external id: "Account": map[string]any{"External_Id__c": "A-1"}.
func (s *Server) Insert(object string, fields map[string]any) (string, error) {
	s.org.mu.Lock()
	defer s.org.mu.Unlock()
	obj := s.org.object(object)
	if obj == nil {
		return "", fmt.Errorf("sftest: unknown object %s", object)
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	members := make([]kv, len(keys))
	for i, k := range keys {
		members[i] = kv{k, fields[k]}
	}
	in, err := s.parseRecord(obj, members)
	if err == nil {
		var id string
		if id, err = s.org.insert(obj, in, nil); err == nil {
			return id, nil
		}
	}
	return "", fmt.Errorf("sftest: insert %s: %w", obj.name, err)
}

// ReadOnly makes records readable but not editable by the API user, as
// sharing rules or a record lock do on a real org: an update, upsert or
// delete of one of them fails with INSUFFICIENT_ACCESS_OR_READONLY, which
// tells a client the record still exists. Ids may have 15 or 18 characters.
func (s *Server) ReadOnly(ids ...string) {
	s.org.mu.Lock()
	defer s.org.mu.Unlock()
	if s.org.readOnly == nil {
		s.org.readOnly = map[string]bool{}
	}
	for _, id := range ids {
		if n, ok := normalizeID(id); ok {
			s.org.readOnly[n] = true
		}
	}
}

// Fault registers a fault and returns its id. Faults are checked in the
// order they were added; delays add up, and the first other fault that
// matches a request is applied to it.
func (s *Server) Fault(f Fault) int {
	if f.Kind == "" {
		f.Kind = FaultStatus
		if f.Delay > 0 && f.Status == 0 {
			f.Kind = FaultDelay
		}
	}
	if f.Kind == FaultStatus && f.Status == 0 {
		f.Status = http.StatusServiceUnavailable
	}
	left := f.Times
	if left <= 0 {
		left = -1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultSeq++
	s.faults = append(s.faults, &faultEntry{Fault: f, id: s.faultSeq, left: left})
	return s.faultSeq
}

// ClearFaults removes every registered fault (LockRows, FailJobs and lock
// contention are separate switches).
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// Faults returns the faults still active; Times holds what is left of it.
func (s *Server) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		ff := f.Fault
		if f.left > 0 {
			ff.Times = f.left
		}
		out = append(out, ff)
	}
	return out
}

// FailJobs makes the next n ingest jobs to start processing go to Failed
// with errorMessage (default "InternalServerError : Internal error").
func (s *Server) FailJobs(n int, errorMessage string) {
	if errorMessage == "" {
		errorMessage = "InternalServerError : Internal error"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.failJobs = append(s.failJobs, errorMessage)
	}
}

// LockRows makes a share (0..1) of record saves fail with UNABLE_TO_LOCK_ROW,
// chosen deterministically from seed. Zero turns it off.
func (s *Server) LockRows(share float64, seed int64) {
	s.org.mu.Lock()
	s.org.lockShare, s.org.lockSeed, s.org.lockSeq = share, uint64(seed), 0
	s.org.mu.Unlock()
}

// SetLockContention turns UNABLE_TO_LOCK_ROW between concurrent jobs that
// share a parent record on or off (see WithLockContention).
func (s *Server) SetLockContention(on bool) {
	s.mu.Lock()
	s.contention = on
	s.mu.Unlock()
}

// ExpireSessions ends every session now: the next API call with an existing
// token answers 401 INVALID_SESSION_ID.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		ss.expires = time.Time{}
	}
}

// Records returns every record of an object, deleted ones included
// (IsDeleted true), in creation order. Values are string, bool, float64
// (int64 for int fields) or nil. It returns nil for an unknown object.
func (s *Server) Records(object string) []map[string]any {
	s.org.mu.RLock()
	defer s.org.mu.RUnlock()
	obj := s.org.object(object)
	if obj == nil {
		return nil
	}
	out := make([]map[string]any, 0, len(obj.tbl.recs))
	for _, r := range obj.tbl.recs {
		if r.purged {
			continue
		}
		m := make(map[string]any, len(obj.fields))
		for _, f := range obj.fields {
			v := obj.tbl.get(r, f)
			if n, ok := v.(float64); ok && f.Type == TypeInt {
				v = int64(n)
			}
			m[f.Name] = v
		}
		out = append(out, m)
	}
	return out
}

// Jobs returns every ingest job, oldest first.
func (s *Server) Jobs() []JobInfo {
	s.mu.Lock()
	jobs := append([]*job(nil), s.jobOrder...)
	s.mu.Unlock()
	out := make([]JobInfo, len(jobs))
	for i, j := range jobs {
		out[i] = j.snapshot()
	}
	return out
}

// Requests returns the requests answered so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// APICalls is the number of API requests counted against the daily limit.
func (s *Server) APICalls() int { return int(s.apiCalls.Load()) }

// ResetRequests forgets the recorded requests and zeroes the API call count.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.requests = nil
	s.mu.Unlock()
	s.apiCalls.Store(0)
}

// control serves the /__sftest/ endpoints: the same switches and views as
// the Go methods, for clients in other processes.
func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/__sftest/"), "/")
	head, rest, _ := strings.Cut(p, "/")
	bad := func(err error) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	switch {
	case head == "faults" && r.Method == http.MethodGet:
		type out struct {
			Fault
			Delay string `json:"delay,omitempty"`
		}
		var list []out
		for _, f := range s.Faults() {
			o := out{Fault: f}
			if f.Delay > 0 {
				o.Delay = f.Delay.String()
			}
			list = append(list, o)
		}
		writeJSON(w, http.StatusOK, list)
	case head == "faults" && r.Method == http.MethodPost:
		var in struct {
			Kind   FaultKind `json:"kind"`
			Method string    `json:"method"`
			Path   string    `json:"path"`
			Status int       `json:"status"`
			Times  int       `json:"times"`
			Delay  string    `json:"delay"`
		}
		if err := strictJSON(r.Body, &in); err != nil {
			bad(err)
			return
		}
		if in.Kind != "" && !validKind(in.Kind) {
			bad(fmt.Errorf("unknown fault kind %q", in.Kind))
			return
		}
		f := Fault{Kind: in.Kind, Method: in.Method, Path: in.Path, Status: in.Status, Times: in.Times}
		if in.Delay != "" {
			d, err := time.ParseDuration(in.Delay)
			if err != nil {
				bad(err)
				return
			}
			f.Delay = d
		}
		writeJSON(w, http.StatusCreated, map[string]int{"id": s.Fault(f)})
	case head == "faults" && r.Method == http.MethodDelete:
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	case head == "expire-sessions" && r.Method == http.MethodPost:
		s.ExpireSessions()
		w.WriteHeader(http.StatusNoContent)
	case head == "lock-rows" && r.Method == http.MethodPost:
		var in struct {
			Share float64 `json:"share"`
			Seed  int64   `json:"seed"`
		}
		if err := strictJSON(r.Body, &in); err != nil {
			bad(err)
			return
		}
		if in.Share < 0 || in.Share > 1 {
			bad(fmt.Errorf("share must be between 0 and 1"))
			return
		}
		s.LockRows(in.Share, in.Seed)
		w.WriteHeader(http.StatusNoContent)
	case head == "lock-contention" && r.Method == http.MethodPost:
		var in struct {
			Enabled bool `json:"enabled"`
		}
		if err := strictJSON(r.Body, &in); err != nil {
			bad(err)
			return
		}
		s.SetLockContention(in.Enabled)
		w.WriteHeader(http.StatusNoContent)
	case head == "read-only" && r.Method == http.MethodPost:
		var in struct {
			IDs []string `json:"ids"`
		}
		if err := strictJSON(r.Body, &in); err != nil {
			bad(err)
			return
		}
		s.ReadOnly(in.IDs...)
		w.WriteHeader(http.StatusNoContent)
	case head == "fail-jobs" && r.Method == http.MethodPost:
		var in struct {
			Count   int    `json:"count"`
			Message string `json:"message"`
		}
		if err := strictJSON(r.Body, &in); err != nil {
			bad(err)
			return
		}
		if in.Count <= 0 {
			in.Count = 1
		}
		s.FailJobs(in.Count, in.Message)
		w.WriteHeader(http.StatusNoContent)
	case head == "records" && rest != "" && r.Method == http.MethodGet:
		recs := s.Records(rest)
		if recs == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown object " + rest})
			return
		}
		if r.URL.Query().Get("deleted") == "false" {
			live := recs[:0]
			for _, m := range recs {
				if m["IsDeleted"] != true {
					live = append(live, m)
				}
			}
			recs = live
		}
		writeJSON(w, http.StatusOK, recs)
	case head == "records" && rest != "" && r.Method == http.MethodPost:
		var fields map[string]any
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&fields); err != nil {
			bad(err)
			return
		}
		id, err := s.Insert(rest, fields)
		if err != nil {
			bad(err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"id": id})
	case head == "objects" && r.Method == http.MethodPost:
		data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			var sf *schemaFile
			if sf, err = parseSchema(data); err == nil {
				if sf.Auth != nil {
					err = fmt.Errorf("auth can only be configured when the server starts")
				} else {
					err = s.applySchema(sf)
				}
			}
		}
		if err != nil {
			bad(err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case head == "requests" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Requests())
	case head == "requests" && r.Method == http.MethodDelete:
		s.ResetRequests()
		w.WriteHeader(http.StatusNoContent)
	case head == "jobs" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Jobs())
	case head == "api-calls" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]int{"apiCalls": s.APICalls()})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown control endpoint " + r.Method + " " + r.URL.Path})
	}
}

func strictJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
