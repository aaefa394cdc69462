package salesforce

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strings"

	"github.com/retl-go/retl/sink"
)

// csvEncoder is the one CSV encoder of the package: RFC 4180 quoting and
// LF line endings, matching the lineEnding of the jobs we create. Encoding
// row by row lets the Bulk writer measure each row before placing it.
type csvEncoder struct {
	buf bytes.Buffer
	w   *csv.Writer
}

func newCSVEncoder() *csvEncoder {
	e := &csvEncoder{}
	e.w = csv.NewWriter(&e.buf)
	return e
}

// row returns the encoded line of cells, newline included. The slice is a
// copy the caller keeps.
func (e *csvEncoder) row(cells []string) []byte {
	if len(cells) == 1 && cells[0] == "" {
		// encoding/csv writes a lone empty cell as an empty line, which
		// readers skip; quoted, the row stays a row.
		return []byte("\"\"\n")
	}
	e.buf.Reset()
	// Writing to a bytes.Buffer cannot fail.
	_ = e.w.Write(cells)
	e.w.Flush()
	return bytes.Clone(e.buf.Bytes())
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

// resultFile is a parsed Bulk API 2.0 result file: the sf__ columns and,
// for each uploaded column, its position in the file (-1 if missing).
type resultFile struct {
	idCol, createdCol, errorCol int
	cols                        []int
	rows                        [][]string
}

// readResults parses a result file. uploaded are the column names of the
// upload, which Salesforce echoes after its own sf__ columns.
func readResults(body []byte, uploaded []string) (*resultFile, error) {
	rf := &resultFile{idCol: -1, createdCol: -1, errorCol: -1}
	if len(bytes.TrimSpace(body)) == 0 {
		return rf, nil
	}
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the result header: %w", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
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
	rf.cols = make([]int, len(uploaded))
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
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the results: %w", err)
		}
		rf.rows = append(rf.rows, rec)
	}
	return rf, nil
}

func cellAt(row []string, i int) string {
	if i < 0 || i >= len(row) {
		return ""
	}
	return row[i]
}

// uploadedCells returns a result row's copy of the uploaded cells, in
// upload order, and whether all of them were present.
func (rf *resultFile) uploadedCells(row []string) ([]string, bool) {
	out := make([]string, len(rf.cols))
	ok := true
	for j, i := range rf.cols {
		if i < 0 || i >= len(row) {
			ok = false
			continue
		}
		out[j] = row[i]
	}
	return out, ok
}
