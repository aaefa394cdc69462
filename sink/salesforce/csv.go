package salesforce

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/retl-go/retl/sink"
)

// appendRow is the one CSV encoder of the package: it appends cells as one
// line, newline included, with RFC 4180 quoting and LF line endings (the
// lineEnding of the jobs we create), quoting exactly the cells that
// encoding/csv quotes. Appending to the caller's buffer costs no allocation
// per row, which matters at millions of rows.
func appendRow(b []byte, cells []string) []byte {
	if len(cells) == 1 && cells[0] == "" {
		// A lone empty cell would be an empty line, which readers skip;
		// quoted, the row stays a row.
		return append(b, "\"\"\n"...)
	}
	for i, c := range cells {
		if i > 0 {
			b = append(b, ',')
		}
		if !needsQuotes(c) {
			b = append(b, c...)
			continue
		}
		b = append(b, '"')
		for {
			k := strings.IndexByte(c, '"')
			if k < 0 {
				break
			}
			b = append(b, c[:k+1]...)
			b = append(b, '"')
			c = c[k+1:]
		}
		b = append(b, c...)
		b = append(b, '"')
	}
	return append(b, '\n')
}

// needsQuotes follows encoding/csv: a cell with a comma, quote or line
// break, the end-of-data marker \. and a cell that starts with a space.
func needsQuotes(c string) bool {
	if c == "" {
		return false
	}
	for i := 0; i < len(c); i++ {
		if quoted[c[i]] {
			return true
		}
	}
	if c[0] < utf8.RuneSelf {
		return asciiSpace[c[0]] || c == `\.`
	}
	r, _ := utf8.DecodeRuneInString(c)
	return unicode.IsSpace(r)
}

// quoted marks the bytes that make a cell quoted; asciiSpace the ASCII
// spaces unicode.IsSpace knows. Tables, as this runs for every cell.
var quoted, asciiSpace = [256]bool{',': true, '"': true, '\n': true, '\r': true},
	[256]bool{' ': true, '\t': true, '\n': true, '\v': true, '\f': true, '\r': true}

// csvEncoder encodes rows into a buffer of its own.
type csvEncoder struct {
	buf []byte
}

func newCSVEncoder() *csvEncoder { return &csvEncoder{} }

// row returns the encoded line of cells, newline included. The slice is a
// copy the caller keeps.
func (e *csvEncoder) row(cells []string) []byte {
	return bytes.Clone(e.view(cells))
}

// view is row without the copy: the slice is valid until the next call.
func (e *csvEncoder) view(cells []string) []byte {
	e.buf = appendRow(e.buf[:0], cells)
	return e.buf
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
// job's results holds no more than the file itself.
//
// When the file's columns are the two sf__ columns and then exactly the
// uploaded ones, rows can also be read raw (nextRaw): what follows the
// first two cells is then the uploaded row itself whenever Salesforce
// echoes it byte for byte, and is matched without being decoded.
type resultFile struct {
	idCol, createdCol, errorCol int
	cols                        []int
	raw                         *recordReader
	echo                        bool
	r                           *csv.Reader
	cells                       []string
}

// readResults reads a result file's header. uploaded are the column names
// of the upload, which Salesforce echoes after its own sf__ columns.
func readResults(body io.Reader, uploaded []string) (*resultFile, error) {
	rf := &resultFile{idCol: -1, createdCol: -1, errorCol: -1, cols: make([]int, len(uploaded)), cells: make([]string, len(uploaded))}
	raw := newRecordReader(body)
	head, err := raw.next()
	if err == io.EOF {
		// An empty file, or one of blank lines only.
		return rf, nil
	}
	var header []string
	if err == nil {
		// A byte order mark before a quoted name would break its quoting.
		head = bytes.TrimPrefix(head, []byte("\ufeff"))
		header, err = csv.NewReader(bytes.NewReader(head)).Read()
	}
	if err != nil {
		return nil, fmt.Errorf("reading the result header: %w", err)
	}
	rf.raw = raw
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
	rf.echo = len(header) == len(uploaded)+2 && rf.idCol == 0 && (rf.createdCol == 1 || rf.errorCol == 1) &&
		slices.Equal(header[2:], uploaded)
	return rf, nil
}

// next returns the next row decoded, valid until the following call, or
// io.EOF.
func (rf *resultFile) next() ([]string, error) {
	if rf.r == nil {
		if rf.raw == nil {
			return nil, io.EOF
		}
		rf.decode(rf.raw.br)
	}
	row, err := rf.r.Read()
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading the results: %w", err)
	}
	return row, err
}

func (rf *resultFile) decode(r io.Reader) {
	rf.echo = false
	rf.r = csv.NewReader(r)
	rf.r.FieldsPerRecord = -1
	rf.r.ReuseRecord = true
}

// nextRaw returns the next row undecoded: its first two cells (which
// must hold no doubled quotes) and the rest of the row without its line
// ending, all valid until the following call. ok is false when the row
// does not split so; then next returns it, and every row after it,
// decoded. Only for a file whose rows echo the upload (echo).
func (rf *resultFile) nextRaw() (first, second, rest []byte, ok bool, err error) {
	rec, err := rf.raw.next()
	if err != nil {
		if err != io.EOF {
			err = fmt.Errorf("reading the results: %w", err)
		}
		return nil, nil, nil, false, err
	}
	first, rest, ok = cutCell(rec)
	if ok {
		second, rest, ok = cutCell(rest)
	}
	if !ok || rest == nil {
		rf.unread(rec)
		return nil, nil, nil, false, nil
	}
	return first, second, rest, true, nil
}

// unread makes next return rec, the last raw row, and the rows after it.
func (rf *resultFile) unread(rec []byte) {
	line := append(bytes.Clone(rec), '\n')
	rf.decode(io.MultiReader(bytes.NewReader(line), rf.raw.br))
}

// cutCell splits the first cell off a CSV record: its text and the rest
// after the comma (nil when the cell was the last one). ok is false for a
// cell with doubled quotes or broken quoting, which need decoding.
func cutCell(rec []byte) (cell, rest []byte, ok bool) {
	if len(rec) > 0 && rec[0] == '"' {
		end := bytes.IndexByte(rec[1:], '"') + 1
		if end == 0 || end+1 < len(rec) && rec[end+1] == '"' {
			return nil, nil, false
		}
		cell, rest = rec[1:end], rec[end+1:]
	} else {
		i := bytes.IndexByte(rec, ',')
		if i < 0 {
			return rec, nil, true
		}
		cell, rest = rec[:i], rec[i:]
	}
	switch {
	case len(rest) == 0:
		return cell, nil, true
	case rest[0] != ',':
		return nil, nil, false
	}
	return cell, rest[1:], true
}

// recordReader splits CSV into records without decoding their cells: a
// record ends at a line break outside quotes.
type recordReader struct {
	br  *bufio.Reader
	buf []byte
	// last is the record next returned last.
	last []byte
}

func newRecordReader(r io.Reader) *recordReader {
	return &recordReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next record without its line ending, valid until the
// following call, or io.EOF. Blank lines are skipped, as encoding/csv
// skips them.
func (rr *recordReader) next() ([]byte, error) {
	for {
		rec, err := rr.record()
		if err != nil || len(rec) > 0 {
			rr.last = rec
			return rec, err
		}
	}
}

func (rr *recordReader) record() ([]byte, error) {
	rr.buf = rr.buf[:0]
	quotes := 0
	for {
		line, err := rr.br.ReadSlice('\n')
		quotes += bytes.Count(line, []byte{'"'})
		switch {
		case err == bufio.ErrBufferFull || err == nil && quotes%2 == 1:
			// The record goes on past the buffer or past a quoted line
			// break: keep what was read before reading on.
			rr.buf = append(rr.buf, line...)
			continue
		case err == io.EOF && len(line) == 0 && len(rr.buf) == 0:
			return nil, io.EOF
		case err != nil && err != io.EOF:
			return nil, err
		}
		rec := line
		if len(rr.buf) > 0 {
			rr.buf = append(rr.buf, line...)
			rec = rr.buf
		}
		rec = bytes.TrimSuffix(rec, []byte{'\n'})
		return bytes.TrimSuffix(rec, []byte{'\r'}), nil
	}
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
