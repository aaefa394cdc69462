package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/internal/jsonstr"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
)

// Writeback is a reverseetl.Observer that writes a run's log to RUNS and
// its row outcomes to RECORD_RESULTS while the syncs run, in the chunks the
// Engine hands over: nothing is held back until the end. A failure is
// returned to the Engine (a warning on the sync's report) and marks the
// sync's report WritebackFailed; it never changes an outcome.
type Writeback struct {
	s     *Store
	runID string

	once    sync.Once
	prepErr error
	// retErr is the retention's failure: reported on each sync, it stops
	// no write, since the tables are there.
	retErr error

	mu    sync.Mutex
	syncs map[string]*syncLog
}

type syncLog struct {
	// started says the RUNS row of a running sync was tried; its final row
	// is written by SyncFinished in any case.
	started bool
	failed  bool
	// retention says the retention's failure was reported for this sync.
	retention bool
}

// Writeback returns the observer that writes the run runID.
func (s *Store) Writeback(runID string) *Writeback {
	return &Writeback{s: s, runID: runID, syncs: map[string]*syncLog{}}
}

var _ reverseetl.Observer = (*Writeback)(nil)

// Prepare makes the tables and applies the retention, as the first write
// of the run otherwise does. Calling it before the run starts makes a
// failure known early, and on SQLite readies the file before any source
// reads it (see Store.Prepare).
func (w *Writeback) Prepare(ctx context.Context) error {
	if err := w.prepare(ctx); err != nil {
		return err
	}
	return w.retErr
}

// prepare makes the tables and applies the retention, once per run. It
// returns the tables' failure only: without them nothing can be written,
// while a failed retention leaves every write possible.
func (w *Writeback) prepare(ctx context.Context) error {
	w.once.Do(func() {
		if w.prepErr = w.s.ensure(ctx); w.prepErr != nil {
			return
		}
		if days := w.s.opts.RetentionDays; days > 0 && !w.s.readOnly {
			cutoff := w.s.now().UTC().AddDate(0, 0, -days).Format(timeLayout)
			for _, t := range []struct{ table, col string }{{w.s.tResults, "RECORDED_AT"}, {w.s.tRuns, "STARTED_AT"}, {w.s.tPrior, "RECORDED_AT"}} {
				q := "DELETE FROM " + t.table + " WHERE " + t.col + " < " + w.s.d.Timestamp(w.s.d.Placeholder(1))
				if _, err := w.s.exec(ctx, q, cutoff); err != nil {
					w.retErr = fmt.Errorf("retention: %w", err)
					return
				}
			}
		}
	})
	return w.prepErr
}

// retention returns the retention's failure the first time a sync asks.
func (w *Writeback) retention(l *syncLog) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.retErr == nil || l.retention {
		return nil
	}
	l.retention = true
	return w.retErr
}

func (w *Writeback) log(syncName string) *syncLog {
	w.mu.Lock()
	defer w.mu.Unlock()
	l, ok := w.syncs[syncName]
	if !ok {
		l = &syncLog{}
		w.syncs[syncName] = l
	}
	return l
}

func (w *Writeback) fail(l *syncLog, err error) error {
	w.mu.Lock()
	l.failed = true
	w.mu.Unlock()
	return fmt.Errorf("warehouse writeback: %w", err)
}

// The bound of the load of a sync's outcomes when it finishes.
const (
	loadTimeout = 2 * time.Minute
	loadPerRow  = 100 * time.Microsecond
)

type resultRow struct {
	RunID      string `json:"RUN_ID"`
	Sync       string `json:"SYNC"`
	Seq        int64  `json:"SEQ"`
	Key        string `json:"RECORD_KEY,omitempty"`
	Operation  string `json:"OPERATION,omitempty"`
	Outcome    string `json:"OUTCOME"`
	ID         string `json:"SALESFORCE_ID,omitempty"`
	Created    bool   `json:"CREATED"`
	ErrCode    string `json:"ERROR_CODE,omitempty"`
	ErrMessage string `json:"ERROR_MESSAGE,omitempty"`
	ErrFields  string `json:"ERROR_FIELDS,omitempty"`
	Reason     string `json:"REASON,omitempty"`
	Detail     string `json:"REASON_DETAIL,omitempty"`
	KeptEdited string `json:"KEPT_EDITED,omitempty"`
	KeptBack   string `json:"KEPT_BACK,omitempty"`
	Values     string `json:"VALUES_JSON,omitempty"`
	RecordedAt string `json:"RECORDED_AT"`
	Altered    string `json:"ALTERED,omitempty"`
}

// Outcomes writes the chunk's outcomes to RECORD_RESULTS (all, only the
// failed ones, or none, as configured). The first chunk of a sync also
// writes its RUNS row, with status running. Each table is written on its
// own: a run log that cannot be written stops no outcome, and the other
// way round.
func (w *Writeback) Outcomes(ctx context.Context, s *config.Sync, outs []reverseetl.Outcome) error {
	l := w.log(s.Name)
	if err := w.prepare(ctx); err != nil {
		return w.fail(l, err)
	}
	errs := []error{w.retention(l)}
	if !l.started {
		// Tried once: SyncFinished writes the row again with its counts.
		l.started = true
		if err := w.s.upsert(ctx, w.s.tRuns, runCols, runKey, nil, []any{runRow{RunID: w.runID, Sync: s.Name,
			StartedAt: w.s.stamp(), Status: "running"}}); err != nil {
			errs = append(errs, fmt.Errorf("run log: %w", err))
		}
	}
	if err := w.results(ctx, s, "", outs); err != nil {
		errs = append(errs, err)
	}
	if err := w.priors(ctx, s, outs); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return w.fail(l, err)
	}
	return nil
}

// Removed writes the records on_removed acted on to RECORD_RESULTS, with
// OPERATION on_removed:delete or on_removed:set, so that the warehouse
// knows of every record retl changed. They are not rows read: a query of
// the run's rows leaves them out by OPERATION.
func (w *Writeback) Removed(ctx context.Context, s *config.Sync, action string, outs []reverseetl.Outcome) error {
	l := w.log(s.Name)
	if err := w.prepare(ctx); err != nil {
		return w.fail(l, err)
	}
	if err := w.results(ctx, s, RemovedOperation(action), outs); err != nil {
		return w.fail(l, err)
	}
	return nil
}

// resultOperation is a RECORD_RESULTS row's OPERATION: on_removed's
// action, else what the write did.
func resultOperation(operation string, o *reverseetl.Outcome) string {
	if operation != "" {
		return operation
	}
	return writeOperation(o)
}

// writeOperation is the OPERATION of a row the sync wrote: what the write
// did to the record (create, update or delete); empty for rows not written.
func writeOperation(o *reverseetl.Outcome) string {
	switch {
	case o.Kind != reverseetl.Written:
		return ""
	case o.Created:
		return "create"
	case o.Deleted:
		return "delete"
	}
	return "update"
}

// RemovedOperation is the OPERATION of on_removed's records in
// RECORD_RESULTS: on_removed:delete or on_removed:set.
func RemovedOperation(action string) string { return "on_removed:" + action }

var _ reverseetl.RemovedObserver = (*Writeback)(nil)

// results writes outcomes to RECORD_RESULTS as the results setting says:
// on Snowflake into the sync's load file, on SQLite by inserts.
func (w *Writeback) results(ctx context.Context, s *config.Sync, operation string, outs []reverseetl.Outcome) error {
	if w.s.opts.Results == ResultsNone {
		return nil
	}
	keep := func(o *reverseetl.Outcome) bool {
		return w.s.opts.Results != ResultsFailed || o.Kind == reverseetl.RowFailed
	}
	at := w.s.stamp()
	if w.s.loads() {
		if w.s.readOnly {
			return ErrReadOnly
		}
		kept := make([]int, 0, len(outs))
		for i := range outs {
			if keep(&outs[i]) {
				kept = append(kept, i)
			}
		}
		if len(kept) == 0 {
			return nil
		}
		// Loaded when the sync finishes, or now when the file is full.
		var vw valuesWriter
		full, err := w.s.spoolRows(w.s.tResults, s.Name, len(kept), func(i int, p *spool) {
			w.writeResult(p, &vw, s.Name, operation, at, &outs[kept[i]])
		})
		if err == nil {
			err = w.s.loadResults(ctx, full)
		}
		if err != nil {
			return fmt.Errorf("record results: %w", err)
		}
		return nil
	}
	rows := make([]any, 0, len(outs))
	for i := range outs {
		o := &outs[i]
		if !keep(o) {
			continue
		}
		r := resultRow{RunID: w.runID, Sync: s.Name, Seq: o.Seq, Key: o.Key, Operation: resultOperation(operation, o),
			Outcome: string(o.Kind), ID: o.ID, Created: o.Created, Reason: string(o.Reason), Detail: o.Detail, KeptEdited: strings.Join(o.KeptEdits, ","),
			KeptBack: strings.Join(o.KeptBack, ","), RecordedAt: at}
		if o.Err != nil {
			r.ErrCode, r.ErrFields = o.Err.Code, strings.Join(o.Err.Fields, ",")
			r.ErrMessage = w.errMessage(o)
		}
		r.Values = string(w.values(nil, o.Record))
		r.Altered = alteredJSON(o.Altered)
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil
	}
	if err := w.s.insert(ctx, w.s.tResults, resultCols, rows); err != nil {
		return fmt.Errorf("record results: %w", err)
	}
	return nil
}

// errMessage is the outcome's error message without excluded values: the
// recorder took them out already; an embedder handing outcomes over
// directly gets the same.
func (w *Writeback) errMessage(o *reverseetl.Outcome) string {
	return w.s.exclude.Scrub(o.Err.Message, o.Record)
}

// writeResult writes one RECORD_RESULTS row (resultCols) to the load file.
func (w *Writeback) writeResult(p *spool, vw *valuesWriter, syncName, operation, at string, o *reverseetl.Outcome) {
	p.str(w.runID)
	p.str(syncName)
	p.int(o.Seq)
	p.str(o.Key)
	p.str(resultOperation(operation, o))
	p.own(string(o.Kind))
	p.str(o.ID)
	p.own(strconv.FormatBool(o.Created))
	if o.Err != nil {
		p.str(o.Err.Code)
		p.str(w.errMessage(o))
		p.str(strings.Join(o.Err.Fields, ","))
	} else {
		p.str("")
		p.str("")
		p.str("")
	}
	p.str(string(o.Reason))
	p.str(strings.Join(o.KeptBack, ","))
	p.sep()
	p.buf = vw.append(p.buf, w.s.exclude, o.Record)
	p.own(at)
	p.str(alteredJSON(o.Altered))
	p.str(o.Detail)
	p.str(strings.Join(o.KeptEdits, ","))
}

// valuesWriter writes VALUES_JSON (see values) straight into a load
// file's field: quoted, its quotes doubled. The keys, the same for every
// record of a layout, are escaped once per layout.
type valuesWriter struct {
	layout *sink.Layout
	// keys are each field's `""name"":`, "" for an excluded field.
	keys    []string
	scratch []byte
}

func (vw *valuesWriter) append(b []byte, excl reverseetl.Exclusion, r *sink.Record) []byte {
	if r == nil || r.Layout == nil || len(r.Values) == 0 {
		return b
	}
	if r.Layout != vw.layout {
		vw.layout = r.Layout
		vw.keys = vw.keys[:0]
		for _, f := range r.Layout.Fields {
			if !excl.Empty() && excl.Has(f) {
				vw.keys = append(vw.keys, "")
				continue
			}
			k := appendField(nil, append(jsonstr.Append(nil, f), ':'))
			vw.keys = append(vw.keys, string(k[1:len(k)-1]))
		}
	}
	b = append(b, '"', '{')
	n := 0
	for i, key := range vw.keys {
		if i >= len(r.Values) || r.Values[i].Kind == sink.Absent || key == "" {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, key...)
		if r.Values[i].Kind == sink.Null {
			b = append(b, "null"...)
			continue
		}
		vw.scratch = jsonstr.Append(vw.scratch[:0], r.Values[i].S)
		b = appendDoubled(b, vw.scratch)
	}
	return append(b, '}', '"')
}

// values appends the record's values as a JSON object, without the
// excluded fields, to b: text as sent, null for a cleared field, absent
// fields left out. A record without values appends nothing.
func (w *Writeback) values(b []byte, r *sink.Record) []byte {
	if r == nil || r.Layout == nil || len(r.Values) == 0 {
		return b
	}
	b = append(b, '{')
	n := 0
	excl := !w.s.exclude.Empty()
	for i, f := range r.Layout.Fields {
		if i >= len(r.Values) || r.Values[i].Kind == sink.Absent || excl && w.s.exclude.Has(f) {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = jsonstr.Append(b, f)
		b = append(b, ':')
		if r.Values[i].Kind == sink.Null {
			b = append(b, "null"...)
			continue
		}
		b = jsonstr.Append(b, r.Values[i].S)
	}
	return append(b, '}')
}

type runRow struct {
	RunID            string `json:"RUN_ID"`
	Sync             string `json:"SYNC"`
	StartedAt        string `json:"STARTED_AT"`
	EndedAt          string `json:"ENDED_AT,omitempty"`
	Status           string `json:"STATUS"`
	Read             int64  `json:"ROWS_READ"`
	Created          int64  `json:"ROWS_CREATED"`
	Updated          int64  `json:"ROWS_UPDATED"`
	Unchanged        int64  `json:"ROWS_UNCHANGED"`
	UnchangedNotRead int64  `json:"ROWS_UNCHANGED_NOT_READ"`
	Failed           int64  `json:"ROWS_FAILED"`
	Skipped          int64  `json:"ROWS_SKIPPED"`
	KeptBack         int64  `json:"FIELDS_KEPT_BACK"`
	KeptEdits        int64  `json:"FIELDS_KEPT_EDITED"`
	API              string `json:"API,omitempty"`
	BulkJobIDs       string `json:"BULK_JOB_IDS,omitempty"`
	Error            string `json:"ERROR,omitempty"`
	Warnings         string `json:"WARNINGS,omitempty"`
	Altered          int64  `json:"ROWS_ALTERED"`
}

// SyncFinished writes the sync's RUNS row with its final counts and marks
// the report when any of the sync's writeback failed.
func (w *Writeback) SyncFinished(ctx context.Context, s *config.Sync, rep *reverseetl.SyncReport) {
	l := w.log(s.Name)
	err := w.prepare(ctx)
	// The outcomes gathered for the sync, loaded within a bound that grows
	// with them; their failure leaves the run log to be written.
	var loadErr error
	for _, t := range []struct {
		table string
		load  func(context.Context, *spool) error
	}{{w.s.tResults, w.s.loadResults}, {w.s.tPrior, w.s.loadPriors}} {
		p := w.s.takeSpool(t.table, s.Name)
		switch {
		case p == nil:
		case err != nil:
			p.remove()
		default:
			lctx, cancel := context.WithTimeout(ctx, loadTimeout+time.Duration(p.rows)*loadPerRow)
			loadErr = errors.Join(loadErr, t.load(lctx, p))
			cancel()
		}
	}
	if err == nil {
		r := runRow{RunID: w.runID, Sync: s.Name, StartedAt: rep.Started.UTC().Format(timeLayout),
			EndedAt: rep.Started.Add(rep.Duration).UTC().Format(timeLayout), Status: string(rep.Status),
			Read: rep.Read, Created: rep.Created, Updated: rep.Updated, Unchanged: rep.Unchanged,
			UnchangedNotRead: rep.UnchangedNotRead, Failed: rep.Failed, Skipped: rep.Skipped, KeptBack: rep.KeptBack, KeptEdits: rep.KeptEdits,
			Error: rep.Error, Warnings: strings.Join(rep.Warnings, "\n"), Altered: rep.Altered}
		r.API, r.BulkJobIDs = statsAPI(rep.Stats)
		if err = w.s.upsert(ctx, w.s.tRuns, runCols, runKey, nil, []any{r}); err != nil {
			err = fmt.Errorf("run log: %w", err)
		}
	}
	if err == nil {
		err = w.retention(l)
	}
	err = errors.Join(loadErr, err)
	w.mu.Lock()
	failed := l.failed
	w.mu.Unlock()
	if err != nil {
		failed = true
		rep.Warnings = append(rep.Warnings, w.s.opts.Redact("warehouse writeback: "+err.Error()))
	}
	if failed {
		rep.WritebackFailed = true
	}
}

// RunFinished does nothing: each sync's row is complete when it finishes.
func (w *Writeback) RunFinished(context.Context, *reverseetl.Report) {}

func statsAPI(st *sink.Statistics) (api, jobs string) {
	if st == nil {
		return "", ""
	}
	return st.API, strings.Join(st.Jobs, ",")
}
