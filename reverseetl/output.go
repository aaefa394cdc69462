package reverseetl

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/sink"
)

// WriteSummary prints a table of the run's syncs and, for each sync with
// failed rows, up to maxRows of them.
func WriteSummary(w io.Writer, rep *Report, maxRows int) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SYNC\tSTATUS\tREAD\tCREATED\tUPDATED\tUNCHANGED\tFAILED\tSKIPPED\tKEPT BACK\tDURATION\tAPI\tJOBS")
	for _, s := range rep.Syncs {
		api, jobs := statsAPI(s.Stats)
		// Unchanged rows that were read are skips too; show them once.
		other := s.Skipped - (s.Unchanged - s.UnchangedNotRead)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", s.Name, s.Status, s.Read, s.Created,
			s.Updated, s.Unchanged, s.Failed, other, s.KeptBack, s.Duration.Round(time.Millisecond), api, jobs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range rep.Syncs {
		if s.Error != "" {
			fmt.Fprintf(w, "\n%s: %s\n", s.Name, s.Error)
		}
		for _, warn := range s.Warnings {
			fmt.Fprintf(w, "%s: warning: %s\n", s.Name, warn)
		}
		WriteKeptEdits(w, s, maxRows)
		if r := s.Removed; r != nil && r.Found > 0 {
			done := "deleted"
			if r.Action == "set" {
				done = "updated"
			}
			fmt.Fprintf(w, "%s: on_removed: %d records no longer in the query: %s %d, failed %d, skipped %d\n", s.Name, r.Found, done, r.Done, r.Failed, r.Skipped)
		}
		if len(s.SkipReasons) > 0 {
			reasons := make([]string, 0, len(s.SkipReasons))
			for r, n := range s.SkipReasons {
				reasons = append(reasons, fmt.Sprintf("%s (%d)", r, n))
			}
			sort.Strings(reasons)
			fmt.Fprintf(w, "%s: skipped: %s\n", s.Name, strings.Join(reasons, ", "))
		}
		if err := writeAltered(w, s, maxRows); err != nil {
			return err
		}
		if len(s.FailedRows) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s: failed rows (%d):\n", s.Name, s.Failed)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  KEY\tCODE\tMESSAGE\tFIELDS")
		for i, o := range s.FailedRows {
			if i == maxRows {
				fmt.Fprintf(tw, "  … %d more\t\t\t\n", s.Failed-int64(maxRows))
				break
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", o.Key, o.Err.Code, oneLine(o.Err.Message), strings.Join(o.Err.Fields, ","))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// writeAltered lists, for a sync whose written records Salesforce holds
// differently from what was sent (verify), up to maxRows of their fields.
func writeAltered(w io.Writer, s *SyncReport, maxRows int) error {
	if s.Altered == 0 {
		return nil
	}
	fmt.Fprintf(w, "\n%s: altered rows (%d): written, but the destination stored other values:\n", s.Name, s.Altered)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  KEY\tFIELD\tSENT\tSTORED")
	n := 0
	for _, rows := range [][]Outcome{s.AlteredRows, s.FailedRows} {
		for _, o := range rows {
			for _, a := range o.Altered {
				if n == maxRows {
					fmt.Fprintf(tw, "  …\t\t\t\n")
					return tw.Flush()
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", o.Key, a.Field, oneLine(a.From), oneLine(a.To))
				n++
			}
		}
	}
	return tw.Flush()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > 100 {
		s = string(r[:97]) + "..."
	}
	return s
}

func statsAPI(st *sink.Statistics) (api, jobs string) {
	api, jobs = "-", "-"
	if st == nil {
		return api, jobs
	}
	if st.API != "" {
		api = st.API
	}
	if len(st.Jobs) > 0 {
		jobs = strings.Join(st.Jobs, ",")
	}
	return api, jobs
}

// WriteJSONFile writes the report as indented JSON to a new file (mode
// 0600) renamed over path, so that an existing report is replaced whole or
// not at all: a failed write (a full disk) leaves the previous file as it
// was. Check the path with CheckReportPath before the run writes anything.
func WriteJSONFile(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := checkReplaceable(path); err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	err = writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
	if err != nil {
		return fmt.Errorf("report %s: %w (the previous file, if any, is unchanged)", path, err)
	}
	return nil
}

// FailedRowsCSV is an Observer that writes each sync's failed rows to
// DIR/<run id>/<sync>.failed.csv (mode 0600, directory 0700) as they
// happen: the row's key, the destination's error code, message and
// fields, and the values sent. Each file is written as a new temporary
// file and renamed into place when its sync finishes; one that could not
// be written whole is removed, not left short, and Failures names it.
type FailedRowsCSV struct {
	NopObserver
	Dir   string
	RunID string
	// ExcludeFields are destination fields whose values the file leaves
	// out (their cells are empty), as writeback.exclude_fields asks.
	ExcludeFields []string

	mu       sync.Mutex
	files    map[string]*failedFile
	paths    map[string]string
	failures map[string]error
	made     bool // Check made the run's directory
}

type failedFile struct {
	f      tempFile
	w      *csv.Writer
	layout *sink.Layout
	path   string
}

// Check makes the run's directory and checks that it takes new files,
// before the run writes anything anywhere. A directory it made that is
// still empty at the end of the run is removed.
func (c *FailedRowsCSV) Check() error {
	dir := filepath.Join(c.Dir, c.RunID)
	if _, err := os.Lstat(dir); err != nil {
		c.mu.Lock()
		c.made = true
		c.mu.Unlock()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("failed rows files: %w", err)
	}
	if err := probeDir(dir); err != nil {
		return fmt.Errorf("failed rows files: %w", err)
	}
	return nil
}

// Paths returns the files written, by sync.
func (c *FailedRowsCSV) Paths() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.paths)
}

// Failures returns, by sync, why its file could not be written.
func (c *FailedRowsCSV) Failures() map[string]error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.failures)
}

// Outcomes appends the failed outcomes to the sync's file.
func (c *FailedRowsCSV) Outcomes(_ context.Context, s *config.Sync, outs []Outcome) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.failures[s.Name]; err != nil {
		return err
	}
	ex := NewExclusion(c.ExcludeFields...)
	var ff *failedFile
	for _, o := range outs {
		if o.Kind != RowFailed {
			continue
		}
		var err error
		if ff, err = c.open(s.Name, o.Record); err != nil {
			return c.fail(s.Name, ff, err)
		}
		row := []string{strconv.FormatInt(o.Seq, 10), o.Key, o.Err.Code, ex.Scrub(o.Err.Message, o.Record), strings.Join(o.Err.Fields, ";")}
		if ff.layout != nil {
			for i, f := range ff.layout.Fields {
				cell := ""
				if ex.Has(f) {
					row = append(row, cell)
					continue
				}
				if o.Record != nil && o.Record.Layout == ff.layout && i < len(o.Record.Values) {
					v := o.Record.Values[i]
					switch v.Kind {
					case sink.Null:
						cell = "#N/A"
					case sink.Absent:
					default:
						cell = v.S
					}
				}
				row = append(row, cell)
			}
		}
		if err := ff.w.Write(neutralise(row)); err != nil {
			return c.fail(s.Name, ff, err)
		}
	}
	if ff != nil {
		ff.w.Flush()
		if err := ff.w.Error(); err != nil {
			return c.fail(s.Name, ff, err)
		}
	}
	return nil
}

// fail gives up the sync's file: a file missing rows would pass for the
// whole list.
func (c *FailedRowsCSV) fail(syncName string, ff *failedFile, err error) error {
	err = fmt.Errorf("failed rows file: %w", err)
	if c.failures == nil {
		c.failures = map[string]error{}
	}
	c.failures[syncName] = err
	if ff != nil {
		_ = ff.f.Close()
		_ = os.Remove(ff.f.Name())
		delete(c.files, syncName)
	}
	return err
}

func (c *FailedRowsCSV) open(syncName string, r *sink.Record) (*failedFile, error) {
	if ff, ok := c.files[syncName]; ok {
		return ff, nil
	}
	dir := filepath.Join(c.Dir, c.RunID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, syncName+".failed.csv")
	f, err := createTemp(dir, "."+syncName+".failed.csv.tmp-*")
	if err != nil {
		return nil, err
	}
	ff := &failedFile{f: f, w: csv.NewWriter(f), path: path}
	header := []string{"row", "key", "error_code", "error_message", "error_fields"}
	if r != nil {
		ff.layout = r.Layout
		header = append(header, r.Layout.Fields...)
	}
	if c.files == nil {
		c.files = map[string]*failedFile{}
		c.paths = map[string]string{}
	}
	c.files[syncName] = ff
	if err := ff.w.Write(neutralise(header)); err != nil {
		return ff, err
	}
	return ff, nil
}

// SyncFinished puts the sync's file in place, or reports on the sync that
// it could not.
func (c *FailedRowsCSV) SyncFinished(_ context.Context, s *config.Sync, rep *SyncReport) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ff, ok := c.files[s.Name]; ok {
		delete(c.files, s.Name)
		err := func() error {
			ff.w.Flush()
			if err := ff.w.Error(); err != nil {
				return err
			}
			if err := ff.f.Sync(); err != nil {
				return err
			}
			if err := ff.f.Close(); err != nil {
				return err
			}
			return os.Rename(ff.f.Name(), ff.path)
		}()
		if err != nil {
			// Errors while rows were added reached the report through
			// Outcomes; this one has nowhere else to go.
			rep.Warnings = append(rep.Warnings, c.fail(s.Name, ff, err).Error())
		} else {
			c.paths[s.Name] = ff.path
		}
	}
}

// RunFinished removes the run's directory when Check made it and no file
// went into it.
func (c *FailedRowsCSV) RunFinished(context.Context, *Report) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.made && len(c.paths) == 0 {
		_ = os.Remove(filepath.Join(c.Dir, c.RunID)) // fails, harmlessly, when not empty
	}
}

// neutralise keeps spreadsheets from reading cells as formulas, as OWASP's
// CSV injection guidance asks: a cell that starts with =, +, -, @, a tab or
// a carriage return gets a leading single quote, which spreadsheets take
// as "text" and do not show. Values come from the warehouse and from
// Salesforce's messages, neither of which the reader of the file controls.
func neutralise(row []string) []string {
	for i, c := range row {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			row[i] = "'" + c
		}
	}
	return row
}

// WriteKeptEdits prints how many fields keep_human_edits kept back and,
// for up to maxRows rows, which.
func WriteKeptEdits(w io.Writer, s *SyncReport, maxRows int) {
	if s.KeptEdits == 0 {
		return
	}
	fmt.Fprintf(w, "%s: %d fields kept, %s:\n", s.Name, s.KeptEdits, ReasonKeptEdit)
	for i, o := range s.KeptEditRows {
		if i == maxRows {
			fmt.Fprintf(w, "  … more\n")
			break
		}
		fmt.Fprintf(w, "  %s: %s\n", o.Key, strings.Join(o.KeptEdits, ", "))
	}
}
