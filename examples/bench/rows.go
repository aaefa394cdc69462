package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source"
	"github.com/retl-go/retl/transform"
)

// columns are the source columns, as a warehouse query would name them.
var columns = []string{"ACCOUNT_ID", "NAME", "INDUSTRY", "EMPLOYEES", "ARR", "SIGNED_UP_AT", "RENEWAL_DATE", "CHURN_NOTE"}

// syncYAML is the benchmark's sync: eight columns of every kind a
// warehouse returns, upserted into Account by external id.
// dest holds extra destination keys, "key: value" separated by commas.
func syncYAML(api string, rows int, prefix, dest string) []byte {
	var extra strings.Builder
	for kv := range strings.SplitSeq(dest, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			extra.WriteString("\n  " + kv)
		}
	}
	return fmt.Appendf(nil, `name: accounts
source:
  type: bench
  rows: %d
  prefix: %s
destination:
  type: salesforce
  connection: crm
  object: Account
  operation: upsert
  match_on: External_Id__c
  api: %s%s
mapping:
  - {from: ACCOUNT_ID,   to: External_Id__c}
  - {from: NAME,         to: Name}
  - {from: INDUSTRY,     to: Industry}
  - {from: EMPLOYEES,    to: NumberOfEmployees, type: integer}
  - {from: ARR,          to: ARR__c, type: number}
  - {from: SIGNED_UP_AT, to: Signed_Up__c}
  - {from: RENEWAL_DATE, to: Renewal_Date__c, type: date}
  - {from: CHURN_NOTE,   to: Description}
`, rows, prefix, api, extra.String())
}

func projectYAML(url string) []byte {
	return fmt.Appendf(nil, `connections:
  crm:
    type: salesforce
    login_url: %s
    auth: password
    client_id: retl
    client_secret: retl
    username: demo@example.com
    password: demo
`, url)
}

func loadProject(ctx context.Context, url, api string, rows int, prefix, dest string) (*config.Project, error) {
	return config.Parse(ctx, "retl.yaml", projectYAML(url), map[string][]byte{"accounts.yaml": syncYAML(api, rows, prefix, dest)})
}

// genSource makes rows on the fly, so the client holds only the batches
// in flight, as with a warehouse cursor.
type genSource struct {
	rows   int
	prefix string
	batch  int
}

func newGenSource(_ context.Context, b reverseetl.BuildContext) (source.Source, error) {
	var cfg struct {
		Rows   int    `yaml:"rows"`
		Prefix string `yaml:"prefix"`
	}
	if err := b.Sync.Source.Section.Decode(&cfg); err != nil {
		return nil, err
	}
	return &genSource{rows: cfg.Rows, prefix: cfg.Prefix, batch: 10_000}, nil
}

// Values that repeat are boxed once, so rows share them.
var (
	industries = boxAll("Agriculture", "Banking", "Chemicals", "Communications", "Construction", "Consulting")
	notes      = func() []any {
		out := make([]any, 100)
		for i := range out {
			out[i] = "renewal at risk, contact " + strconv.Itoa(i)
		}
		return out
	}()
	dates = func() []any {
		out := make([]any, 365)
		t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range out {
			out[i] = source.Date(t.AddDate(0, 0, i).Format(time.DateOnly))
		}
		return out
	}()
	epoch = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	// Employee counts and sign-up times repeat (daily for the times), as
	// warehouse values do.
	employees = func() []any {
		out := make([]any, 5000)
		for i := range out {
			out[i] = int64(i)
		}
		return out
	}()
	signedUp = func() []any {
		out := make([]any, 86400)
		for i := range out {
			out[i] = epoch.Add(time.Duration(i) * time.Second)
		}
		return out
	}()
)

func boxAll(s ...string) []any {
	out := make([]any, len(s))
	for i := range s {
		out[i] = s[i]
	}
	return out
}

// row fills r with row i. Text is cut from buf; the strings stay valid
// because buf is never written twice.
func (g *genSource) row(i int, r []any, buf []byte) []byte {
	text := func(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
	start := len(buf)
	buf = append(buf, g.prefix...)
	buf = append(buf, '-')
	buf = appendPadded(buf, i, 9)
	id := text(buf[start:])
	start = len(buf)
	buf = append(buf, "Account "...)
	buf = strconv.AppendInt(buf, int64(i), 10)
	if i%8 == 0 {
		// Some names need CSV quoting.
		buf = append(buf, `, "Northwind"`...)
	}
	name := text(buf[start:])
	start = len(buf)
	buf = strconv.AppendInt(buf, int64(i%1_000_000), 10)
	buf = append(buf, '.', byte('0'+i%10), '5')
	arr := source.Decimal(text(buf[start:]))
	r[0], r[1], r[2] = id, name, industries[i%len(industries)]
	r[3], r[4] = employees[i%len(employees)], arr
	r[5] = signedUp[i%len(signedUp)]
	r[6] = dates[i%len(dates)]
	r[7] = nil
	if i%2 == 1 {
		r[7] = notes[i%len(notes)]
	}
	return buf
}

func appendPadded(b []byte, n, width int) []byte {
	var d [20]byte
	s := strconv.AppendInt(d[:0], int64(n), 10)
	for range width - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

func (g *genSource) Read(ctx context.Context, emit func(source.Batch) error) error {
	for off := 0; off < g.rows; off += g.batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(g.batch, g.rows-off)
		// One allocation for the batch's cells and one for its text.
		cells := make([]any, n*len(columns))
		buf := make([]byte, 0, n*48)
		rows := make([][]any, n)
		for k := range rows {
			r := cells[k*len(columns) : (k+1)*len(columns) : (k+1)*len(columns)]
			buf = g.row(off+k, r, buf)
			rows[k] = r
		}
		if err := emit(source.Batch{Columns: columns, Rows: rows}); err != nil {
			return err
		}
	}
	return nil
}

func (g *genSource) Close() error { return nil }

// writePeerInput writes the rows of one load, mapped by the same sync,
// as the files a peer loader reads: CSV for Bulk, split into files of at
// most perFile rows (one Bulk job each), or a JSON array of records for
// REST. Cells follow the Bulk rules retl uploads by: an absent value is an
// empty cell, a null is #N/A.
func writePeerInput(ctx context.Context, dir, api string, rows, perFile int, prefix string) ([]string, int64, error) {
	p, err := loadProject(ctx, "http://127.0.0.1:1", api, rows, prefix, "")
	if err != nil {
		return nil, 0, err
	}
	m, err := transform.Compile(p.Syncs[0])
	if err != nil {
		return nil, 0, err
	}
	fields := m.Layout().Fields
	g := &genSource{rows: rows, prefix: prefix}
	var files []string
	var total int64
	var f *os.File
	var w *bufio.Writer
	var cw *csv.Writer
	closeFile := func() error {
		if f == nil {
			return nil
		}
		if api == "rest" {
			w.WriteString("]\n")
		}
		if cw != nil {
			cw.Flush()
		}
		if err := w.Flush(); err != nil {
			return err
		}
		st, _ := f.Stat()
		total += st.Size()
		err := f.Close()
		f = nil
		return err
	}
	r := make([]any, len(columns))
	var buf []byte
	cells := make([]string, len(fields))
	for i := range rows {
		if f == nil || (api == "bulk" && i%perFile == 0) {
			if err := closeFile(); err != nil {
				return nil, 0, err
			}
			name := fmt.Sprintf("%s/peer-%s-%d-%d.%s", dir, api, rows, len(files), map[string]string{"bulk": "csv", "rest": "json"}[api])
			if f, err = os.Create(name); err != nil {
				return nil, 0, err
			}
			files = append(files, name)
			w = bufio.NewWriterSize(f, 1<<20)
			if api == "bulk" {
				cw = csv.NewWriter(w)
				cw.Write(fields)
			} else {
				w.WriteString("[")
			}
		}
		buf = g.row(i, r, buf[:0:0])
		rec, err := m.Transform(transform.Row{Columns: columns, Values: r})
		if err != nil {
			return nil, 0, err
		}
		if api == "bulk" {
			for c, v := range rec.Values {
				switch v.Kind {
				case sink.Absent:
					cells[c] = ""
				case sink.Null:
					cells[c] = "#N/A"
				default:
					cells[c] = v.S
				}
			}
			cw.Write(cells)
			continue
		}
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteByte('{')
		sep := ""
		for c, v := range rec.Values {
			if v.Kind == sink.Absent {
				continue
			}
			k, _ := json.Marshal(fields[c])
			w.WriteString(sep)
			w.Write(k)
			w.WriteByte(':')
			sep = ","
			switch v.Kind {
			case sink.Null:
				w.WriteString("null")
			case sink.Number, sink.Bool:
				w.WriteString(v.S)
			default:
				q, _ := json.Marshal(v.S)
				w.Write(q)
			}
		}
		w.WriteByte('}')
	}
	if err := closeFile(); err != nil {
		return nil, 0, err
	}
	return files, total, nil
}
