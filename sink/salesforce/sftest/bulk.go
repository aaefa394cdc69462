package sftest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
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
	AssignmentRuleID        string      `json:"assignmentRuleId,omitempty"`
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
	info  JobInfo // guarded by mu
	obj   *objectDef
	ext   *fieldDef
	delim rune
	eol   string
	seed  uint64
	// round is held while a round of chunks is saved and recorded, so an
	// abort or delete lands between rounds: a job never reports a saved
	// row as unprocessed.
	round     sync.Mutex
	mu        sync.Mutex
	data      []byte
	header    []string
	rawHeader []byte // the header line as uploaded, kept for unprocessedrecords
	puts      int
	succ      resultSet
	fail      resultSet
	// What processing reached: the rows of the upload, which 200-row
	// chunks are saved, where an unreadable rest starts (-1: none).
	spans     []span
	chunkDone []bool
	tail      int
	parsed    bool
	allDone   bool
	held      []string // parent ids held for lock contention
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
	// The pages spell the result paths successfulResults, failedResults
	// and unprocessedrecords; clients ask for unprocessedRecords too, and
	// any case is taken.
	kind, isResult := resultKinds[strings.ToLower(segs[1])]
	switch {
	case segs[1] == "batches":
		if c.r.Method != http.MethodPut {
			methodNotAllowed(c.w, c.r.Method, "PUT")
			return
		}
		s.upload(c, j)
	case isResult:
		if c.r.Method != http.MethodGet {
			methodNotAllowed(c.w, c.r.Method, "GET")
			return
		}
		s.serveResults(c, j, kind)
	default:
		bulkErr(c.w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	}
}

// resultKinds maps a result path, lower-cased, to its kind.
var resultKinds = map[string]string{
	"successfulresults":  "successfulResults",
	"failedresults":      "failedResults",
	"unprocessedrecords": "unprocessedrecords",
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
	case b.AssignmentRuleID != "" && !isID(b.AssignmentRuleID):
		bulkErr(c.w, http.StatusBadRequest, "INVALIDJOB", "InvalidJob : Invalid assignment rule id: "+b.AssignmentRuleID)
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
	j := &job{obj: obj, ext: ext, delim: delimiters[b.ColumnDelimiter], eol: "\n", tail: -1}
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
		LineEnding: b.LineEnding, ColumnDelimiter: b.ColumnDelimiter, AssignmentRuleID: b.AssignmentRuleID,
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
	// Salesforce stores the data base64-encoded and takes at most the
	// limit so (Upload Job Data): 3 bytes of CSV make 4. A gzipped upload
	// counts as it expands, which also bounds what a small one can unpack.
	limit := s.cfg.maxUpload
	max := limit / 4 * 3
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
			"The upload exceeds the maximum size of "+strconv.FormatInt(limit, 10)+" bytes of base64 encoded content; split the data across several jobs")
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
	if b.State == StateAborted {
		j.round.Lock()
		defer j.round.Unlock()
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
	j.round.Lock()
	defer j.round.Unlock()
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
	if j.allDone {
		// Every row was processed: the upload is no longer needed.
		j.data, j.spans = nil, nil
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
	// Wake REST saves waiting for a parent.
	close(s.freed)
	s.freed = make(chan struct{})
}

func (s *Server) serveResults(c *reqCtx, j *job, kind string) {
	j.mu.Lock()
	header := j.header
	var rs resultSet
	var first []string
	switch kind {
	case "successfulResults":
		rs, first = j.succ, []string{"sf__Id", "sf__Created"}
	case "failedResults":
		rs, first = j.fail, []string{"sf__Id", "sf__Error"}
	}
	var rawHeader, unproc []byte
	if kind == "unprocessedrecords" {
		unproc = j.unprocessed()
		rawHeader = j.rawHeader
		if rawHeader == nil {
			if i := bytes.IndexByte(j.data, '\n'); i >= 0 {
				rawHeader = bytes.TrimSuffix(j.data[:i], []byte("\r"))
			} else {
				rawHeader = j.data
			}
		}
	}
	if !j.parsed && j.data != nil && header == nil {
		// Not processed yet: the header is still in the upload.
		sc := &scanner{data: j.data, delim: byte(j.delim)}
		if _, row, fatal := sc.next(nil); fatal == "" && row.rowErr == "" {
			header = row.cells
		}
	}
	eol, seed, ordered := j.eol, j.seed, s.cfg.ordered
	j.mu.Unlock()
	c.w.Header().Set("Content-Type", "text/csv")
	c.w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(c.w, 64<<10)
	defer bw.Flush()
	if kind == "unprocessedrecords" {
		// Unprocessed rows are returned as they were uploaded.
		if rawHeader != nil {
			bw.Write(rawHeader)
			bw.WriteString(eol)
			bw.Write(unproc)
		}
		return
	}
	bw.WriteString(resultsHeader(first, header, j.delim))
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
