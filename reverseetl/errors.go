package reverseetl

import (
	"fmt"

	"github.com/retl-go/retl/config"
)

// The causes a SyncReport keeps (SyncReport.Err), besides *BuildError,
// *LeaseHeldError (a sync another run holds), sink.DeleteLimitError (a
// sink's delete guard) and context.Canceled (a cancelled run); a program
// tells them apart with errors.As and errors.Is.

// FailureLimitError says a sync's failed rows exceed its on_failure
// limits: the sync failed although each row has its outcome.
type FailureLimitError struct {
	Failed, Read int64
	// Key is the limit exceeded: "max_failed_rows", "max_failed_percent",
	// or "" when on_failure allows no failed row.
	Key string
	// Limit is the value of Key.
	Limit float64
}

func (e *FailureLimitError) Error() string {
	switch e.Key {
	case "max_failed_rows":
		return fmt.Sprintf("%d rows failed, more than on_failure.max_failed_rows (%d)", e.Failed, int64(e.Limit))
	case "max_failed_percent":
		pct := float64(e.Failed) * 100 / float64(e.Read)
		return fmt.Sprintf("%.2f%% of rows failed, more than on_failure.max_failed_percent (%g%%)", pct, e.Limit)
	}
	return fmt.Sprintf("%d rows failed (on_failure allows none)", e.Failed)
}

// overLimit says why failed rows fail the sync, or nil.
func overLimit(s *config.Sync, rep *SyncReport) error {
	if rep.Failed == 0 {
		return nil
	}
	of := s.OnFailure
	if of.MaxFailedRows == nil && of.MaxFailedPercent == nil {
		return &FailureLimitError{Failed: rep.Failed, Read: rep.Read}
	}
	if of.MaxFailedRows != nil && rep.Failed > int64(*of.MaxFailedRows) {
		return &FailureLimitError{Failed: rep.Failed, Read: rep.Read, Key: "max_failed_rows", Limit: float64(*of.MaxFailedRows)}
	}
	if of.MaxFailedPercent != nil && rep.Read > 0 {
		if pct := float64(rep.Failed) * 100 / float64(rep.Read); pct > *of.MaxFailedPercent {
			return &FailureLimitError{Failed: rep.Failed, Read: rep.Read, Key: "max_failed_percent", Limit: *of.MaxFailedPercent}
		}
	}
	return nil
}

// ParentError says a sync was skipped because a sync it depends on did not
// succeed.
type ParentError struct {
	Parent string
	Status Status
}

func (e *ParentError) Error() string { return fmt.Sprintf("parent sync %q %s", e.Parent, e.Status) }

// causeError is a report's own words for an error whose cause is typed
// (context.Canceled, a *LeaseHeldError).
type causeError struct {
	msg   string
	cause error
}

func (e *causeError) Error() string { return e.msg }
func (e *causeError) Unwrap() error { return e.cause }

// setErr makes err the sync's cause, its text redacted.
func (r *SyncReport) setErr(p *config.Project, err error) {
	r.Err = redactedErr(p, err)
	r.Error = r.Err.Error()
}
