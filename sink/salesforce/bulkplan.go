package salesforce

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strings"

	"github.com/retl-go/retl/sink"
)

// jobPlan is one job's share of a Write: which records, the CSV, and how
// each record's row reads, for mapping results back.
type jobPlan struct {
	idx  []int  // record positions in the Write
	ends []int  // end of each position's row in body
	body []byte // header and rows
	head int    // length of the header
}

// line returns the encoded row of a position without its line ending,
// as the index of a resultIndex holds it.
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

// planColumns picks the uploaded columns: Id alone for deletes; otherwise
// the layout's fields, leaving out any that no record sends (all absent),
// so a column that only guarded values filled is not uploaded at all.
func (s *sfSink) planColumns(layout *sink.Layout, records []sink.Record, pending []int) (*bulkLayout, error) {
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

// presizeMax bounds the room reserved for a job's CSV before its rows
// are encoded.
const presizeMax = 64 << 20

// planJobs splits the pending records into jobs under the record and
// upload size bounds. A record whose row alone exceeds the size bound
// fails on its own.
func (s *sfSink) planJobs(bl *bulkLayout, records []sink.Record, pending []int, out []sink.Result) []*jobPlan {
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

// cells returns the uploaded cells of a position, decoded from its row:
// keeping rows encoded only is cheaper than keeping both forms. The row
// is our own encoding, so it always decodes.
func (j *jobPlan) cells(p int) []string {
	cells, _ := csv.NewReader(bytes.NewReader(j.row(p))).Read()
	return cells
}
