package review

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
)

// Text prints the report as the retl command does. For a plan: per sync
// the records a run would create, update, leave unchanged and fail, the
// set_if_empty fields it would keep back, the deletes and on_removed
// actions, and a sample of the field changes and failures. For a run:
// reverseetl.WriteSummary's table and failed rows.
func Text(w io.Writer, rep *reverseetl.Report, opts Options) error {
	if !opts.Plan {
		return reverseetl.WriteSummary(w, rep, failedRowsShown)
	}
	return writePlan(w, rep, opts.Changes)
}

func writePlan(out io.Writer, rep *reverseetl.Report, changes int) error {
	w := &stickyWriter{w: out}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SYNC\tREAD\tWOULD CREATE\tWOULD UPDATE\tUNCHANGED\tKEPT BACK\tWOULD FAIL\tSKIPPED\tSTATUS")
	for _, s := range rep.Syncs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", s.Name, s.Read, s.Created, s.Updated-s.Deleted,
			s.Unchanged, s.KeptBack, s.Failed, other(s), planStatus(s))
	}
	_ = tw.Flush() // errors are kept by w
	for _, s := range rep.Syncs {
		if s.Error != "" {
			fmt.Fprintf(w, "\n%s: %s\n", s.Name, s.Error)
		}
		writeDeletes(w, s)
		if s.KeptEdits > 0 {
			fmt.Fprintln(w)
			reverseetl.WriteKeptEdits(w, s, 20)
		}
		if len(s.Changes) > 0 && changes > 0 {
			n := min(changes, len(s.Changes))
			fmt.Fprintf(w, "\n%s: sample changes (%d of %d records):\n", s.Name, n, s.Created+s.Updated)
			for _, c := range s.Changes[:n] {
				fmt.Fprintln(w, "  "+describeChange(c))
			}
		}
		if len(s.FailedRows) > 0 {
			fmt.Fprintf(w, "\n%s: would fail (%d):\n", s.Name, s.Failed)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  KEY\tCODE\tMESSAGE\tFIELDS")
			for i, o := range s.FailedRows {
				if i == failedRowsShown {
					fmt.Fprintf(tw, "  … %d more\t\t\t\n", s.Failed-failedRowsShown)
					break
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", o.Key, code(o), clip(message(o), 100), strings.Join(fields(o), ","))
			}
			_ = tw.Flush()
		}
	}
	fmt.Fprintln(w, "\nNothing was written. A run also sends records whose values Salesforce already holds, unless change detection\nhas seen them accepted before; Salesforce counts those as updated.")
	return w.err
}

// writeDeletes prints the records a plan would delete, those on_removed
// would act on, and max_deletes' verdict when the error does not give it.
func writeDeletes(w io.Writer, s *reverseetl.SyncReport) {
	// The page's notes of a plan are these lines.
	lines := notes(s, true)
	for i, l := range lines {
		if i == 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s: %s\n", s.Name, l)
	}
}

// maxDeletesVerdict is max_deletes' verdict from the sink's stats, unless
// the sync's error, which says it already, comes from that guard.
func maxDeletesVerdict(s *reverseetl.SyncReport) (string, bool) {
	var guard *sink.DeleteLimitError
	if s.Stats == nil || s.Stats.Notes["max_deletes"] == "" || errors.As(s.Cause(), &guard) {
		return "", false
	}
	return s.Stats.Notes["max_deletes"], true
}

// stickyWriter keeps the first write error and writes nothing after it,
// so a long printout checks for errors once.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.err = err
	return n, err
}

// planStatus says how the sync would end: a plan that stopped on an error
// failed; one whose predicted failures exceed on_failure would fail.
func planStatus(s *reverseetl.SyncReport) string {
	var limit *reverseetl.FailureLimitError
	if s.Status == reverseetl.Failed && errors.As(s.Cause(), &limit) {
		return "would fail"
	}
	return string(s.Status)
}

// describeChange prints one record's planned change on one line:
// "update A-004: NumberOfEmployees 450 → 900, Tier__c SMB → Mid-Market".
func describeChange(c reverseetl.PlannedChange) string {
	var parts []string
	for _, f := range c.Fields {
		if c.Create {
			parts = append(parts, f.Field+"="+clip(f.To, 40))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s → %s", f.Field, shown(f.From), shown(f.To)))
	}
	verb := "update"
	if c.Create {
		verb = "create"
	}
	return clip(fmt.Sprintf("%s %s: %s", verb, c.Key, strings.Join(parts, ", ")), 160)
}

func shown(v string) string {
	if v == "" {
		return "(empty)"
	}
	return clip(v, 40)
}

// clip puts s on one line and cuts it to n characters.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// code, message and fields read a failed row's error; a row without one
// (a report built by hand) has none rather than a panic.
func code(o reverseetl.Outcome) string {
	if o.Err == nil {
		return ""
	}
	return o.Err.Code
}

func message(o reverseetl.Outcome) string {
	if o.Err == nil {
		return ""
	}
	return o.Err.Message
}

func fields(o reverseetl.Outcome) []string {
	if o.Err == nil {
		return nil
	}
	return o.Err.Fields
}
