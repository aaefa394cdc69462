package sftest

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// defaultInternalBatch is how many records Salesforce puts in one internal
// batch of a Bulk API 2.0 ingest job ("Understanding Bulk API 2.0 Ingest").
const defaultInternalBatch = 10_000

// span is one data row of an upload: its bytes are data[start:end], without
// the line ending.
type span struct{ start, end int }

// csvRow is the outcome of scanning one row.
type csvRow struct {
	cells  []string
	rowErr string // the row cannot be read; the rest of the upload can
}

// scanner reads an upload row by row. Unlike encoding/csv it tells a row
// that is broken on its own (a space before or after a quote: "generates an
// error for the row", Valid CSV Record Rows) from an upload that cannot be
// read on (a quote that never closes).
type scanner struct {
	data  []byte
	delim byte
	pos   int
	bare  bool // find row boundaries only: cells are not kept
}

// skipRow returns where the next row starts after a row whose quoting is
// broken: the next line ending, quotes ignored.
func (sc *scanner) skipRow(from int) int {
	if i := bytes.IndexByte(sc.data[from:], '\n'); i >= 0 {
		return from + i + 1
	}
	return len(sc.data)
}

// next scans the row at sc.pos. It returns the row's span, its cells (reusing
// cells), and fatal when the upload cannot be read from this row on.
func (sc *scanner) next(cells []string) (sp span, row csvRow, fatal string) {
	data, d := sc.data, sc.delim
	i := sc.pos
	sp.start = i
	row.cells = cells[:0]
	for {
		if i < len(data) && data[i] == '"' {
			// Quoted cell: "" is a quote; the cell ends at a lone quote.
			var b []byte
			j := i + 1
			for {
				k := bytes.IndexByte(data[j:], '"')
				if k < 0 {
					return sp, row, "unterminated quoted field starting at offset " + strconv.Itoa(i)
				}
				if j+k+1 < len(data) && data[j+k+1] == '"' {
					b = append(b, data[j:j+k+1]...)
					j += k + 2
					continue
				}
				if sc.bare {
					row.cells = append(row.cells, "")
				} else if b == nil {
					row.cells = append(row.cells, string(data[j:j+k]))
				} else {
					row.cells = append(row.cells, string(append(b, data[j:j+k]...)))
				}
				i = j + k + 1
				break
			}
			switch {
			case i >= len(data):
				sp.end, sc.pos = i, i
				return sp, row, ""
			case data[i] == d:
				i++
				continue
			case data[i] == '\n':
				sp.end, sc.pos = i, i+1
				return sp, row, ""
			case data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n':
				sp.end, sc.pos = i, i+2
				return sp, row, ""
			}
			sc.pos = sc.skipRow(i)
			sp.end = trimEOL(data, sc.pos)
			row.rowErr = "a character after the closing quote of cell " + strconv.Itoa(len(row.cells))
			return sp, row, ""
		}
		// Unquoted cell: up to the delimiter or the line end.
		j := i
		for j < len(data) && data[j] != d && data[j] != '\n' {
			j++
		}
		cell := data[i:j]
		if j < len(data) && data[j] == '\n' && j > i && data[j-1] == '\r' {
			cell = data[i : j-1]
		}
		if bytes.IndexByte(cell, '"') >= 0 {
			sc.pos = sc.skipRow(i)
			sp.end = trimEOL(data, sc.pos)
			row.rowErr = "a quote inside unquoted cell " + strconv.Itoa(len(row.cells)+1) + " (a space before a quote?)"
			return sp, row, ""
		}
		if sc.bare {
			row.cells = append(row.cells, "")
		} else {
			row.cells = append(row.cells, string(cell))
		}
		if j >= len(data) {
			sp.end, sc.pos = len(cell)+i, j
			return sp, row, ""
		}
		if data[j] == '\n' {
			sp.end, sc.pos = i+len(cell), j+1
			return sp, row, ""
		}
		i = j + 1
	}
}

func trimEOL(data []byte, end int) int {
	if end > 0 && data[end-1] == '\n' {
		end--
	}
	if end > 0 && data[end-1] == '\r' {
		end--
	}
	return end
}

// unprocessed returns the rows the job did not reach, in upload order.
// Callers hold j.mu.
func (j *job) unprocessed() []byte {
	if !j.parsed {
		if i := bytes.IndexByte(j.data, '\n'); i >= 0 {
			return j.data[i+1:]
		}
		return nil
	}
	if j.allDone {
		return nil
	}
	var out []byte
	for c, done := range j.chunkDone {
		if done {
			continue
		}
		for _, sp := range j.spans[c*chunkSize : min((c+1)*chunkSize, len(j.spans))] {
			out = append(out, j.data[sp.start:sp.end]...)
			out = append(out, j.eol...)
		}
	}
	if j.tail >= 0 && j.tail < len(j.data) {
		out = append(out, j.data[j.tail:]...)
	}
	return out
}

// process runs an UploadComplete job to completion in the background.
//
// Rows are split into internal batches of s.cfg.internalBatch records, and
// each internal batch into 200-record save chunks. Salesforce processes the
// internal batches of a job in parallel; here they advance in rounds: in
// round r every internal batch saves its chunk r, in an order drawn from the
// job's seed. Chunks of one round run at the same time, so two of them
// cannot lock the same parent record (UNABLE_TO_LOCK_ROW when lock
// contention is on) and do not see each other's new records (two rows with
// one key in different internal batches both insert). The outcome depends
// on the job id and the data only, never on scheduling.
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
	hasCR := headerEnd > 0 && data[headerEnd-1] == '\r'
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

	sc := &scanner{data: data, delim: byte(j.delim)}
	_, hrow, fatal := sc.next(nil)
	if fatal != "" || hrow.rowErr != "" {
		j.finish(StateFailed, "ClientInputError : Failed to parse the CSV header: "+fatal+hrow.rowErr, started)
		return
	}
	header := hrow.cells
	rawHeader := data[:trimEOL(data, sc.pos)]
	cols, msg := s.columns(j, header)
	if msg != "" {
		j.finish(StateFailed, msg, started)
		return
	}
	// Find the rows first: internal batches are cut by record count.
	sc.bare = true
	var spans []span
	tail := -1
	fatalMsg := ""
	var scratch []string
	for sc.pos < len(data) {
		at := sc.pos
		sp, row, fatal := sc.next(scratch)
		scratch = row.cells
		if fatal != "" {
			tail, fatalMsg = at, fatal
			break
		}
		if sp.end == sp.start && row.rowErr == "" {
			continue // an empty line holds no record
		}
		spans = append(spans, sp)
	}
	nChunks := (len(spans) + chunkSize - 1) / chunkSize
	j.mu.Lock()
	j.header = header
	j.rawHeader = append([]byte(nil), rawHeader...)
	j.spans = spans
	j.chunkDone = make([]bool, nChunks)
	j.tail = tail
	j.parsed = true
	j.mu.Unlock()

	per := s.cfg.internalBatch
	nBatches := (len(spans) + per - 1) / per
	chunksPer := per / chunkSize
	order := rand.New(rand.NewPCG(j.seed, 1)).Perm(max(nBatches, 1))
	p := &rowProc{s: s, j: j, cols: cols, sep: string(j.delim), contention: contention, extCol: -1}
	if j.ext != nil {
		for i, col := range cols {
			if col.f == j.ext || (j.ext.sys == sysID && col.id) {
				p.extCol = i
			}
		}
	}
	var cells []string
	for round := 0; round < chunksPer; round++ {
		j.round.Lock()
		if j.state() == StateAborted {
			j.round.Unlock()
			return
		}
		p.beginRound()
		processed, failed, any := 0, 0, false
		s.org.mu.Lock()
		for _, b := range order {
			c := b*chunksPer + round
			if b >= nBatches || c >= nChunks {
				continue
			}
			any = true
			p.batch = b
			rows := spans[c*chunkSize : min((c+1)*chunkSize, len(spans))]
			p.beginChunk()
			// One scan of the chunk; cells of all its rows share one slice.
			cells = cells[:0]
			for _, sp := range rows {
				sc := scanner{data: data[:sp.end], delim: byte(j.delim), pos: sp.start}
				from := len(cells)
				_, row, _ := sc.next(cells[from:])
				cells = append(cells[:from], row.cells...)
				p.rows = append(p.rows, pendingRow{raw: data[sp.start:sp.end], rowErr: row.rowErr, from: from, to: len(cells)})
			}
			for i := range p.rows {
				p.rows[i].cells = cells[p.rows[i].from:p.rows[i].to:p.rows[i].to]
			}
			p.countKeys()
			for _, r := range p.rows {
				p.row(r)
			}
			processed += len(rows)
			failed += p.failedInChunk
		}
		s.org.mu.Unlock()
		j.mu.Lock()
		j.succ.buf, j.succ.offs = p.succ.buf, p.succ.offs
		j.fail.buf, j.fail.offs = p.fail.buf, p.fail.offs
		for _, b := range order {
			if c := b*chunksPer + round; b < nBatches && c < nChunks {
				j.chunkDone[c] = true
			}
		}
		j.info.NumberRecordsProcessed += processed
		j.info.NumberRecordsFailed += failed
		j.mu.Unlock()
		j.round.Unlock()
		if !any {
			break
		}
		if s.cfg.recordDelay > 0 && !s.sleep(s.cfg.recordDelay*time.Duration(p.roundRows)) {
			return
		}
	}
	if fatalMsg != "" {
		// Rows before the unreadable one were saved; the rest is unprocessed.
		line := 1 + bytes.Count(data[:tail], []byte("\n"))
		j.finish(StateFailed, "ClientInputError : Failed to parse the CSV data at line "+strconv.Itoa(line)+": "+fatalMsg, started)
		return
	}
	j.mu.Lock()
	j.allDone = true
	j.mu.Unlock()
	j.finish(StateJobComplete, "", started)
}

type pendingRow struct {
	cells    []string
	from, to int // cells within the chunk's shared slice
	raw      []byte
	rowErr   string
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
	rows          []pendingRow

	// The round in progress: which internal batch is saving, which parents
	// each internal batch holds, and which records it created.
	batch     int
	roundRows int
	locks     map[string]int
	created   map[*record]int
}

func (p *rowProc) beginRound() {
	p.roundRows = 0
	p.locks = map[string]int{}
	p.created = map[*record]int{}
}

func (p *rowProc) beginChunk() {
	p.failedInChunk = 0
	p.rows = p.rows[:0]
}

// countKeys counts the upsert keys of a chunk: a key that occurs twice in
// one chunk fails every row that carries it.
func (p *rowProc) countKeys() {
	p.roundRows += len(p.rows)
	p.chunkKeys = nil
	if p.j.info.Operation != "upsert" || p.extCol < 0 {
		return
	}
	p.chunkKeys = map[string]int{}
	for _, r := range p.rows {
		if k, ok := p.rowKey(r.cells); ok {
			p.chunkKeys[k]++
		}
	}
}

func (p *rowProc) rowKey(rec []string) (string, bool) {
	ext, col := p.j.ext, p.extCol
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

// appendCells writes cells with every cell quoted, as Salesforce writes
// result files.
func (p *rowProc) appendCells(b []byte, cells []string) []byte {
	for _, c := range cells {
		b = append(b, p.sep...)
		b = appendQuoted(b, c)
	}
	return b
}

func (p *rowProc) ok(id string, created bool, r *pendingRow) {
	rs := &p.succ
	rs.begin()
	rs.buf = appendQuoted(rs.buf, id)
	rs.buf = append(rs.buf, p.sep...)
	rs.buf = appendQuoted(rs.buf, strconv.FormatBool(created))
	rs.buf = p.appendCells(rs.buf, r.cells)
	rs.buf = append(rs.buf, p.j.eol...)
}

func (p *rowProc) failed(id string, err *apiError, r *pendingRow) {
	p.failedInChunk++
	rs := &p.fail
	rs.begin()
	rs.buf = appendQuoted(rs.buf, id)
	rs.buf = append(rs.buf, p.sep...)
	rs.buf = appendQuoted(rs.buf, err.bulkString())
	if r.rowErr != "" {
		// An unreadable row is split at every delimiter, quotes kept as
		// text, so the result file itself stays readable.
		rs.buf = p.appendCells(rs.buf, strings.Split(string(r.raw), p.sep))
	} else {
		rs.buf = p.appendCells(rs.buf, r.cells)
	}
	rs.buf = append(rs.buf, p.j.eol...)
}

// restLock is the row lock a REST save takes on its parent records: it
// waits for none, so a parent held by a Bulk API job in progress fails the
// record with UNABLE_TO_LOCK_ROW. Callers hold org.mu.
func (s *Server) restLock(contention bool, in *input) *apiError {
	if !contention {
		return nil
	}
	for _, id := range parentIDs(s.org, in) {
		if owner := s.owners[id]; owner != nil {
			if st := owner.state(); st == StateInProgress || st == StateUploadComplete {
				return lockErr(id)
			}
		}
	}
	return nil
}

// lockForREST takes the org for a REST save. It waits until no Bulk job in
// progress holds a parent the save points to, at most s.cfg.lockWait (a
// request waits up to 10 seconds for a record lock on Salesforce), and
// returns holding org.mu, so no job takes the parent in between. What is
// still held after the wait fails in restLock.
func (s *Server) lockForREST(contention bool, ins ...*input) {
	s.org.mu.Lock()
	if !contention || s.cfg.lockWait <= 0 {
		return
	}
	t := time.NewTimer(s.cfg.lockWait)
	defer t.Stop()
	for {
		held := false
		for _, in := range ins {
			if s.restLock(true, in) != nil {
				held = true
				break
			}
		}
		if !held {
			return
		}
		freed := s.freed
		s.org.mu.Unlock()
		select {
		case <-freed:
		case <-t.C:
			s.org.mu.Lock()
			return
		case <-s.closed:
			s.org.mu.Lock()
			return
		}
		s.org.mu.Lock()
	}
}

func (s *Server) lockContention() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.contention
}

// parents lists the parent records a save points to.
func (p *rowProc) parents(in *input) []string { return parentIDs(p.s.org, in) }

func parentIDs(o *org, in *input) []string {
	var ids []string
	for _, iv := range in.vals {
		if iv.f.Type != TypeReference || iv.v == nil {
			continue
		}
		if id, ok := normalizeID(iv.v.(string)); ok {
			ids = append(ids, id)
		}
	}
	for _, rv := range in.refs {
		if rv.key == nil {
			continue
		}
		if found := o.findByExt(rv.ref.target, rv.ext, rv.key); len(found) == 1 {
			ids = append(ids, found[0].id)
		}
	}
	return ids
}

// lockParents takes the row locks on a save's parent records: a parent held
// by another internal batch of the same round, or by another job still in
// progress, cannot be locked.
func (p *rowProc) lockParents() *apiError {
	for _, id := range p.parents(&p.in) {
		if b, ok := p.locks[id]; ok && b != p.batch {
			return lockErr(id)
		}
		if err := p.hold(id); err != nil {
			return err
		}
		p.locks[id] = p.batch
	}
	return nil
}

func lockErr(id string) *apiError {
	return newErr("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records: "+id)
}

func (p *rowProc) hold(id string) *apiError {
	s, j := p.s, p.j
	if owner := s.owners[id]; owner != nil && owner != j {
		if st := owner.state(); st == StateInProgress || st == StateUploadComplete {
			return lockErr(id)
		}
	}
	if s.owners[id] != j {
		s.owners[id] = j
		j.held = append(j.held, id)
	}
	return nil
}

func (p *rowProc) row(r pendingRow) {
	j := p.j
	obj := j.obj
	op := j.info.Operation
	in := &p.in
	in.vals, in.refs, in.id = in.vals[:0], in.refs[:0], ""
	rec := r.cells
	var key any
	var keyRaw string
	var rowErr *apiError
	switch {
	case r.rowErr != "":
		rowErr = newErr("INVALID_FIELD", "Failed to parse the row: "+r.rowErr)
	case len(rec) != len(p.cols):
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
		p.failed(failID, rowErr, &r)
		return
	}
	org := p.s.org
	switch op {
	case "insert":
		id, err := org.insert(obj, in, nil)
		if err != nil {
			p.failed("", err, &r)
			return
		}
		p.ok(id, true, &r)
	case "update", "delete", "hardDelete":
		if in.id == "" {
			p.failed("", newErr("MISSING_ARGUMENT", "Id not specified in an update call"), &r)
			return
		}
		rec, err := org.live(obj, in.id)
		if err == nil {
			if op == "update" {
				err = org.update(obj, rec, in, nil)
			} else {
				err = org.remove(obj, rec, op == "hardDelete", nil)
			}
		}
		if err != nil {
			p.failed(failID, err, &r)
			return
		}
		p.ok(rec.id, false, &r)
	case "upsert":
		if j.ext.sys == sysID {
			if in.id != "" {
				key, keyRaw = in.id, in.id
			}
			in.id = ""
		}
		if k, ok := p.rowKey(rec); ok && p.chunkKeys[k] > 1 {
			// Within one 200-row chunk the same key twice is ambiguous.
			p.failed("", newErr("DUPLICATE_VALUE", "Duplicate external id specified: "+keyRaw, j.ext.Name), &r)
			return
		}
		var found []*record
		if key != nil {
			found = org.findByExt(obj, j.ext, key)
			// Records another internal batch created in this round are not
			// visible yet: the two batches race.
			kept := found[:0:0]
			for _, f := range found {
				if b, ok := p.created[f]; !ok || b == p.batch {
					kept = append(kept, f)
				}
			}
			found = kept
		}
		id, created, err := org.upsertFound(obj, j.ext, key, found, in, nil)
		if err != nil {
			p.failed(id, err, &r)
			return
		}
		if created {
			p.created[obj.tbl.byID[id]] = p.batch
		}
		p.ok(id, created, &r)
	}
}

// resultsHeader is the first line of a result file: Salesforce's columns,
// then the uploaded ones, every cell quoted.
func resultsHeader(first []string, header []string, delim rune) string {
	var b strings.Builder
	for i, c := range append(append([]string(nil), first...), header...) {
		if i > 0 {
			b.WriteRune(delim)
		}
		b.Write(appendQuoted(nil, c))
	}
	return b.String()
}
