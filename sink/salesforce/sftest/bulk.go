package sftest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bulk API 2.0 job states.
const (
	StateOpen           = "Open"
	StateUploadComplete = "UploadComplete"
	StateInProgress     = "InProgress"
	StateJobComplete    = "JobComplete"
	StateFailed         = "Failed"
	StateAborted        = "Aborted"
)

// chunkSize is how many rows are saved per lock acquisition, matching the
// 200-record chunks (transactions) Salesforce splits bulk loads into.
const chunkSize = 200

// JobInfo is a Bulk API 2.0 ingest job as the API describes it.
type JobInfo struct {
	ID                      string      `json:"id"`
	Operation               string      `json:"operation"`
	Object                  string      `json:"object"`
	CreatedByID             string      `json:"createdById"`
	CreatedDate             string      `json:"createdDate"`
	SystemModstamp          string      `json:"systemModstamp"`
	State                   string      `json:"state"`
	ExternalIDFieldName     string      `json:"externalIdFieldName,omitempty"`
	ConcurrencyMode         string      `json:"concurrencyMode"`
	ContentType             string      `json:"contentType"`
	APIVersion              json.Number `json:"apiVersion"`
	JobType                 string      `json:"jobType"`
	ContentURL              string      `json:"contentUrl"`
	LineEnding              string      `json:"lineEnding"`
	ColumnDelimiter         string      `json:"columnDelimiter"`
	NumberRecordsProcessed  int         `json:"numberRecordsProcessed"`
	NumberRecordsFailed     int         `json:"numberRecordsFailed"`
	Retries                 int         `json:"retries"`
	TotalProcessingTime     int64       `json:"totalProcessingTime"`
	APIActiveProcessingTime int64       `json:"apiActiveProcessingTime"`
	ApexProcessingTime      int64       `json:"apexProcessingTime"`
	ErrorMessage            string      `json:"errorMessage,omitempty"`
}

var delimiters = map[string]rune{"COMMA": ',', "TAB": '\t', "PIPE": '|', "SEMICOLON": ';', "CARET": '^', "BACKQUOTE": '`'}

var bulkOps = map[string]bool{"insert": true, "update": true, "upsert": true, "delete": true, "hardDelete": true}

// resultSet is one result file, kept as CSV rows in a single buffer with
// row offsets so it can be served in any order without re-encoding.
type resultSet struct {
	buf  []byte
	offs []int // start of each row
}

func (rs *resultSet) begin() { rs.offs = append(rs.offs, len(rs.buf)) }

type job struct {
	info   JobInfo // guarded by mu
	obj    *objectDef
	ext    *fieldDef
	delim  rune
	eol    string
	seed   uint64
	mu     sync.Mutex
	data   []byte
	header []byte
	puts   int
	succ   resultSet
	fail   resultSet
	unproc int // offset into data of the first unprocessed row; -1 when none
	parsed bool
	held   []string // parent ids held for lock contention
	start  time.Time
}

func (j *job) snapshot() JobInfo {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.info
}

func (j *job) state() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.info.State
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

func bulkErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, []map[string]string{{"errorCode": code, "message": msg}})
}

func (s *Server) handleIngest(c *reqCtx) {
	segs := c.segs[2:]
	if len(segs) == 0 {
		switch c.r.Method {
		case http.MethodPost:
			s.createJob(c)
		case http.MethodGet:
			s.listJobs(c)
		default:
			methodNotAllowed(c.w, c.r.Method, "GET", "POST")
		}
		return
	}
	s.mu.Lock()
	j := s.jobs[segs[0]]
	s.mu.Unlock()
	if j == nil {
		bulkErr(c.w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	if len(segs) == 1 {
		switch c.r.Method {
		case http.MethodGet:
			writeJSON(c.w, http.StatusOK, j.snapshot())
		case http.MethodPatch:
			s.patchJob(c, j)
		case http.MethodDelete:
			s.deleteJob(c, j)
		default:
			methodNotAllowed(c.w, c.r.Method, "GET", "PATCH", "DELETE")
		}
		return
	}
	if len(segs) != 2 {
		bulkErr(c.w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	switch segs[1] {
	case "batches":
		if c.r.Method != http.MethodPut {
			methodNotAllowed(c.w, c.r.Method, "PUT")
			return
		}
		s.upload(c, j)
	case "successfulResults", "failedResults", "unprocessedrecords":
		if c.r.Method != http.MethodGet {
			methodNotAllowed(c.w, c.r.Method, "GET")
			return
		}
		s.serveResults(c, j, segs[1])
	default:
		bulkErr(c.w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	}
}

type createJobBody struct {
	Object              string `json:"object"`
	Operation           string `json:"operation"`
	ExternalIDFieldName string `json:"externalIdFieldName"`
	ContentType         string `json:"contentType"`
	LineEnding          string `json:"lineEnding"`
	ColumnDelimiter     string `json:"columnDelimiter"`
	AssignmentRuleID    string `json:"assignmentRuleId"`
}

func (s *Server) createJob(c *reqCtx) {
	var b createJobBody
	if !decodeJSON(c, &b) {
		return
	}
	if b.Object == "" {
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", "InvalidJob : Object is required")
		return
	}
	s.org.mu.RLock()
	obj := s.org.object(b.Object)
	var ext *fieldDef
	if obj != nil && b.ExternalIDFieldName != "" {
		ext = obj.field(b.ExternalIDFieldName)
	}
	s.org.mu.RUnlock()
	switch {
	case obj == nil:
		bulkErr(c.w, http.StatusBadRequest, "INVALIDENTITY", "sObject type '"+b.Object+"' is not supported.")
		return
	case !bulkOps[b.Operation]:
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", "InvalidJob : Invalid operation: "+b.Operation)
		return
	case b.ContentType != "" && b.ContentType != "CSV":
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", "InvalidJob : Invalid content type: "+b.ContentType)
		return
	case b.LineEnding != "" && b.LineEnding != "LF" && b.LineEnding != "CRLF":
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", "InvalidJob : Invalid line ending: "+b.LineEnding)
		return
	case b.ColumnDelimiter != "" && delimiters[b.ColumnDelimiter] == 0:
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", "InvalidJob : Invalid column delimiter: "+b.ColumnDelimiter)
		return
	case b.Operation == "upsert" && b.ExternalIDFieldName == "":
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", "InvalidJob : External ID field is required for upsert")
		return
	case b.Operation != "upsert" && b.ExternalIDFieldName != "":
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", "InvalidJob : External ID field is only allowed for upsert")
		return
	case b.Operation == "upsert" && ext == nil:
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", "InvalidJob : Field name not found : "+b.ExternalIDFieldName)
		return
	case b.Operation == "upsert" && ext.sys != sysID && !ext.ExternalID:
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", "InvalidJob : The field "+ext.Name+" is not an External ID field of "+obj.name)
		return
	}
	if b.LineEnding == "" {
		b.LineEnding = "LF"
	}
	if b.ColumnDelimiter == "" {
		b.ColumnDelimiter = "COMMA"
	}
	now := formatDateTime(time.Now())
	id := s.org.ids.next("750")
	j := &job{obj: obj, ext: ext, delim: delimiters[b.ColumnDelimiter], eol: "\n", unproc: -1}
	if b.LineEnding == "CRLF" {
		j.eol = "\r\n"
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	j.seed = h.Sum64()
	j.info = JobInfo{
		ID: id, Operation: b.Operation, Object: obj.name, CreatedByID: userID, CreatedDate: now, SystemModstamp: now,
		State: StateOpen, ConcurrencyMode: "Parallel", ContentType: "CSV", APIVersion: json.Number(c.ver.str),
		JobType: "V2Ingest", ContentURL: "services/data/v" + c.ver.str + "/jobs/ingest/" + id + "/batches",
		LineEnding: b.LineEnding, ColumnDelimiter: b.ColumnDelimiter,
	}
	if ext != nil {
		j.info.ExternalIDFieldName = ext.Name
	}
	s.mu.Lock()
	s.jobs[id] = j
	s.jobOrder = append(s.jobOrder, j)
	s.mu.Unlock()
	writeJSON(c.w, http.StatusOK, j.snapshot())
}

func (s *Server) listJobs(c *reqCtx) {
	jobs := s.Jobs()
	writeJSON(c.w, http.StatusOK, map[string]any{"done": true, "records": jobs, "nextRecordsUrl": nil})
}

func multipleContents(id string) string {
	return "Found multipe contents for job: <" + id + ">, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job."
}

func (s *Server) upload(c *reqCtx, j *job) {
	ct := c.r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "text/csv") {
		bulkErr(c.w, http.StatusUnsupportedMediaType, "UNSUPPORTEDCONTENTTYPE", "Unsupported content type: "+ct+". Use text/csv.")
		return
	}
	j.mu.Lock()
	state, puts := j.info.State, j.puts
	if state == StateOpen {
		// Counted up front so two concurrent uploads cannot both win; a
		// failed upload gives its turn back below.
		j.puts++
	}
	j.mu.Unlock()
	if state != StateOpen {
		bulkErr(c.w, http.StatusConflict, "INVALIDJOBSTATE", "Job's state is "+state+", data can only be uploaded to an Open job")
		return
	}
	if puts > 0 {
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", multipleContents(j.info.ID))
		return
	}
	accepted := false
	defer func() {
		if !accepted {
			j.mu.Lock()
			j.puts--
			j.mu.Unlock()
		}
	}()
	var body io.Reader = c.r.Body
	if strings.EqualFold(c.r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(c.r.Body)
		if err != nil {
			bulkErr(c.w, http.StatusBadRequest, "CLIENTINPUTERROR", "ClientInputError : invalid gzip content")
			return
		}
		body = zr
	}
	max := s.cfg.maxUpload
	var buf bytes.Buffer
	if c.r.ContentLength > 0 && c.r.ContentLength <= max {
		buf.Grow(int(c.r.ContentLength))
	}
	n, err := io.Copy(&buf, io.LimitReader(body, max+1))
	if err != nil {
		bulkErr(c.w, http.StatusBadRequest, "CLIENTINPUTERROR", "ClientInputError : failed to read the upload: "+err.Error())
		return
	}
	if n > max {
		bulkErr(c.w, http.StatusRequestEntityTooLarge, "REQUEST_ENTITY_TOO_LARGE",
			"The upload exceeds the maximum size of "+strconv.FormatInt(max, 10)+" bytes; split the data across several jobs")
		return
	}
	if n == 0 {
		bulkErr(c.w, http.StatusBadRequest, "CLIENTINPUTERROR", "ClientInputError : The uploaded data is empty")
		return
	}
	j.mu.Lock()
	j.data = buf.Bytes()
	j.mu.Unlock()
	accepted = true
	c.w.WriteHeader(http.StatusCreated)
}

func (s *Server) patchJob(c *reqCtx, j *job) {
	var b struct {
		State string `json:"state"`
	}
	if !decodeJSON(c, &b) {
		return
	}
	j.mu.Lock()
	cur := j.info.State
	switch {
	case b.State == StateUploadComplete && cur == StateOpen:
		if j.puts > 1 {
			j.mu.Unlock()
			bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", multipleContents(j.info.ID))
			return
		}
		j.info.State = StateUploadComplete
		j.info.SystemModstamp = formatDateTime(time.Now())
		info := j.info
		j.mu.Unlock()
		s.wg.Add(1)
		go s.process(j)
		// Answer with the state the request produced, not whatever the
		// background processing reached meanwhile.
		writeJSON(c.w, http.StatusOK, info)
		return
	case b.State == StateAborted && (cur == StateOpen || cur == StateUploadComplete || cur == StateInProgress):
		j.info.State = StateAborted
		j.info.SystemModstamp = formatDateTime(time.Now())
		if !j.parsed {
			j.unproc = 0
		}
		j.mu.Unlock()
	case b.State != StateUploadComplete && b.State != StateAborted:
		j.mu.Unlock()
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOBSTATE", "InvalidJobState : Invalid state: "+b.State)
		return
	default:
		j.mu.Unlock()
		bulkErr(c.w, http.StatusConflict, "INVALIDJOBSTATE", "InvalidJobState : Job is in state "+cur+" and cannot change to "+b.State)
		return
	}
	writeJSON(c.w, http.StatusOK, j.snapshot())
}

func (s *Server) deleteJob(c *reqCtx, j *job) {
	j.mu.Lock()
	st := j.info.State
	if st == StateOpen {
		j.mu.Unlock()
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOBSTATE", "InvalidJobState : Job with Id "+j.info.ID+" is Open; close or abort it before deleting it")
		return
	}
	if st == StateUploadComplete || st == StateInProgress {
		// Deleting stops processing; what was saved stays saved.
		j.info.State = StateAborted
	}
	j.data, j.succ, j.fail = nil, resultSet{}, resultSet{}
	j.mu.Unlock()
	s.mu.Lock()
	delete(s.jobs, j.info.ID)
	for i, x := range s.jobOrder {
		if x == j {
			s.jobOrder = append(s.jobOrder[:i:i], s.jobOrder[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	c.w.WriteHeader(http.StatusNoContent)
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

// SetLockContention turns UNABLE_TO_LOCK_ROW between concurrent jobs that
// share a parent record on or off (see WithLockContention).
func (s *Server) SetLockContention(on bool) {
	s.mu.Lock()
	s.contention = on
	s.mu.Unlock()
}

// LockRows makes a share (0..1) of record saves fail with UNABLE_TO_LOCK_ROW,
// chosen deterministically from seed. Zero turns it off.
func (s *Server) LockRows(share float64, seed int64) {
	s.org.mu.Lock()
	s.org.lockShare, s.org.lockSeed, s.org.lockSeq = share, uint64(seed), 0
	s.org.mu.Unlock()
}

func (s *Server) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.closed:
		return false
	}
}

func (j *job) finish(state, msg string, started time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.info.State == StateAborted {
		state = StateAborted
		msg = ""
	}
	j.info.State = state
	j.info.ErrorMessage = msg
	ms := time.Since(started).Milliseconds()
	j.info.TotalProcessingTime = ms
	j.info.APIActiveProcessingTime = ms
	j.info.SystemModstamp = formatDateTime(time.Now())
	if j.unproc < 0 {
		// Every row was processed: the upload is no longer needed.
		j.data = nil
	}
}

// colSpec says what a CSV column writes.
type colSpec struct {
	f   *fieldDef // a field (nil for relationship columns)
	ref *fieldDef // relationship column: the reference field on the object
	ext *fieldDef // relationship column: the external id field on the parent
	id  bool
}

func (s *Server) columns(j *job, header []string) ([]colSpec, string) {
	s.org.mu.RLock()
	defer s.org.mu.RUnlock()
	obj := j.obj
	cols := make([]colSpec, len(header))
	for i, name := range header {
		if rel, field, ok := strings.Cut(name, "."); ok {
			ref := obj.relationship(rel)
			if ref == nil {
				// The reference field's own name is accepted too (AccountId.External_Id__c).
				if f := obj.field(rel); f != nil && f.Type == TypeReference {
					ref = f
				}
			}
			if ref == nil {
				return nil, "InvalidBatch : Field name not found : " + name
			}
			ext := ref.target.field(field)
			if ext == nil || (!ext.ExternalID && !ext.IDLookup && ext.sys != sysID) {
				return nil, "InvalidBatch : Field name not found : " + name
			}
			cols[i] = colSpec{ref: ref, ext: ext}
			continue
		}
		f := obj.field(name)
		if f == nil {
			return nil, "InvalidBatch : Field name not found : " + name
		}
		cols[i] = colSpec{f: f, id: f.sys == sysID}
	}
	return cols, ""
}

func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// process runs an UploadComplete job to completion in the background.
func (s *Server) process(j *job) {
	defer s.wg.Done()
	started := time.Now()
	if !s.sleep(s.cfg.jobDelay / 2) {
		return
	}
	j.mu.Lock()
	if j.info.State != StateUploadComplete {
		j.mu.Unlock()
		return
	}
	j.info.State = StateInProgress
	data := j.data
	j.mu.Unlock()
	defer s.release(j)
	if !s.sleep(s.cfg.jobDelay - s.cfg.jobDelay/2) {
		return
	}

	s.mu.Lock()
	var failMsg string
	if len(s.failJobs) > 0 {
		failMsg, s.failJobs = s.failJobs[0], s.failJobs[1:]
	}
	contention := s.contention
	s.mu.Unlock()

	headerEnd := bytes.IndexByte(data, '\n')
	hdrLine := data
	if headerEnd >= 0 {
		hdrLine = data[:headerEnd]
	}
	hasCR := bytes.HasSuffix(hdrLine, []byte("\r"))
	rowsFrom := len(data)
	if headerEnd >= 0 {
		rowsFrom = headerEnd + 1
	}
	j.mu.Lock()
	j.header = bytes.TrimSuffix(hdrLine, []byte("\r"))
	j.parsed = true
	j.unproc = rowsFrom
	j.mu.Unlock()
	switch {
	case len(data) == 0:
		j.finish(StateFailed, "InvalidBatch : No data was uploaded for this job", started)
		return
	case failMsg != "":
		j.finish(StateFailed, failMsg, started)
		return
	case headerEnd >= 0 && hasCR && j.eol == "\n":
		j.finish(StateFailed, "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF", started)
		return
	case headerEnd >= 0 && !hasCR && j.eol == "\r\n":
		j.finish(StateFailed, "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is CRLF", started)
		return
	}

	rd := bytes.NewReader(data)
	cr := csv.NewReader(rd)
	cr.Comma = j.delim
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		// An unreadable header is not echoed into the result files.
		j.mu.Lock()
		j.header = nil
		j.mu.Unlock()
		j.finish(StateFailed, "ClientInputError : Failed to parse the CSV header: "+err.Error(), started)
		return
	}
	header = append([]string(nil), header...)
	cols, msg := s.columns(j, header)
	if msg != "" {
		j.finish(StateFailed, msg, started)
		return
	}
	j.mu.Lock()
	j.unproc = int(cr.InputOffset())
	j.mu.Unlock()

	sep := string(j.delim)
	p := &rowProc{s: s, j: j, cols: cols, sep: sep, contention: contention, extCol: -1}
	if j.ext != nil {
		for i, col := range cols {
			if col.f == j.ext {
				p.extCol = i
			}
		}
	}
	var cells []string
	var rows []pendingRow
	for {
		if j.state() == StateAborted {
			return
		}
		// Read a chunk first (outside the org lock), then save it at once.
		cells, rows = cells[:0], rows[:0]
		var parseErr error
		for len(rows) < chunkSize {
			start := cr.InputOffset()
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				parseErr = err
				break
			}
			raw := data[start:cr.InputOffset()]
			raw = bytes.TrimLeft(bytes.TrimRight(raw, "\r\n"), "\r\n")
			rows = append(rows, pendingRow{from: len(cells), to: len(cells) + len(rec), raw: raw})
			cells = append(cells, rec...)
		}
		end := int(cr.InputOffset())
		p.beginChunk(rows, cells)
		s.org.mu.Lock()
		for _, r := range rows {
			p.row(cells[r.from:r.to], r.raw)
		}
		s.org.mu.Unlock()
		j.mu.Lock()
		j.succ.buf, j.succ.offs = p.succ.buf, p.succ.offs
		j.fail.buf, j.fail.offs = p.fail.buf, p.fail.offs
		j.info.NumberRecordsProcessed += len(rows)
		j.info.NumberRecordsFailed += p.failedInChunk
		j.unproc = end
		j.mu.Unlock()
		if parseErr != nil {
			// Rows before the bad line were saved; the rest is unprocessed.
			line := 0
			var pe *csv.ParseError
			if errors.As(parseErr, &pe) {
				line = pe.Line
			}
			j.finish(StateFailed, "ClientInputError : Failed to parse the CSV data at line "+strconv.Itoa(line)+": "+parseErr.Error(), started)
			return
		}
		if len(rows) == 0 {
			break
		}
		if s.cfg.recordDelay > 0 && !s.sleep(s.cfg.recordDelay*time.Duration(len(rows))) {
			return
		}
	}
	j.mu.Lock()
	j.unproc = -1
	j.mu.Unlock()
	j.finish(StateJobComplete, "", started)
}

// release frees the parent records a job held for lock contention.
func (s *Server) release(j *job) {
	s.org.mu.Lock()
	defer s.org.mu.Unlock()
	for _, id := range j.held {
		if s.owners[id] == j {
			delete(s.owners, id)
		}
	}
	j.held = nil
}

type pendingRow struct {
	from, to int // cells of the row
	raw      []byte
}

// rowProc saves the rows of one job. Its methods run with org.mu held.
type rowProc struct {
	extCol        int
	s             *Server
	j             *job
	cols          []colSpec
	sep           string
	contention    bool
	succ, fail    resultSet
	failedInChunk int
	chunkKeys     map[string]int
	in            input
}

// beginChunk counts the upsert keys of a chunk: a key that occurs twice in
// one chunk fails every row that carries it.
func (p *rowProc) beginChunk(rows []pendingRow, cells []string) {
	p.failedInChunk = 0
	p.chunkKeys = nil
	if p.extCol < 0 && !(p.j.ext != nil && p.j.ext.sys == sysID) {
		return
	}
	p.chunkKeys = map[string]int{}
	for _, r := range rows {
		if k, ok := p.rowKey(cells[r.from:r.to]); ok {
			p.chunkKeys[k]++
		}
	}
}

func (p *rowProc) rowKey(rec []string) (string, bool) {
	ext := p.j.ext
	col := p.extCol
	if ext.sys == sysID {
		for i, c := range p.cols {
			if c.id {
				col = i
			}
		}
	}
	if col < 0 || col >= len(rec) || rec[col] == "" || rec[col] == "#N/A" {
		return "", false
	}
	if ext.sys == sysID {
		id, ok := normalizeID(rec[col])
		return id, ok
	}
	v, err := coerceText(ext, rec[col])
	if err != nil {
		return "", false
	}
	return indexKey(ext, v), true
}

func (p *rowProc) ok(id string, created bool, raw []byte) {
	rs := &p.succ
	rs.begin()
	rs.buf = appendQuoted(rs.buf, id)
	rs.buf = append(rs.buf, p.sep...)
	rs.buf = appendQuoted(rs.buf, strconv.FormatBool(created))
	rs.buf = append(rs.buf, p.sep...)
	rs.buf = append(rs.buf, raw...)
	rs.buf = append(rs.buf, p.j.eol...)
}

func (p *rowProc) failed(id string, err *apiError, raw []byte) {
	p.failedInChunk++
	rs := &p.fail
	rs.begin()
	rs.buf = appendQuoted(rs.buf, id)
	rs.buf = append(rs.buf, p.sep...)
	rs.buf = appendQuoted(rs.buf, err.bulkString())
	rs.buf = append(rs.buf, p.sep...)
	rs.buf = append(rs.buf, raw...)
	rs.buf = append(rs.buf, p.j.eol...)
}

// lockParents implements row-lock contention between concurrent jobs: a row
// whose parent is held by another job still in progress cannot be saved.
func (p *rowProc) lockParents() *apiError {
	s, j := p.s, p.j
	for _, iv := range p.in.vals {
		if iv.f.Type != TypeReference || iv.v == nil {
			continue
		}
		id, ok := normalizeID(iv.v.(string))
		if !ok {
			continue
		}
		if err := p.hold(id); err != nil {
			return err
		}
	}
	for _, rv := range p.in.refs {
		if rv.key == nil {
			continue
		}
		if found := s.org.findByExt(rv.ref.target, rv.ext, rv.key); len(found) == 1 {
			if err := p.hold(found[0].id); err != nil {
				return err
			}
		}
	}
	_ = j
	return nil
}

func (p *rowProc) hold(id string) *apiError {
	s, j := p.s, p.j
	if owner := s.owners[id]; owner != nil && owner != j {
		if st := owner.state(); st == StateInProgress || st == StateUploadComplete {
			return newErr("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records: "+id)
		}
	}
	if s.owners[id] != j {
		s.owners[id] = j
		j.held = append(j.held, id)
	}
	return nil
}

func (p *rowProc) row(rec []string, raw []byte) {
	j := p.j
	obj := j.obj
	op := j.info.Operation
	in := &p.in
	in.vals, in.refs, in.id = in.vals[:0], in.refs[:0], ""
	var key any
	var keyRaw string
	var rowErr *apiError
	if len(rec) != len(p.cols) {
		rowErr = newErr("INVALID_FIELD", "The number of values ("+strconv.Itoa(len(rec))+") does not match the number of columns ("+strconv.Itoa(len(p.cols))+")")
	}
	for i := 0; rowErr == nil && i < len(rec); i++ {
		cell, col := rec[i], p.cols[i]
		if cell == "" {
			// An empty cell leaves the field as it is (null on insert).
			continue
		}
		null := cell == "#N/A"
		switch {
		case col.id:
			in.id = cell
		case col.ref != nil:
			if null {
				in.refs = append(in.refs, refVal{ref: col.ref, ext: col.ext})
				continue
			}
			if col.ext.sys == sysID {
				in.vals = append(in.vals, inVal{f: col.ref, v: cell})
				continue
			}
			v, err := coerceText(col.ext, cell)
			if err != nil {
				rowErr = err
				break
			}
			in.refs = append(in.refs, refVal{ref: col.ref, ext: col.ext, key: v, raw: cell})
		case op == "upsert" && col.f == j.ext:
			if null {
				continue
			}
			v, err := coerceText(col.f, cell)
			if err != nil {
				rowErr = err
				break
			}
			key, keyRaw = v, cell
		default:
			if null {
				in.vals = append(in.vals, inVal{f: col.f})
				continue
			}
			v, err := coerceText(col.f, cell)
			if err != nil {
				rowErr = err
				break
			}
			in.vals = append(in.vals, inVal{f: col.f, v: v})
		}
	}
	failID := ""
	if op == "update" || op == "delete" || op == "hardDelete" {
		if id, ok := normalizeID(in.id); ok {
			failID = id
		}
	}
	if rowErr == nil && p.contention {
		rowErr = p.lockParents()
	}
	if rowErr != nil {
		p.failed(failID, rowErr, raw)
		return
	}
	org := p.s.org
	switch op {
	case "insert":
		id, err := org.insert(obj, in, nil)
		if err != nil {
			p.failed("", err, raw)
			return
		}
		p.ok(id, true, raw)
	case "update", "delete", "hardDelete":
		if in.id == "" {
			p.failed("", newErr("MISSING_ARGUMENT", "Id not specified in an update call"), raw)
			return
		}
		r, err := org.live(obj, in.id)
		if err == nil {
			if op == "update" {
				err = org.update(obj, r, in, nil)
			} else {
				err = org.remove(obj, r, op == "hardDelete", nil)
			}
		}
		if err != nil {
			p.failed(failID, err, raw)
			return
		}
		p.ok(r.id, false, raw)
	case "upsert":
		if j.ext.sys == sysID {
			if in.id != "" {
				key, keyRaw = in.id, in.id
			}
			in.id = ""
		}
		if k, ok := p.rowKey(rec); ok && p.chunkKeys[k] > 1 {
			// Within one 200-row chunk the same key twice is ambiguous.
			p.failed("", newErr("DUPLICATE_VALUE", "Duplicate external id specified: "+keyRaw, j.ext.Name), raw)
			return
		}
		id, created, err := org.upsert(obj, j.ext, key, in, nil)
		if err != nil {
			p.failed(id, err, raw)
			return
		}
		p.ok(id, created, raw)
	}
}

func (s *Server) serveResults(c *reqCtx, j *job, kind string) {
	j.mu.Lock()
	header := j.header
	var rs resultSet
	var first string
	switch kind {
	case "successfulResults":
		rs, first = j.succ, `"sf__Id"`+string(j.delim)+`"sf__Created"`
	case "failedResults":
		rs, first = j.fail, `"sf__Id"`+string(j.delim)+`"sf__Error"`
	}
	var unproc []byte
	if kind == "unprocessedrecords" && j.unproc >= 0 && j.unproc <= len(j.data) {
		unproc = j.data[j.unproc:]
	}
	parsed := j.parsed
	data := j.data
	eol, seed, ordered := j.eol, j.seed, s.cfg.ordered
	j.mu.Unlock()
	if !parsed && data != nil {
		// Not processed yet: the header is still in the upload.
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			header = bytes.TrimSuffix(data[:i], []byte("\r"))
		} else {
			header = data
		}
		if kind == "unprocessedrecords" {
			unproc = data[min(len(data), len(header)+len(eol)):]
		}
	}
	c.w.Header().Set("Content-Type", "text/csv")
	c.w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(c.w, 64<<10)
	defer bw.Flush()
	if kind == "unprocessedrecords" {
		if header != nil {
			bw.Write(header)
			bw.WriteString(eol)
			bw.Write(bytes.TrimLeft(unproc, "\r\n"))
		}
		return
	}
	bw.WriteString(first)
	if len(header) > 0 {
		bw.WriteString(string(j.delim))
		bw.Write(header)
	}
	bw.WriteString(eol)
	n := len(rs.offs)
	row := func(i int) []byte {
		end := len(rs.buf)
		if i+1 < n {
			end = rs.offs[i+1]
		}
		return rs.buf[rs.offs[i]:end]
	}
	if ordered || n < 2 {
		bw.Write(rs.buf)
		return
	}
	perm := rand.New(rand.NewPCG(seed, uint64(n))).Perm(n)
	for _, i := range perm {
		bw.Write(row(i))
	}
}
