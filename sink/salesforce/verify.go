package salesforce

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/retl-go/retl/sink"
)

// What verify does with a record Salesforce stored differently from what
// was sent (on_altered).
const (
	// AlteredReport keeps the record written and lists the fields in its
	// result's Altered.
	AlteredReport = "report"
	// AlteredFail fails the record with CodeAltered; it was written.
	AlteredFail = "fail"
)

// CodeAltered is the error of a written record that Salesforce stored
// differently from what was sent, with on_altered: fail.
const CodeAltered = "RETL_ALTERED"

// VerifyError says that records were written but could not be read back to
// verify them: their outcomes stand, unverified.
type VerifyError struct {
	// Records is how many written records were not read back.
	Records int
	Err     error
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("verify: %d written records could not be read back; their outcomes stand, unverified: %s", e.Records, unlabelledText(e.Err))
}

func (e *VerifyError) Unwrap() error { return e.Err }

// verifyStats counts what verify read and found, for Stats.
type verifyStats struct {
	read, unread, altered atomic.Int64
	warned                sync.Once
}

// verifies reports whether the sink reads back what it wrote.
func (s *sfSink) verifies() bool {
	return s.dest.Options.Verify && s.dest.Operation != Delete && s.dest.Operation != HardDelete
}

// checkVerify checks verify and on_altered against the operation.
func (d *Destination) checkVerify() error {
	o := &d.Options
	switch o.OnAltered {
	case "":
		o.OnAltered = AlteredReport
	case AlteredReport, AlteredFail:
		if !o.Verify {
			return keyErrorf("on_altered", "on_altered says what verify does with an altered record: set verify: true with it")
		}
	default:
		return keyErrorf("on_altered", "on_altered %q: want report or fail", o.OnAltered)
	}
	if o.Verify && (d.Operation == Delete || d.Operation == HardDelete) {
		return keyErrorf("verify", "verify reads back the values written: a %s writes none", d.Operation)
	}
	return nil
}

// verifyWritten reads back, by Id, the records res says were written and
// compares each value sent with the value Salesforce stored, as
// only_if_different compares them (planSame: numbers at the field's scale,
// dates, booleans, picklists and Ids without case, null and "" alike). A
// field that differs goes to the record's Altered, with the value sent and
// the value stored; with on_altered: fail the record also fails with
// CodeAltered. A read that fails leaves every outcome as it is and returns
// a *VerifyError.
func (s *sfSink) verifyWritten(ctx context.Context, layout *sink.Layout, records []sink.Record, res []sink.Result) error {
	var at []int
	var ids []string
	for i := range res {
		if res[i].Err == nil && res[i].Skipped == "" && res[i].ID != "" && !res[i].Deleted {
			at = append(at, i)
			ids = append(ids, res[i].ID)
		}
	}
	if len(at) == 0 {
		return nil
	}
	fail := func(err error) error {
		s.vf.unread.Add(int64(len(at)))
		return &VerifyError{Records: len(at), Err: err}
	}
	desc, err := s.c.Describe(ctx, s.dest.Object)
	if err != nil {
		return fail(err)
	}
	cols := planColumns(desc, layout)
	var sel []string
	for _, c := range cols {
		if c.soql != "" && !strings.EqualFold(c.soql, "Id") {
			sel = append(sel, c.soql)
		}
	}
	var rows map[string]currentRow
	if len(ids) >= verifyJobMin {
		rows, err = s.readBackByJobs(ctx, ids, sel)
	} else {
		rows, err = s.c.CurrentValues(ctx, s.dest.Object, "Id", ids, sel)
	}
	if err != nil {
		return fail(err)
	}
	missing := 0
	for k, i := range at {
		row, ok := rows[toID18(ids[k])]
		if !ok {
			// Deleted since, or not visible to the user: nothing to compare.
			missing++
			continue
		}
		altered := alteredFields(&records[i], cols, row)
		if len(altered) == 0 {
			continue
		}
		s.vf.altered.Add(1)
		res[i].Altered = altered
		if s.dest.Options.OnAltered == AlteredFail {
			res[i].Err = alteredError(altered)
		}
	}
	s.vf.read.Add(int64(len(at) - missing))
	s.vf.unread.Add(int64(missing))
	return nil
}

// alteredFields lists the fields of rec whose stored value differs from the
// value sent; fields not sent, and fields the describe does not list, are
// not compared.
func alteredFields(rec *sink.Record, cols []planColumn, row currentRow) []sink.FieldChange {
	var out []sink.FieldChange
	for j, c := range cols {
		if j >= len(rec.Values) || rec.Values[j].Kind == sink.Absent || c.soql == "" {
			continue
		}
		cur, _ := row.Get(c.soql)
		v := rec.Values[j]
		if planSame(c, v, cur) {
			continue
		}
		out = append(out, sink.FieldChange{Field: c.name, From: v.S, To: valueText(cur)})
	}
	return out
}

// alteredError is the error of an altered record with on_altered: fail.
// It names the fields only: the values are in the result's Altered, where
// the report keeps excluded fields' values out.
func alteredError(altered []sink.FieldChange) *sink.RecordError {
	fields := make([]string, len(altered))
	for i, a := range altered {
		fields[i] = a.Field
	}
	e := recordErr(CodeAltered, "written; Salesforce stored other values than were sent in %s", strings.Join(fields, ", "))
	e.Fields = fields
	return e
}

// verifyAfterWrite runs verify on a write's results: a read that fails is
// a warning, once, and counted; the results stay as they are.
func (s *sfSink) verifyAfterWrite(ctx context.Context, layout *sink.Layout, records []sink.Record, res []sink.Result) {
	if !s.verifies() {
		return
	}
	if err := s.verifyWritten(ctx, layout, records, res); err != nil {
		s.vf.warned.Do(func() { s.warn(err.Error()) })
	}
}

// verifyStatsTo adds verify's counts to Stats.
func (s *sfSink) verifyStatsTo(st *sink.Statistics) {
	if !s.verifies() {
		return
	}
	if st.Counts == nil {
		st.Counts = map[string]int64{}
	}
	// Read and altered are given even at 0: verify ran.
	st.Counts["verify_read"] = s.vf.read.Load()
	st.Counts["verify_altered"] = s.vf.altered.Load()
	st.Count("verify_unread", s.vf.unread.Load())
}

// How verify reads back. A REST query's URL holds about 400 Ids
// (maxQueryBytes); a query job's SOQL, sent in its body, may hold 100,000
// characters ("SOQL and SOSL Limits for Search Queries"), about 4,000
// Ids, at about four calls a job (create, two polls, results).
const (
	// verifyJobMin is the records of one write from which they are read
	// back by query jobs instead of IN lists: from there a job costs
	// fewer calls than the queries it replaces.
	verifyJobMin = 2000
	// verifyJobSOQL bounds one query job's SOQL, under Salesforce's
	// 100,000 characters.
	verifyJobSOQL = 90_000
)

// readBackByJobs reads fields of the records with these Ids by Bulk API 2.0
// query jobs, each one's IN list as long as its SOQL allows, one job after
// the other. Rows are keyed by 18-character Id.
func (s *sfSink) readBackByJobs(ctx context.Context, ids, fields []string) (map[string]currentRow, error) {
	head := "SELECT Id"
	for _, f := range fields {
		if !isFieldPath(f) {
			return nil, errorf("%q is not a field name", f)
		}
		head += ", " + f
	}
	head += " FROM " + s.dest.Object + " WHERE Id IN ("
	out := make(map[string]currentRow, len(ids))
	var b strings.Builder
	run := func() error {
		b.WriteString(")")
		err := s.queryJob(ctx, b.String(), func(r io.Reader) error { return addResultRows(r, out) })
		b.Reset()
		return err
	}
	for _, id := range ids {
		lit := quoteSOQL(id)
		if b.Len() > 0 && b.Len()+len(lit)+3 > verifyJobSOQL {
			if err := run(); err != nil {
				return nil, err
			}
		}
		if b.Len() == 0 {
			b.WriteString(head)
		} else {
			b.WriteString(", ")
		}
		b.WriteString(lit)
	}
	if b.Len() > 0 {
		if err := run(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// addResultRows reads one page of a query job's CSV results into rows by
// Id: a header of field paths (Account.External_Id__c), then one record a
// row; an empty cell is null, a path's parts become nested rows, as the
// REST query answers them.
func addResultRows(r io.Reader, rows map[string]currentRow) error {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return err
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		row := currentRow{}
		for i, name := range header {
			var v any
			if i < len(rec) && rec[i] != "" {
				v = rec[i]
			}
			at, parts := row, strings.Split(name, ".")
			for _, p := range parts[:len(parts)-1] {
				sub, ok := at[p].(currentRow)
				if !ok {
					sub = currentRow{}
					at[p] = sub
				}
				at = sub
			}
			at[parts[len(parts)-1]] = v
		}
		if id, _ := row["Id"].(string); id != "" {
			rows[toID18(id)] = row
		}
	}
}
