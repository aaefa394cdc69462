package salesforce

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"hash/maphash"
	"io"
	"strings"

	"github.com/retl-go/retl/sink"
)

// resultIndex ties result rows back to the job's records: first by the
// row's exact cells, then by the key column (Id or external id), then for
// inserts by the cells with surrounding spaces trimmed. Identical rows are
// interchangeable, so each maps to a queue of positions. Result rows
// normally carry the uploaded cells unchanged, so only the exact index is
// built up front; the others are built the first time a row needs them.
type resultIndex struct {
	j      *jobPlan
	taken  []bool
	seeds  [2]maphash.Seed
	rows   *textIndex
	keys   *textIndex
	trims  *textIndex
	enc    csvEncoder
	keyCol int
	norm   func(string) string
}

func newResultIndex(j *jobPlan, keyCol int, norm func(string) string) *resultIndex {
	m := &resultIndex{j: j, taken: make([]bool, len(j.idx)), seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, keyCol: keyCol, norm: norm}
	m.rows = m.newIndex(j.line)
	return m
}

// textIndex finds positions by a text of theirs (a row, a key). A text is
// known by two independent 64-bit hashes, which texts that differ share
// with odds of about one in 2^128: a lookup then reads a few small arrays
// instead of the text, which for result rows arriving in any order would
// miss the cache on almost every row. The first hash places a text in an
// open-addressed table whose slots head chains of the positions sharing
// it, in upload order. No allocation per position.
type textIndex struct {
	slots  []int32 // chain head + 1, 0 for an empty slot
	mask   uint64
	h1, h2 []uint64
	next   []int32 // next position with the same text, -1 at the end
}

func (m *resultIndex) newIndex(text func(p int) []byte) *textIndex {
	n := len(m.j.idx)
	size := 16
	for size < 2*n {
		size <<= 1
	}
	ix := &textIndex{slots: make([]int32, size), mask: uint64(size - 1), h1: make([]uint64, n), h2: make([]uint64, n), next: make([]int32, n)}
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
func (ix *textIndex) find(h1, h2 uint64) uint64 {
	for i := h1 & ix.mask; ; i = (i + 1) & ix.mask {
		q := ix.slots[i] - 1
		if q < 0 || ix.h1[q] == h1 && ix.h2[q] == h2 {
			return i
		}
	}
}

// pop takes the first free position whose text is want, or returns -1.
func (m *resultIndex) pop(ix *textIndex, want []byte) int {
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

// take marks and returns the free position a result row belongs to, or
// -1; complete says the row echoes every uploaded cell.
func (m *resultIndex) take(cells []string, complete bool) int {
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
func (m *resultIndex) untake(ps []int32) {
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
func (s *sfSink) collect(ctx context.Context, bl *bulkLayout, j *jobPlan, info *jobInfo, out []sink.Result) error {
	m := newResultIndex(j, bl.keyCol, s.normKey)
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
func (s *sfSink) applyResults(body io.Reader, bl *bulkLayout, m *resultIndex, done []bool, out []sink.Result, j *jobPlan,
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
		p := m.take(cells, complete)
		if p < 0 {
			*unmatched++
			continue
		}
		out[j.idx[p]] = fn(row, rf)
		done[p] = true
		*matched = append(*matched, int32(p))
	}
}
