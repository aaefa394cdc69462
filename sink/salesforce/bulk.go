package salesforce

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"hash/maphash"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/retl-go/retl/sink"
)

// Bulk API 2.0 job states.
const (
	stateOpen           = "Open"
	stateUploadComplete = "UploadComplete"
	stateJobComplete    = "JobComplete"
	stateFailed         = "Failed"
	stateAborted        = "Aborted"
)

// jobInfo is the part of a Bulk API 2.0 job the writer reads.
type jobInfo struct {
	ID                     string `json:"id"`
	State                  string `json:"state"`
	ContentURL             string `json:"contentUrl"`
	ErrorMessage           string `json:"errorMessage"`
	NumberRecordsProcessed int    `json:"numberRecordsProcessed"`
	NumberRecordsFailed    int    `json:"numberRecordsFailed"`
}

// jobPlan is one job's share of a Write: which records, the CSV, and how
// each record's row reads, for mapping results back.
type jobPlan struct {
	idx  []int  // record positions in the Write
	ends []int  // end of each position's row in body
	body []byte // header and rows
	head int    // length of the header
}

// line returns the encoded row of a position without its line ending,
// as the index of a resultMatcher holds it.
func (j *jobPlan) line(p int) []byte {
	r := j.row(p)
	return r[:len(r)-1]
}

// row returns the encoded row of a position, newline included; rows are
// kept once, inside the upload body.
func (j *jobPlan) row(p int) []byte {
	start := j.head
	if p > 0 {
		start = j.ends[p-1]
	}
	return j.body[start:j.ends[p]]
}

// bulkLayout is the CSV shape of one Write: uploaded columns and where
// each comes from in the layout.
type bulkLayout struct {
	cols   []string
	from   []int // layout index per column
	keyCol int   // column of the record key, or -1
}

func (s *Sink) bulkOperation() string {
	if s.dest.Operation == HardDelete {
		return "hardDelete"
	}
	return string(s.dest.Operation)
}

// planColumns picks the uploaded columns: Id alone for deletes; otherwise
// the layout's fields, leaving out any that no record sends (all absent),
// so a column that only guarded values filled is not uploaded at all.
func (s *Sink) planColumns(layout *sink.Layout, records []sink.Record, pending []int) (*bulkLayout, error) {
	bl := &bulkLayout{keyCol: -1}
	key := s.dest.keyField()
	if s.dest.Operation == Delete || s.dest.Operation == HardDelete {
		i := layout.Index("Id")
		if i < 0 {
			return nil, errors.New("a delete needs the Id field")
		}
		bl.cols, bl.from, bl.keyCol = []string{"Id"}, []int{i}, 0
		return bl, nil
	}
	for fi, f := range layout.Fields {
		isKey := key != "" && strings.EqualFold(f, key)
		used := isKey
		for _, ri := range pending {
			if fi < len(records[ri].Values) && records[ri].Values[fi].Kind != sink.Absent {
				used = true
				break
			}
		}
		if !used {
			continue
		}
		if isKey {
			bl.keyCol = len(bl.cols)
		}
		bl.cols = append(bl.cols, f)
		bl.from = append(bl.from, fi)
	}
	if len(bl.cols) == 0 {
		return nil, errors.New("no record sends any field")
	}
	return bl, nil
}

func (s *Sink) normKey(v string) string {
	if s.dest.Operation == Upsert && !s.dest.upsertByID() {
		// External ids match without regard to case unless the field is
		// case-sensitive; lower case pairs either way, as an echo keeps case.
		return strings.ToLower(v)
	}
	return ID18(v)
}

// presizeMax bounds the room reserved for a job's CSV before its rows
// are encoded.
const presizeMax = 64 << 20

// planJobs splits the pending records into jobs under the record and
// upload size bounds. A record whose row alone exceeds the size bound
// fails on its own.
func (s *Sink) planJobs(bl *bulkLayout, records []sink.Record, pending []int, out []sink.Result) []*jobPlan {
	enc := newCSVEncoder()
	header := enc.row(bl.cols)
	// Each row is encoded into enc's buffer, measured, then appended to its
	// job's body: no allocation per row.
	opt := s.dest.Options
	var jobs []*jobPlan
	var cur *jobPlan
	cells := make([]string, len(bl.cols))
	pending, groups := s.groupOrder(records, pending)
	jobSize := s.jobSize()
	for k, ri := range pending {
		vals := records[ri].Values
		for c, fi := range bl.from {
			if fi < len(vals) {
				cells[c] = bulkCell(vals[fi])
			} else {
				cells[c] = ""
			}
		}
		row := enc.view(cells)
		if int64(len(header)+len(row)) > opt.MaxUploadBytes {
			out[ri] = sink.Result{Err: recordErr("RETL_ROW_TOO_LARGE", "the record's CSV row is %d bytes, more than max_upload_bytes (%d)", len(row), opt.MaxUploadBytes)}
			continue
		}
		if cur == nil || len(cur.idx) >= jobSize || int64(len(cur.body)+len(row)) > opt.MaxUploadBytes || s.groupBreak(groups, k, len(cur.idx)) {
			// Sized from this row for the records the job will take, so
			// the body is not copied as it grows; an unusually long first
			// row cannot make it reserve more than presizeMax.
			n := min(len(pending)-k, jobSize)
			size := min(int64(len(header))+int64(n)*int64(len(row))*9/8, opt.MaxUploadBytes, presizeMax)
			cur = &jobPlan{body: append(make([]byte, 0, size), header...), head: len(header), idx: make([]int, 0, n), ends: make([]int, 0, n)}
			jobs = append(jobs, cur)
		}
		cur.idx = append(cur.idx, ri)
		cur.body = append(cur.body, row...)
		cur.ends = append(cur.ends, len(cur.body))
	}
	return jobs
}

// writeBulk writes records through Bulk API 2.0 jobs, several in flight
// up to max_jobs_in_flight across all Writes, and retries rows that failed
// with UNABLE_TO_LOCK_ROW in later jobs, then once through REST.
func (s *Sink) writeBulk(ctx context.Context, layout *sink.Layout, records []sink.Record) ([]sink.Result, error) {
	out := make([]sink.Result, len(records))
	pending := make([]int, len(records))
	for i := range pending {
		pending[i] = i
	}
	bl, err := s.planColumns(layout, records, pending)
	if err != nil {
		return nil, err
	}
	for round := 0; ; round++ {
		jobs := s.planJobs(bl, records, pending, out)
		if err := s.runJobs(ctx, bl, jobs, out); err != nil {
			return nil, err
		}
		s.noteLocks(jobs, out)
		if ctx.Err() != nil {
			// Stopped: what the jobs did is known; nothing more is sent.
			return out, nil
		}
		if round >= s.dest.Options.lockRetries {
			break
		}
		pending = pending[:0:0]
		for _, j := range jobs {
			for _, ri := range j.idx {
				if e := out[ri].Err; e != nil && e.Code == "UNABLE_TO_LOCK_ROW" {
					pending = append(pending, ri)
				}
			}
		}
		if len(pending) == 0 {
			break
		}
		s.log.Info("salesforce: retrying rows locked by other work", "object", s.dest.Object, "rows", len(pending), "retry", round+1)
		if err := s.c.sleep(ctx, s.dest.Options.lockBackoff*time.Duration(round+1)); err != nil {
			return out, nil // stopped: the locked rows stay failed, unwritten
		}
	}
	if err := s.lockFallback(ctx, layout, records, out); err != nil {
		return nil, err
	}
	return out, nil
}

// runJobs runs jobs concurrently and fills out. A job whose requests fail
// fails its own records; only a fatal error ends the Write.
func (s *Sink) runJobs(ctx context.Context, bl *bulkLayout, jobs []*jobPlan, out []sink.Result) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.runJob(ctx, bl, j, out)
			if err == nil {
				return
			}
			if errors.Is(err, ErrLogin) {
				once.Do(func() { first = err; cancel() })
				return
			}
			r := s.jobFailure(ctx, err)
			for _, ri := range j.idx {
				out[ri] = r
			}
		}()
	}
	wg.Wait()
	return first
}

func (s *Sink) jobPath(id string, rest ...string) string {
	return s.c.dataPath(append([]string{"jobs", "ingest", id}, rest...)...)
}

// runJob takes a job slot and runs one job from creation to its results.
// Once the job may have processed records, a stop or a lost job is
// salvaged: the job is aborted and its results read, so that every
// record it wrote is reported written. Failures before that are
// notSentErrors: no record was written.
func (s *Sink) runJob(ctx context.Context, bl *bulkLayout, j *jobPlan, out []sink.Result) error {
	select {
	case s.jobSlots <- struct{}{}:
	case <-ctx.Done():
		return nothingSent(ctx.Err())
	}
	defer func() { <-s.jobSlots }()

	var id string
	for attempt := 0; ; attempt++ {
		var err error
		id, err = s.createAndUpload(ctx, j)
		if err == nil {
			break
		}
		if id != "" {
			// Not UploadComplete: the job processes nothing.
			s.abort(id)
		}
		if ctx.Err() != nil {
			return nothingSent(ctx.Err())
		}
		if !errors.Is(err, ErrOutcomeUnknown) || attempt >= s.c.cfg.maxRetries {
			return nothingSent(err)
		}
		// A job takes one upload, and one whose upload may have landed
		// cannot be told apart from one whose did not: it was aborted
		// before processing anything, and a new job takes the rows.
		s.log.Info("salesforce: upload interrupted; starting a new job", "job", id, "error", err)
		if err := s.c.sleep(ctx, backoff(s.c.cfg.retryBase, attempt)); err != nil {
			return err
		}
	}
	if err := s.setState(ctx, id, stateUploadComplete); err != nil {
		var ae *APIError
		if errors.Is(err, ErrLogin) || (errors.As(err, &ae) && !errors.Is(err, ErrOutcomeUnknown)) {
			// Refused: the job stays Open and processes nothing.
			s.abort(id)
			return nothingSent(err)
		}
		// The change may have landed and the job be processing.
		return s.salvage(ctx, bl, j, id, err, out)
	}
	final, err := s.poll(ctx, id, len(j.idx))
	if err != nil {
		if errors.Is(err, ErrLogin) {
			s.abort(id)
			return err
		}
		return s.salvage(ctx, bl, j, id, err, out)
	}
	if err := s.collect(ctx, bl, j, final, out); err != nil {
		if errors.Is(err, ErrLogin) {
			return err
		}
		if ctx.Err() == nil {
			// The job ran; what it wrote cannot be read.
			return errorf("%w: reading the results of job %s: %w", ErrOutcomeUnknown, id, err)
		}
		// Stopped while reading the results: read them again.
		return s.salvage(ctx, bl, j, id, err, out)
	}
	return nil
}

// createAndUpload creates a job and uploads its CSV. It returns the job
// id once the job exists, even when the upload fails.
func (s *Sink) createAndUpload(ctx context.Context, j *jobPlan) (string, error) {
	spec := map[string]string{
		"object": s.dest.Object, "operation": s.bulkOperation(),
		"contentType": "CSV", "lineEnding": "LF", "columnDelimiter": "COMMA",
	}
	if s.dest.Operation == Upsert {
		spec["externalIdFieldName"] = s.dest.ExternalID
	}
	rule, err := s.bulkAssignment(ctx)
	if err != nil {
		return "", errorf("creating a Bulk job: %w", err)
	}
	if rule != "" {
		spec["assignmentRuleId"] = rule
	}
	body, _ := json.Marshal(spec)
	// Creating a job writes no record: a lost or unreadable answer leaves
	// at most an empty Open job, which Salesforce discards, so a retry is safe.
	var info jobInfo
	for try := 0; ; try++ {
		resp, err := s.c.do(ctx, &request{method: http.MethodPost, path: s.c.dataPath("jobs", "ingest"), body: body, ctype: "application/json", idempotent: true})
		if err != nil {
			return "", errorf("creating a Bulk job: %w", err)
		}
		if err := json.Unmarshal(resp.body, &info); err == nil && info.ID != "" {
			break
		}
		if try == 1 {
			return "", errors.New("creating a Bulk job: the answer holds no job id")
		}
	}
	s.addJob(info.ID)
	upload := s.jobPath(info.ID, "batches")
	if info.ContentURL != "" {
		upload = "/" + strings.TrimPrefix(info.ContentURL, "/")
	}
	req := &request{method: http.MethodPut, path: upload, body: j.body, ctype: "text/csv", single: true}
	if s.dest.Options.GzipUploads {
		z, err := gzipBody(j.body)
		if err != nil {
			return info.ID, errorf("compressing job %s: %w", info.ID, err)
		}
		req.body, req.header = z, http.Header{"Content-Encoding": {"gzip"}}
		s.noteUpload(len(j.body), len(z))
	}
	req.timeout = uploadTimeout(s.c.cfg.Timeout, len(req.body))
	if _, err := s.c.do(ctx, req); err != nil {
		return info.ID, errorf("uploading job %s: %w", info.ID, err)
	}
	return info.ID, nil
}

// uploadRate is the slowest link an upload is given time for: 256 KB a
// second, about 2 Mbit/s.
const uploadRate = 256 << 10

// uploadTimeout bounds an upload of n bytes: the client's timeout plus a
// second for every uploadRate bytes, so that a 100 MB upload gets 2m +
// 400s rather than having to travel at 7 Mbit/s to finish inside 2m.
func uploadTimeout(base time.Duration, n int) time.Duration {
	return base + time.Duration(n/uploadRate)*time.Second
}

// gzipBody compresses an upload. The fastest level: CSV compresses well
// even so, and the upload, not the CPU, is what takes time.
func gzipBody(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(b) / 4)
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// setState moves a job to UploadComplete. The PATCH is retried; if a retry
// is refused because the first attempt did land, the job's state shows it.
func (s *Sink) setState(ctx context.Context, id, state string) error {
	body := []byte(`{"state":"` + state + `"}`)
	_, err := s.c.do(ctx, &request{method: http.MethodPatch, path: s.jobPath(id), body: body, ctype: "application/json", idempotent: true})
	if err == nil {
		return nil
	}
	var ae *APIError
	if errors.As(err, &ae) && ae.StatusCode >= 400 && ae.StatusCode < 500 && ae.StatusCode != http.StatusUnauthorized {
		if info, gerr := s.jobInfo(ctx, id); gerr == nil && info.State != stateOpen {
			return nil
		}
	}
	return errorf("closing job %s: %w", id, err)
}

func (s *Sink) jobInfo(ctx context.Context, id string) (*jobInfo, error) {
	for try := 0; ; try++ {
		resp, err := s.c.do(ctx, &request{method: http.MethodGet, path: s.jobPath(id), idempotent: true})
		if err != nil {
			return nil, err
		}
		var info jobInfo
		err = json.Unmarshal(resp.body, &info)
		if err == nil {
			return &info, nil
		}
		// An answer damaged on the way is asked for again, a few times.
		if try == 2 {
			return nil, errorf("job %s: decoding its state: %w", id, err)
		}
	}
}

// poll waits for a job of rows records to end, polling often at first
// and then less, up to poll_max_wait between polls.
func (s *Sink) poll(ctx context.Context, id string, rows int) (*jobInfo, error) {
	opt := s.dest.Options
	start := time.Now()
	wait := opt.pollStart
	for {
		info, err := s.jobInfo(ctx, id)
		if err != nil {
			return nil, errorf("polling job %s: %w", id, err)
		}
		switch info.State {
		case stateJobComplete, stateFailed, stateAborted:
			return info, nil
		}
		if err := sleepCtx(ctx, nextPoll(wait, time.Since(start), info.NumberRecordsProcessed, rows, opt.pollStart/10)); err != nil {
			return nil, err
		}
		wait = min(wait*3/2, opt.PollMaxWait)
	}
}

// nextPoll is the pause before the next poll of a job that has processed
// done of its rows after elapsed. Once the job reports progress, the pause
// is about what the rest should take at the rate seen so far, rather than
// a backoff step that can overshoot the end by half the time spent; it is
// never below a twentieth of elapsed or floor, so a job that slows near
// its end costs few extra polls.
func nextPoll(wait, elapsed time.Duration, done, rows int, floor time.Duration) time.Duration {
	if done <= 0 || done >= rows {
		return wait
	}
	rest := time.Duration(float64(elapsed) * float64(rows-done) / float64(done))
	return min(wait, max(rest, elapsed/20, floor))
}

// abort stops a job that will not be finished, with a context of its own
// since the Write's may be done.
func (s *Sink) abort(id string) {
	ctx, cancel := context.WithTimeout(withCallCounter(context.Background(), &s.calls), 10*time.Second)
	defer cancel()
	body := []byte(`{"state":"` + stateAborted + `"}`)
	if _, err := s.c.do(ctx, &request{method: http.MethodPatch, path: s.jobPath(id), body: body, ctype: "application/json", idempotent: true}); err != nil {
		s.log.Warn("salesforce: aborting a Bulk job failed", "job", id, "error", err)
	}
}

// results streams a result file of a job into read.
func (s *Sink) results(ctx context.Context, id, kind string, read func(io.Reader) error) error {
	_, err := s.c.do(ctx, &request{method: http.MethodGet, path: s.jobPath(id, kind+"/"), accept: "text/csv", idempotent: true, read: read})
	if err != nil {
		return errorf("job %s %s: %w", id, kind, err)
	}
	return nil
}

// resultMatcher ties result rows back to the job's records: first by the
// row's exact cells, then by the key column (Id or external id), then for
// inserts by the cells with surrounding spaces trimmed. Identical rows are
// interchangeable, so each maps to a queue of positions. Result rows
// normally carry the uploaded cells unchanged, so only the exact index is
// built up front; the others are built the first time a row needs them.
type resultMatcher struct {
	j      *jobPlan
	taken  []bool
	seeds  [2]maphash.Seed
	rows   *index
	keys   *index
	trims  *index
	enc    csvEncoder
	keyCol int
	norm   func(string) string
}

func newResultMatcher(j *jobPlan, keyCol int, norm func(string) string) *resultMatcher {
	m := &resultMatcher{j: j, taken: make([]bool, len(j.idx)), seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, keyCol: keyCol, norm: norm}
	m.rows = m.newIndex(j.line)
	return m
}

// index finds positions by a text of theirs (a row, a key). A text is
// known by two independent 64-bit hashes, which texts that differ share
// with odds of about one in 2^128: a lookup then reads a few small arrays
// instead of the text, which for result rows arriving in any order would
// miss the cache on almost every row. The first hash places a text in an
// open-addressed table whose slots head chains of the positions sharing
// it, in upload order. No allocation per position.
type index struct {
	slots  []int32 // chain head + 1, 0 for an empty slot
	mask   uint64
	h1, h2 []uint64
	next   []int32 // next position with the same text, -1 at the end
}

func (m *resultMatcher) newIndex(text func(p int) []byte) *index {
	n := len(m.j.idx)
	size := 16
	for size < 2*n {
		size <<= 1
	}
	ix := &index{slots: make([]int32, size), mask: uint64(size - 1), h1: make([]uint64, n), h2: make([]uint64, n), next: make([]int32, n)}
	// Backwards, so that each chain, grown at its head, lists positions
	// in upload order.
	for p := n - 1; p >= 0; p-- {
		t := text(p)
		if t == nil {
			continue // not indexed
		}
		ix.h1[p], ix.h2[p] = maphash.Bytes(m.seeds[0], t), maphash.Bytes(m.seeds[1], t)
		i := ix.find(ix.h1[p], ix.h2[p])
		ix.next[p] = ix.slots[i] - 1
		ix.slots[i] = int32(p) + 1
	}
	return ix
}

// find returns the slot of the chain of a text's hashes, or the empty
// slot where that chain would begin.
func (ix *index) find(h1, h2 uint64) uint64 {
	for i := h1 & ix.mask; ; i = (i + 1) & ix.mask {
		q := ix.slots[i] - 1
		if q < 0 || ix.h1[q] == h1 && ix.h2[q] == h2 {
			return i
		}
	}
}

// pop takes the first free position whose text is want, or returns -1.
func (m *resultMatcher) pop(ix *index, want []byte) int {
	i := ix.find(maphash.Bytes(m.seeds[0], want), maphash.Bytes(m.seeds[1], want))
	p := ix.slots[i] - 1
	// Taken positions leave the front of the chain, so a run of identical
	// rows costs one step each.
	for p >= 0 && m.taken[p] {
		if ix.next[p] < 0 {
			// Keep the last one: the slot stays in the table.
			break
		}
		p = ix.next[p]
		ix.slots[i] = p + 1
	}
	if p < 0 || m.taken[p] {
		return -1
	}
	m.taken[p] = true
	return int(p)
}

func (m *resultMatcher) match(cells []string, complete bool) int {
	if complete {
		if p := m.pop(m.rows, m.enc.line(cells)); p >= 0 {
			return p
		}
	}
	if m.keyCol >= 0 && m.keyCol < len(cells) && cells[m.keyCol] != "" {
		if m.keys == nil {
			keys := make([][]byte, len(m.j.idx))
			for p := range keys {
				if c := m.j.cells(p); m.keyCol < len(c) && c[m.keyCol] != "" {
					keys[p] = []byte(m.norm(c[m.keyCol]))
				}
			}
			m.keys = m.newIndex(func(p int) []byte { return keys[p] })
		}
		if p := m.pop(m.keys, []byte(m.norm(cells[m.keyCol]))); p >= 0 {
			return p
		}
	}
	if complete && m.keyCol < 0 {
		if m.trims == nil {
			// Inserts have no key; a trimmed echo is the last resort.
			trimmed := make([][]byte, len(m.j.idx))
			for p := range trimmed {
				trimmed[p] = bytes.Clone(m.enc.line(trimCells(m.j.cells(p))))
			}
			m.trims = m.newIndex(func(p int) []byte { return trimmed[p] })
		}
		return m.pop(m.trims, m.enc.line(trimCells(cells)))
	}
	return -1
}

// untake frees positions again, for a result file read only in part.
func (m *resultMatcher) untake(ps []int32) {
	for _, p := range ps {
		m.taken[p] = false
	}
	// Chains dropped taken positions from their front; rebuilding them is
	// rare enough (a damaged file) to be simple.
	m.rows = m.newIndex(m.j.line)
	m.keys, m.trims = nil, nil
}

func trimCells(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = strings.TrimSpace(c)
	}
	return out
}

// collect reads a finished job's result files and records one result per
// record of the job.
func (s *Sink) collect(ctx context.Context, bl *bulkLayout, j *jobPlan, info *jobInfo, out []sink.Result) error {
	m := newResultMatcher(j, bl.keyCol, s.normKey)
	// Results go straight to out; done marks the positions that have one.
	done := make([]bool, len(j.idx))
	unmatched := 0
	apply := func(kind string, fn func(row []string, rf *resultFile) sink.Result) error {
		var matched []int32
		n := 0
		// Rows are applied as the file arrives; a file read only in part
		// gives back what it gave, so that it can be read again.
		read := func(body io.Reader) error {
			matched, n = matched[:0], 0
			err := s.applyResults(body, bl, m, done, out, j, fn, &matched, &n)
			if err == nil {
				return nil
			}
			for _, p := range matched {
				done[p] = false
				out[j.idx[p]] = sink.Result{}
			}
			m.untake(matched)
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return finalError{err}
			}
			return err
		}
		for try := 0; ; try++ {
			err := s.results(ctx, info.ID, kind, read)
			if err == nil {
				unmatched += n
				return nil
			}
			// A file that does not parse may have been damaged on the way:
			// it is fetched once more before the job's records fail.
			var pe *csv.ParseError
			if try == 1 || !errors.As(err, &pe) {
				return err
			}
		}
	}
	failed := info.State != stateJobComplete
	if err := apply("successfulResults", func(row []string, rf *resultFile) sink.Result {
		// A copy of the Id, so the result does not keep the row's text.
		return sink.Result{ID: strings.Clone(cellAt(row, rf.idCol)), Created: strings.EqualFold(cellAt(row, rf.createdCol), "true")}
	}); err != nil && !failed {
		return err
	}
	if info.NumberRecordsFailed > 0 || failed {
		if err := apply("failedResults", func(row []string, rf *resultFile) sink.Result {
			return sink.Result{ID: strings.Clone(cellAt(row, rf.idCol)), Err: parseBulkError(cellAt(row, rf.errorCol))}
		}); err != nil && !failed {
			return err
		}
	}
	missing := 0
	for _, d := range done {
		if !d {
			missing++
		}
	}
	if missing > 0 {
		code, msg := CodeUnprocessed, "the job ended before processing the record"
		switch info.State {
		case stateFailed:
			code, msg = CodeJobFailed, "the Bulk job failed"
		case stateAborted:
			code, msg = CodeJobAborted, "the Bulk job was aborted before processing the record"
		}
		if info.ErrorMessage != "" {
			msg = info.ErrorMessage
		}
		re := recordErr(code, "job %s: %s", info.ID, msg)
		if err := apply("unprocessedrecords", func([]string, *resultFile) sink.Result {
			return sink.Result{Err: re}
		}); err != nil && !failed {
			return err
		}
	}
	if unmatched > 0 {
		s.log.Warn("salesforce: Bulk result rows matched no uploaded record", "job", info.ID, "rows", unmatched)
	}
	for p, ri := range j.idx {
		switch {
		case done[p]:
		case info.State == stateFailed:
			msg := info.ErrorMessage
			if msg == "" {
				msg = "the Bulk job failed"
			}
			out[ri] = sink.Result{Err: recordErr(CodeJobFailed, "job %s: %s", info.ID, msg)}
		case info.State == stateAborted:
			out[ri] = sink.Result{Err: recordErr(CodeJobAborted, "job %s was aborted before processing the record", info.ID)}
		default:
			out[ri] = sink.Result{Err: recordErr(CodeOutcomeUnknown, "job %s: the job's results do not mention the record", info.ID)}
		}
	}
	return nil
}

// applyResults reads one result file row by row and gives each row's
// record its result. matched collects the positions it filled, unmatched
// counts the rows that belong to no record.
func (s *Sink) applyResults(body io.Reader, bl *bulkLayout, m *resultMatcher, done []bool, out []sink.Result, j *jobPlan,
	fn func(row []string, rf *resultFile) sink.Result, matched *[]int32, unmatched *int) error {
	rf, err := readResults(body, bl.cols)
	if err != nil {
		return err
	}
	for {
		row, err := rf.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		cells, complete := rf.uploadedCells(row)
		p := m.match(cells, complete)
		if p < 0 {
			*unmatched++
			continue
		}
		out[j.idx[p]] = fn(row, rf)
		done[p] = true
		*matched = append(*matched, int32(p))
	}
}

// cells returns the uploaded cells of a position, decoded from its row:
// keeping rows encoded only is cheaper than keeping both forms. The row
// is our own encoding, so it always decodes.
func (j *jobPlan) cells(p int) []string {
	cells, _ := csv.NewReader(bytes.NewReader(j.row(p))).Read()
	return cells
}
