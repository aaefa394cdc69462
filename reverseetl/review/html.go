package review

import (
	"cmp"
	"embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
)

//go:embed page.html
var pageFS embed.FS

var page = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"ms":  func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"utc": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
}).ParseFS(pageFS, "page.html"))

// examplesPerCode is how many failed rows the page shows for each code.
const examplesPerCode = 3

// HTML writes the report as one self-contained page: inline styles, no
// script, no external asset, so that it reads the same opened from a CI
// job's artifacts or a file. Per sync it shows the counts, the field
// changes (record key, Id, field, old and new value), the failures
// grouped by code with a few examples, the fields kept back, the skip
// reasons and, for a run, the duration and API use. Per sync it lists at
// most opts.Rows records' changes and failure codes, and counts the rest.
func HTML(w io.Writer, rep *reverseetl.Report, opts Options) error {
	if err := page.Execute(w, newPageView(rep, opts)); err != nil {
		return fmt.Errorf("review page: %w", err)
	}
	return nil
}

// WriteHTMLFile writes the page to path with reverseetl.WriteFile: whole
// or not at all. Check the path with reverseetl.CheckReportPath before
// the run.
func WriteHTMLFile(path string, rep *reverseetl.Report, opts Options) error {
	if err := reverseetl.WriteFile(path, func(w io.Writer) error { return HTML(w, rep, opts) }); err != nil {
		return fmt.Errorf("review page %s: %w (the previous file, if any, is unchanged)", path, err)
	}
	return nil
}

type pageView struct {
	Title    string
	Plan     bool
	RunID    string
	Started  time.Time
	Duration time.Duration
	Verdict  string
	Bad      bool
	Syncs    []syncView
}

type syncView struct {
	*reverseetl.SyncReport
	Anchor    string
	Status    string
	Bad       bool
	Other     int64
	Updates   int64 // updates that are not deletes
	Notes     []string
	Changes   []changeRow
	MoreRecs  int64
	Codes     []codeGroup
	MoreCodes int
	Sampled   bool // FailedRows holds fewer rows than Failed
	Kept      []keptRow
	Altered   []alteredRow
	MoreAlt   int64
	Skips     []countRow
	API       string
	Calls     string
	Jobs      []string
	Stats     []countRow
}

// changeRow is one field of one record's update; First marks a record's
// first field, whose row carries the key and Id. A creation is one row of
// all its fields (New), which have no old value.
type changeRow struct {
	First bool
	Span  int
	Key   string
	ID    string
	Field string
	From  string
	To    string
	New   []sink.FieldChange
}

type codeGroup struct {
	Code     string
	Count    int
	Fields   string
	Examples []reverseetl.Outcome
	More     int
}

// alteredRow is a field verify found stored otherwise than sent.
type alteredRow struct {
	Key, ID, Field, Sent, Stored string
}

// keptRow is a field a sync kept back and the rule that kept it.
type keptRow struct {
	Field string
	Rule  string
	Count int64
}

type countRow struct {
	Name  string
	Count string
}

func newPageView(rep *reverseetl.Report, opts Options) pageView {
	v := pageView{Title: opts.title(), Plan: opts.Plan, RunID: rep.RunID, Started: rep.Started, Duration: rep.Duration}
	var failed, ok int
	for i, s := range rep.Syncs {
		sv := newSyncView(s, opts)
		sv.Anchor = fmt.Sprintf("sync-%d", i+1)
		if sv.Bad {
			failed++
		} else if s.Status == reverseetl.Succeeded {
			ok++
		}
		v.Syncs = append(v.Syncs, sv)
	}
	// A sync skipped (its parent failed, another run held its lease) is
	// not a success either: the verdict is red unless every sync, and at
	// least one, succeeded.
	v.Bad = ok < len(rep.Syncs) || len(rep.Syncs) == 0
	switch {
	case len(rep.Syncs) == 0:
		v.Verdict = "no sync ran"
	case opts.Plan && failed > 0:
		v.Verdict = fmt.Sprintf("%d of %d syncs would fail", failed, len(rep.Syncs))
	case opts.Plan:
		v.Verdict = fmt.Sprintf("%d of %d syncs would succeed", ok, len(rep.Syncs))
	case failed > 0:
		v.Verdict = fmt.Sprintf("%d of %d syncs failed", failed, len(rep.Syncs))
	default:
		v.Verdict = fmt.Sprintf("%d of %d syncs succeeded", ok, len(rep.Syncs))
	}
	return v
}

func newSyncView(s *reverseetl.SyncReport, opts Options) syncView {
	v := syncView{SyncReport: s, Other: other(s), Updates: s.Updated - s.Deleted}
	v.Status = string(s.Status)
	if opts.Plan {
		v.Status = planStatus(s)
	}
	v.Bad = s.Status == reverseetl.Failed || s.Status == reverseetl.Cancelled
	v.Notes = notes(s, opts.Plan)
	limit := opts.rows()
	v.Changes, v.MoreRecs = changeRows(s, limit)
	v.Codes, v.MoreCodes = codeGroups(s.FailedRows, limit)
	v.Sampled = int64(len(s.FailedRows)) < s.Failed
	v.Kept = kept(s)
	v.Altered, v.MoreAlt = altered(s, limit)
	v.Skips = sortedCounts(s.SkipReasons)
	if !opts.Plan {
		v.API, v.Calls, v.Jobs, v.Stats = stats(s.Stats)
	}
	return v
}

// notes are the sync's one-line facts besides the counts: deletes,
// on_removed and max_deletes.
func notes(s *reverseetl.SyncReport, plan bool) []string {
	var out []string
	if s.Deleted > 0 && plan {
		out = append(out, fmt.Sprintf("would delete %d records", s.Deleted))
	} else if s.Deleted > 0 {
		out = append(out, fmt.Sprintf("deleted %d records", s.Deleted))
	}
	if r := s.Removed; r != nil && r.Found > 0 {
		verb := "delete"
		if r.Action == "set" {
			verb = "update (on_removed set)"
		}
		if plan {
			out = append(out, fmt.Sprintf("on_removed: %d records this sync wrote are no longer in its query: would %s %d, would fail %d, skipped %d",
				r.Found, verb, r.Done, r.Failed, r.Skipped))
		} else {
			done := "deleted"
			if r.Action == "set" {
				done = "updated (on_removed set)"
			}
			out = append(out, fmt.Sprintf("on_removed: %d records this sync wrote are no longer in its query: %s %d, failed %d, skipped %d",
				r.Found, done, r.Done, r.Failed, r.Skipped))
		}
	}
	if v, ok := maxDeletesVerdict(s); ok {
		out = append(out, "max_deletes: "+v)
	}
	return out
}

// changeRows lists at most limit records' changes, one row per field,
// and how many records that would be written are not listed.
func changeRows(s *reverseetl.SyncReport, limit int) ([]changeRow, int64) {
	shown := s.Changes[:min(limit, len(s.Changes))]
	var rows []changeRow
	for _, c := range shown {
		if c.Create {
			rows = append(rows, changeRow{First: true, Span: 1, Key: c.Key, ID: c.ID, New: c.Fields})
			continue
		}
		for i, f := range c.Fields {
			rows = append(rows, changeRow{First: i == 0, Span: len(c.Fields), Key: c.Key, ID: c.ID, Field: f.Field, From: f.From, To: f.To})
		}
	}
	return rows, max(0, s.Created+s.Updated-s.Deleted-int64(len(shown)))
}

// codeGroups groups failed rows by code, the most frequent first, with
// the first few rows of each as examples.
func codeGroups(rows []reverseetl.Outcome, limit int) ([]codeGroup, int) {
	byCode := map[string]*codeGroup{}
	fieldSets := map[string]map[string]bool{}
	for _, o := range rows {
		c := code(o)
		g, ok := byCode[c]
		if !ok {
			g = &codeGroup{Code: c}
			byCode[c] = g
			fieldSets[c] = map[string]bool{}
		}
		g.Count++
		if len(g.Examples) < examplesPerCode {
			g.Examples = append(g.Examples, o)
		}
		for _, f := range fields(o) {
			fieldSets[c][f] = true
		}
	}
	groups := make([]codeGroup, 0, len(byCode))
	for c, g := range byCode {
		g.Fields = strings.Join(slices.Sorted(maps.Keys(fieldSets[c])), ", ")
		g.More = g.Count - len(g.Examples)
		groups = append(groups, *g)
	}
	slices.SortFunc(groups, func(a, b codeGroup) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Code, b.Code))
	})
	if len(groups) > limit {
		return groups[:limit], len(groups) - limit
	}
	return groups, 0
}

// kept lists the fields kept back, by field; set_if_empty is the rule
// that keeps a field the destination already holds.
func kept(s *reverseetl.SyncReport) []keptRow {
	var out []keptRow
	for _, f := range slices.Sorted(maps.Keys(s.KeptBackFields)) {
		out = append(out, keptRow{Field: f, Rule: "set_if_empty: Salesforce holds a value", Count: s.KeptBackFields[f]})
	}
	if len(out) == 0 && s.KeptBack > 0 {
		// A report written before fields were counted one by one.
		out = append(out, keptRow{Field: "(not recorded)", Rule: "set_if_empty: Salesforce holds a value", Count: s.KeptBack})
	}
	// keep_human_edits: counted from the rows the report keeps, the rest
	// in one line.
	const edited = "keep_human_edits: " + reverseetl.ReasonKeptEdit
	byField := map[string]int64{}
	var listed int64
	for _, o := range s.KeptEditRows {
		for _, f := range o.KeptEdits {
			byField[f]++
			listed++
		}
	}
	for _, f := range slices.Sorted(maps.Keys(byField)) {
		out = append(out, keptRow{Field: f, Rule: edited, Count: byField[f]})
	}
	if s.KeptEdits > listed {
		out = append(out, keptRow{Field: "(in rows not listed)", Rule: edited, Count: s.KeptEdits - listed})
	}
	return out
}

// altered lists, for a run with verify, the fields Salesforce stored
// otherwise than sent, up to limit records; more is the altered rows not
// listed.
func altered(s *reverseetl.SyncReport, limit int) (rows []alteredRow, more int64) {
	for i, o := range s.AlteredRows {
		if i == limit {
			break
		}
		for _, a := range o.Altered {
			rows = append(rows, alteredRow{Key: o.Key, ID: o.ID, Field: a.Field, Sent: a.From, Stored: a.To})
		}
	}
	return rows, s.Altered - int64(min(len(s.AlteredRows), limit))
}

func sortedCounts[K ~string](m map[K]int64) []countRow {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]countRow, 0, len(keys))
	for _, k := range keys {
		out = append(out, countRow{Name: string(k), Count: fmt.Sprint(m[k])})
	}
	return out
}

// stats splits a sink's stats into the API, its calls and jobs, and the
// rest (counters, then notes) in name order.
func stats(st *sink.Statistics) (api, calls string, jobs []string, rest []countRow) {
	if st == nil {
		return "", "", nil, nil
	}
	rest = sortedCounts(st.Counts)
	for _, k := range slices.Sorted(maps.Keys(st.Notes)) {
		rest = append(rest, countRow{Name: k, Count: st.Notes[k]})
	}
	return st.API, fmt.Sprint(st.Calls), st.Jobs, rest
}
