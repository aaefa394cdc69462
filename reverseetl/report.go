package reverseetl

import (
	"errors"
	"time"

	"github.com/retl-go/retl/sink"
)

// Status is how a sync (or a run) ended.
type Status string

const (
	// Succeeded: every row has an outcome and failed rows are within the
	// sync's on_failure limits.
	Succeeded Status = "succeeded"
	// Failed: the sync stopped on an error, or its failed rows exceed its limits.
	Failed Status = "failed"
	// Cancelled: the run was cancelled before the sync finished.
	Cancelled Status = "cancelled"
	// SkippedSync: the sync did not run (a sync it depends on failed).
	SkippedSync Status = "skipped"
)

// OutcomeKind is what happened to one input row.
type OutcomeKind string

const (
	Written OutcomeKind = "written"
	// RowFailed: the destination rejected the row, or it could not be transformed.
	RowFailed OutcomeKind = "failed"
	// RowSkipped: the row was deliberately not written; Reason says why.
	RowSkipped OutcomeKind = "skipped"
)

// Codes retl uses for failures that do not come from the destination.
const (
	CodeTransform = "RETL_TRANSFORM_ERROR"
	// CodeSourceValue: the source could not read a value the sync uses
	// (source.ValueError), such as text that is not a date in a DATE
	// column; only that row fails.
	CodeSourceValue = "RETL_SOURCE_VALUE"
	CodeWrite       = "RETL_WRITE_ERROR"
	CodeCancelled   = "RETL_CANCELLED"
	CodeSinkResult  = "RETL_SINK_CONTRACT"
)

// Outcome is the single outcome of one input row.
type Outcome struct {
	Sync    string      `json:"sync"`
	Seq     int64       `json:"seq"`
	Key     string      `json:"key,omitempty"`
	Kind    OutcomeKind `json:"outcome"`
	ID      string      `json:"id,omitempty"`
	Created bool        `json:"created,omitempty"`
	// Deleted: the write deleted the record.
	Deleted bool `json:"deleted,omitempty"`
	// Err is set for failed rows: the destination's code, message and fields.
	Err *sink.RecordError `json:"error,omitempty"`
	// Reason is set for skipped rows: a fixed code, with Detail in words.
	Reason   sink.SkipCode `json:"reason,omitempty"`
	Detail   string        `json:"detail,omitempty"`
	KeptBack []string      `json:"kept_back,omitempty"`
	// Altered lists the fields of a written row that the destination,
	// read back after the write (verify), holds differently from what was
	// sent: From the value sent, To the value stored.
	Altered []sink.FieldChange `json:"altered,omitempty"`
	// KeptEdits lists the fields not sent because they were edited in
	// Salesforce since retl wrote them (keep_human_edits, ReasonKeptEdit).
	KeptEdits []string `json:"kept_edits,omitempty"`
	// Prior lists, for a record an update changed, what each changed field
	// held before (keep_prior_values): for the warehouse, so that the run
	// can be undone (Runner.Undo), not for reports.
	Prior []sink.PriorValue `json:"-"`
	// Record is what was (or would have been) sent; nil when the row failed
	// before it became a record.
	Record *sink.Record `json:"-"`
}

// SyncReport is the summary of one sync.
type SyncReport struct {
	Name   string `json:"name"`
	File   string `json:"file,omitempty"`
	Status Status `json:"status"`
	// Error is why the sync failed or was skipped, with secrets redacted.
	Error string `json:"error,omitempty"`
	// Err is Error as an error that unwraps to its typed cause (see
	// FailureLimitError); its text is Error. A report read back from JSON
	// has none: use Cause.
	Err      error         `json:"-"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`

	Read    int64 `json:"read"`
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
	Failed  int64 `json:"failed"`
	Skipped int64 `json:"skipped"`
	// Unchanged counts the rows not sent because the destination already
	// holds their values: the skipped rows with reason "unchanged", plus
	// UnchangedNotRead.
	Unchanged int64 `json:"unchanged"`
	// UnchangedNotRead counts the unchanged rows the warehouse itself found
	// unchanged and never sent (change detection in the warehouse). They
	// are part of Unchanged, and not of Read or Skipped.
	UnchangedNotRead int64 `json:"unchanged_not_read,omitempty"`
	// Changes is a sample of the field-level changes of a plan.
	Changes []PlannedChange `json:"changes,omitempty"`
	// KeptBack counts fields not sent because set_if_empty found them populated.
	KeptBack int64 `json:"kept_back"`
	// SkipReasons counts skipped rows by code.
	SkipReasons map[sink.SkipCode]int64 `json:"skip_reasons,omitempty"`
	// Altered counts the rows whose destination record, read back after
	// the write (verify), holds a value other than the one sent; with
	// on_altered: fail they are failed rows too.
	Altered int64 `json:"altered,omitempty"`
	// AlteredRows holds the first MaxAlteredRowsInReport written rows
	// that are altered; altered rows that failed are in FailedRows.
	AlteredRows []Outcome `json:"altered_rows,omitempty"`
	// KeptBackFields counts KeptBack by destination field.
	KeptBackFields map[string]int64 `json:"kept_back_fields,omitempty"`
	// KeptEdits counts fields not sent because keep_human_edits found them
	// edited in Salesforce since retl wrote them.
	KeptEdits int64 `json:"kept_edits,omitempty"`
	// KeptEditRows holds the first MaxFailedRowsInReport rows with kept
	// edits; every such row goes to the Engine's observers.
	KeptEditRows []Outcome `json:"kept_edit_rows,omitempty"`
	// FailedRows holds the first MaxFailedRowsInReport failed rows; every
	// failed row goes to the Engine's observers.
	FailedRows []Outcome `json:"failed_rows,omitempty"`
	// Warnings are problems that did not change any row's outcome, such as
	// an observer (report file, warehouse writeback) that failed.
	Warnings []string `json:"warnings,omitempty"`
	// WritebackFailed says the warehouse writeback (run log, record
	// results or change-detection state) could not be read or written.
	// Every outcome is still in this report; rows whose state was not
	// saved are sent again by the next run.
	WritebackFailed bool `json:"writeback_failed,omitempty"`
	// Stats is what the sink reported about itself (API used, Bulk job ids).
	Stats *sink.Statistics `json:"stats,omitempty"`
	// Deleted counts the rows a delete or hard_delete sync deleted; they
	// are part of Updated.
	Deleted int64 `json:"deleted,omitempty"`
	// Removed is what on_removed did, nil when the sync has none or did
	// not get that far.
	Removed *RemovedReport `json:"removed,omitempty"`
}

// Cause returns why the sync failed or was skipped as an error, for
// errors.Is and errors.As: Err, or for a report read back from JSON an
// error of Error's text alone; nil when the sync has no error.
func (s *SyncReport) Cause() error {
	if s.Err != nil {
		return s.Err
	}
	if s.Error != "" {
		return errors.New(s.Error)
	}
	return nil
}

// Written returns the rows written (created plus updated).
func (s *SyncReport) Written() int64 { return s.Created + s.Updated }

// Accounted reports whether every row read has exactly one outcome.
func (s *SyncReport) Accounted() bool {
	return s.Read == s.Created+s.Updated+s.Failed+s.Skipped
}

// Report is the result of a run.
type Report struct {
	RunID    string        `json:"run_id"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Syncs    []*SyncReport `json:"syncs"`
	// Undoes names the run an undo put back (Runner.Undo); empty for
	// other runs.
	Undoes string `json:"undoes,omitempty"`
}

// Sync returns the report of the named sync, or nil.
func (r *Report) Sync(name string) *SyncReport {
	for _, s := range r.Syncs {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// OK reports whether every sync succeeded.
func (r *Report) OK() bool {
	for _, s := range r.Syncs {
		if s.Status != Succeeded {
			return false
		}
	}
	return true
}

// WritebackFailed reports whether any sync's warehouse writeback failed.
func (r *Report) WritebackFailed() bool {
	for _, s := range r.Syncs {
		if s.WritebackFailed {
			return true
		}
	}
	return false
}

// PlannedChange is one record's field changes in a plan.
//
// Fields' values are redacted, and those of writeback.exclude_fields
// replaced by Excluded, as messages are.
type PlannedChange struct {
	Key string `json:"key"`
	// ID is the Salesforce Id of the record an update would change; a
	// creation has none.
	ID     string             `json:"id,omitempty"`
	Create bool               `json:"create"`
	Fields []sink.FieldChange `json:"fields"`
}

// MaxChangesInReport bounds the sample of planned changes per sync.
const MaxChangesInReport = 20

// MaxAlteredRowsInReport bounds the written altered rows a SyncReport
// keeps in memory.
const MaxAlteredRowsInReport = 1000

// MaxFailedRowsInReport bounds the failed rows a SyncReport keeps in memory.
const MaxFailedRowsInReport = 1000
