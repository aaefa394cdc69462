package salesforce

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"io"
	"strings"

	"github.com/retl-go/retl/sink"
)

// csvEncoder is the one CSV encoder of the package: encoding/csv's Writer
// with LF line endings (the lineEnding of the jobs we create), into a
// buffer of its own that each row reuses. The zero value is ready.
type csvEncoder struct {
	buf bytes.Buffer
	w   *csv.Writer
}

func newCSVEncoder() *csvEncoder { return &csvEncoder{} }

// row returns the encoded line of cells, newline included. The slice is a
// copy the caller keeps.
func (e *csvEncoder) row(cells []string) []byte {
	return bytes.Clone(e.view(cells))
}

// view is row without the copy: the slice is valid until the next call.
func (e *csvEncoder) view(cells []string) []byte {
	e.buf.Reset()
	if len(cells) == 1 && cells[0] == "" {
		// A lone empty cell would be an empty line, which readers skip;
		// quoted, the row stays a row.
		e.buf.WriteString("\"\"\n")
		return e.buf.Bytes()
	}
	if e.w == nil {
		e.w = csv.NewWriter(&e.buf)
	}
	// Write fails only when its destination does; a bytes.Buffer does not.
	_ = e.w.Write(cells)
	e.w.Flush()
	return e.buf.Bytes()
}

// line is view without the line ending.
func (e *csvEncoder) line(cells []string) []byte {
	v := e.view(cells)
	return v[:len(v)-1]
}

// Cell texts with a meaning in Bulk API 2.0.
const (
	// nullCell sets a field to null; an empty cell leaves it as it is.
	nullCell = "#N/A"
)

// bulkCell is a value as a Bulk API 2.0 CSV cell.
func bulkCell(v sink.Value) string {
	switch v.Kind {
	case sink.Absent:
		return ""
	case sink.Null:
		return nullCell
	}
	return v.S
}

// resultFile reads a Bulk API 2.0 result file row by row: the sf__
// columns and, for each uploaded column, its position in the file (-1 if
// missing). Rows are read one at a time into reused slices, so reading a
// job's results holds no more than the file itself. Salesforce quotes
// every cell of a result file, so rows are always decoded: matching them
// undecoded against the upload would never hit.
type resultFile struct {
	idCol, createdCol, errorCol int
	cols                        []int
	r                           *csv.Reader
	cells                       []string
}

// readResults reads a result file's header. uploaded are the column names
// of the upload, which Salesforce echoes after its own sf__ columns.
func readResults(body io.Reader, uploaded []string) (*resultFile, error) {
	rf := &resultFile{idCol: -1, createdCol: -1, errorCol: -1, cols: make([]int, len(uploaded)), cells: make([]string, len(uploaded))}
	br := bufio.NewReaderSize(body, 64<<10)
	// A byte order mark before a quoted name would break its quoting.
	if bom, err := br.Peek(3); err == nil && string(bom) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	rf.r = csv.NewReader(br)
	rf.r.FieldsPerRecord = -1
	rf.r.ReuseRecord = true
	header, err := rf.r.Read()
	if err == io.EOF {
		// An empty file, or one of blank lines only.
		return rf, nil
	}
	if err != nil {
		return nil, errorf("reading the result header: %w", err)
	}
	for i, h := range header {
		switch h {
		case "sf__Id":
			rf.idCol = i
		case "sf__Created":
			rf.createdCol = i
		case "sf__Error":
			rf.errorCol = i
		}
	}
	for j, name := range uploaded {
		rf.cols[j] = -1
		for i, h := range header {
			if h == name {
				rf.cols[j] = i
				break
			}
		}
		if rf.cols[j] < 0 {
			for i, h := range header {
				if strings.EqualFold(h, name) {
					rf.cols[j] = i
					break
				}
			}
		}
	}
	return rf, nil
}

// next returns the next row decoded, valid until the following call, or
// io.EOF.
func (rf *resultFile) next() ([]string, error) {
	row, err := rf.r.Read()
	if err != nil && err != io.EOF {
		return nil, errorf("reading the results: %w", err)
	}
	return row, err
}

func cellAt(row []string, i int) string {
	if i < 0 || i >= len(row) {
		return ""
	}
	return row[i]
}

// uploadedCells returns a result row's uploaded cells, in upload order,
// valid until the next call, and whether all of them were present.
func (rf *resultFile) uploadedCells(row []string) ([]string, bool) {
	out := rf.cells
	ok := true
	for j, i := range rf.cols {
		if i < 0 || i >= len(row) {
			ok = false
			out[j] = ""
			continue
		}
		out[j] = row[i]
	}
	return out, ok
}
