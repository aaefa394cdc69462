package sftest

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Bulk API 2.0 query jobs ("Bulk API 2.0 Query"): POST jobs/query runs a
// SOQL query into a result set that GET jobs/query/{id}/results serves in
// pages of maxRecords rows, each page naming the next in Sforce-Locator.

// QueryJobInfo is a query job as Salesforce describes it.
type QueryJobInfo struct {
	ID                     string      `json:"id"`
	Operation              string      `json:"operation"`
	Object                 string      `json:"object"`
	CreatedByID            string      `json:"createdById"`
	CreatedDate            string      `json:"createdDate"`
	SystemModstamp         string      `json:"systemModstamp"`
	State                  string      `json:"state"`
	ConcurrencyMode        string      `json:"concurrencyMode"`
	ContentType            string      `json:"contentType"`
	APIVersion             json.Number `json:"apiVersion"`
	JobType                string      `json:"jobType"`
	LineEnding             string      `json:"lineEnding"`
	ColumnDelimiter        string      `json:"columnDelimiter"`
	NumberRecordsProcessed int         `json:"numberRecordsProcessed"`
	Retries                int         `json:"retries"`
	TotalProcessingTime    int         `json:"totalProcessingTime"`
}

type queryJob struct {
	info  QueryJobInfo
	cols  []string
	rows  [][]string
	delim byte
	eol   string
	polls int
}

// defaultMaxRecords is the page size of a results request without
// maxRecords.
const defaultMaxRecords = 50_000

func (s *Server) handleQueryJobs(c *reqCtx) {
	segs := c.segs[2:]
	switch {
	case len(segs) == 0 && c.r.Method == http.MethodPost:
		s.createQueryJob(c)
	case len(segs) == 0 && c.r.Method == http.MethodGet:
		s.mu.Lock()
		var list []QueryJobInfo
		for _, id := range s.queryJobOrder {
			list = append(list, s.queryJobs[id].info)
		}
		s.mu.Unlock()
		writeJSON(c.w, http.StatusOK, map[string]any{"done": true, "records": list, "nextRecordsUrl": nil})
	case len(segs) == 0:
		methodNotAllowed(c.w, c.r.Method, "GET", "POST")
	default:
		s.mu.Lock()
		j := s.queryJobs[segs[0]]
		s.mu.Unlock()
		if j == nil {
			writeErrors(c.w, http.StatusNotFound, errNotFound)
			return
		}
		switch {
		case len(segs) == 1 && c.r.Method == http.MethodGet:
			s.mu.Lock()
			// The first look finds the job in progress, later ones done.
			j.polls++
			if j.info.State == StateUploadComplete {
				j.info.State = StateInProgress
			} else if j.info.State == StateInProgress && j.polls > 1 {
				j.info.State = StateJobComplete
				j.info.NumberRecordsProcessed = len(j.rows)
			}
			info := j.info
			s.mu.Unlock()
			writeJSON(c.w, http.StatusOK, info)
		case len(segs) == 1 && c.r.Method == http.MethodPatch:
			s.abortQueryJob(c, j)
		case len(segs) == 1 && c.r.Method == http.MethodDelete:
			s.mu.Lock()
			delete(s.queryJobs, j.info.ID)
			for i, id := range s.queryJobOrder {
				if id == j.info.ID {
					s.queryJobOrder = append(s.queryJobOrder[:i], s.queryJobOrder[i+1:]...)
					break
				}
			}
			s.mu.Unlock()
			c.w.WriteHeader(http.StatusNoContent)
		case len(segs) == 1:
			methodNotAllowed(c.w, c.r.Method, "GET", "PATCH", "DELETE")
		case len(segs) == 2 && segs[1] == "results" && c.r.Method == http.MethodGet:
			s.queryResults(c, j)
		default:
			writeErrors(c.w, http.StatusNotFound, errNotFound)
		}
	}
}

func (s *Server) createQueryJob(c *reqCtx) {
	var b struct {
		Operation       string `json:"operation"`
		Query           string `json:"query"`
		ContentType     string `json:"contentType"`
		ColumnDelimiter string `json:"columnDelimiter"`
		LineEnding      string `json:"lineEnding"`
	}
	data, err := io.ReadAll(c.r.Body)
	if err == nil {
		err = json.Unmarshal(data, &b)
	}
	if err != nil {
		bulkErr(c.w, http.StatusBadRequest, "JSON_PARSER_ERROR", "Unexpected character in the job: "+err.Error())
		return
	}
	if b.ColumnDelimiter == "" {
		b.ColumnDelimiter = "COMMA"
	}
	if b.LineEnding == "" {
		b.LineEnding = "LF"
	}
	delim, okDelim := delimiters[b.ColumnDelimiter]
	switch {
	case b.Operation != "query" && b.Operation != "queryAll":
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", "InvalidJob : Invalid operation: "+b.Operation)
		return
	case b.ContentType != "" && b.ContentType != "CSV":
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", "InvalidJob : Invalid content type: "+b.ContentType)
		return
	case !okDelim:
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", "InvalidJob : Invalid column delimiter: "+b.ColumnDelimiter)
		return
	case b.LineEnding != "LF" && b.LineEnding != "CRLF":
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", "InvalidJob : Invalid line ending: "+b.LineEnding)
		return
	case strings.TrimSpace(b.Query) == "":
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", "InvalidJob : A query string has to be specified")
		return
	}
	s.org.mu.RLock()
	sq, qerr := parseSOQL(s.org, b.Query, s.org.now())
	if qerr != nil {
		s.org.mu.RUnlock()
		bulkErr(c.w, http.StatusBadRequest, qerr.code, qerr.message(b.Query))
		return
	}
	if sq.count {
		s.org.mu.RUnlock()
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", "InvalidJob : COUNT() is not supported by Bulk API 2.0 query")
		return
	}
	rows := s.org.run(sq, b.Operation == "queryAll")
	j := &queryJob{delim: byte(delim), eol: "\n"}
	if b.LineEnding == "CRLF" {
		j.eol = "\r\n"
	}
	var leaves []leafPath
	collectLeaves(sq.sel, "", nil, &leaves)
	for _, l := range leaves {
		j.cols = append(j.cols, l.name)
	}
	for i := range rows {
		j.rows = append(j.rows, s.csvRow(sq.obj, &rows[i], leaves))
	}
	s.org.mu.RUnlock()

	now := formatDateTime(time.Now())
	id := s.org.ids.next("750")
	j.info = QueryJobInfo{
		ID: id, Operation: b.Operation, Object: sq.obj.name, CreatedByID: userID, CreatedDate: now, SystemModstamp: now,
		State: StateUploadComplete, ConcurrencyMode: "Parallel", ContentType: "CSV", APIVersion: json.Number(c.ver.str),
		JobType: "V2Query", LineEnding: b.LineEnding, ColumnDelimiter: b.ColumnDelimiter,
	}
	s.mu.Lock()
	s.queryJobs[id] = j
	s.queryJobOrder = append(s.queryJobOrder, id)
	s.mu.Unlock()
	writeJSON(c.w, http.StatusOK, j.info)
}

func (s *Server) abortQueryJob(c *reqCtx, j *queryJob) {
	var b struct {
		State string `json:"state"`
	}
	data, err := io.ReadAll(c.r.Body)
	if err == nil {
		err = json.Unmarshal(data, &b)
	}
	if err != nil || b.State != StateAborted {
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", "InvalidJob : A query job can only be aborted")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if j.info.State == StateJobComplete || j.info.State == StateFailed {
		bulkErr(c.w, http.StatusConflict, "INVALIDJOBSTATE", "Job is already "+j.info.State)
		return
	}
	j.info.State = StateAborted
	writeJSON(c.w, http.StatusOK, j.info)
}

// queryResults serves one page: maxRecords rows from the locator's offset,
// with the header row on every page, Sforce-NumberOfRecords and the next
// page's Sforce-Locator ("null" on the last page).
func (s *Server) queryResults(c *reqCtx, j *queryJob) {
	q := c.r.URL.Query()
	s.mu.Lock()
	state := j.info.State
	s.mu.Unlock()
	if state != StateJobComplete {
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOBSTATE", "Job is not complete: "+state)
		return
	}
	max := defaultMaxRecords
	if v := q.Get("maxRecords"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			bulkErr(c.w, http.StatusBadRequest, "INVALIDREQUEST", "maxRecords must be a positive integer")
			return
		}
		max = n
	}
	start := 0
	if v := q.Get("locator"); v != "" {
		n, err := strconv.ParseInt(v, 36, 64)
		if err != nil || n < 0 || int(n) > len(j.rows) {
			bulkErr(c.w, http.StatusBadRequest, "INVALIDLOCATOR", "Invalid locator: "+v)
			return
		}
		start = int(n)
	}
	end := min(start+max, len(j.rows))
	next := "null"
	if end < len(j.rows) {
		// Opaque to clients: the next offset in base 36.
		next = strconv.FormatInt(int64(end), 36)
	}
	var b []byte
	b = j.appendRow(b, j.cols)
	for _, r := range j.rows[start:end] {
		b = j.appendRow(b, r)
	}
	h := c.w.Header()
	h.Set("Content-Type", "text/csv")
	h.Set("Sforce-Locator", next)
	h.Set("Sforce-NumberOfRecords", strconv.Itoa(end-start))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(b)
}

// appendRow writes cells with every cell quoted, as result files are.
func (j *queryJob) appendRow(b []byte, cells []string) []byte {
	for i, cell := range cells {
		if i > 0 {
			b = append(b, j.delim)
		}
		b = append(b, '"')
		b = append(b, strings.ReplaceAll(cell, `"`, `""`)...)
		b = append(b, '"')
	}
	return append(b, j.eol...)
}

// leafPath is one selected field: its column name (Account.Name) and the
// relationships leading to it.
type leafPath struct {
	name string
	rels []*selNode
	f    *fieldDef
}

func collectLeaves(n *selNode, prefix string, rels []*selNode, out *[]leafPath) {
	for _, k := range n.kids {
		if k.f != nil {
			*out = append(*out, leafPath{name: prefix + k.name, rels: rels, f: k.f})
			continue
		}
		collectLeaves(k, prefix+k.name+".", append(append([]*selNode(nil), rels...), k), out)
	}
}

// csvRow renders a record's selected fields as CSV cells: empty for null
// or an empty relationship. Callers hold org.mu for reading.
func (s *Server) csvRow(obj *objectDef, r *record, leaves []leafPath) []string {
	out := make([]string, len(leaves))
	for i, l := range leaves {
		cur, tbl := r, obj.tbl
		for _, rel := range l.rels {
			id, _ := cur.val(rel.rel).(string)
			p := rel.obj.tbl.byID[id]
			if id == "" || p == nil || p.deleted {
				cur = nil
				break
			}
			cur, tbl = p, rel.obj.tbl
		}
		if cur == nil {
			continue
		}
		out[i] = csvValue(l.f, tbl.get(cur, l.f))
	}
	return out
}

func csvValue(f *fieldDef, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	}
	return string(appendJSONValue(nil, f, v))
}
