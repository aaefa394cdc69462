package reverseetl

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
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

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > 100 {
		s = string(r[:97]) + "..."
	}
	return s
}

func statsAPI(st map[string]any) (api, jobs string) {
	api = "-"
	if v, ok := st["api"].(string); ok && v != "" {
		api = v
	}
	jobs = "-"
	switch j := st["bulk_jobs"].(type) {
	case []string:
		if len(j) > 0 {
			jobs = strings.Join(j, ",")
		}
	case []any:
		var s []string
		for _, x := range j {
			s = append(s, fmt.Sprint(x))
		}
		if len(s) > 0 {
			jobs = strings.Join(s, ",")
		}
	}
	return api, jobs
}

// WriteJSONFile writes the report as indented JSON with mode 0600.
func WriteJSONFile(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	// WriteFile keeps the mode of an existing file; reports may hold data.
	return os.Chmod(path, 0o600)
}

// FailedRowsCSV is an Observer that writes each sync's failed rows to
// DIR/<run id>/<sync>.failed.csv (mode 0600) as they happen: the row's key,
// the destination's error code, message and fields, and the values sent.
type FailedRowsCSV struct {
	NopObserver
	Dir   string
	RunID string
	// ExcludeFields are destination fields whose values the file leaves
	// out (their cells are empty), as writeback.exclude_fields asks.
	ExcludeFields []string

	mu    sync.Mutex
	files map[string]*failedFile
	paths map[string]string
}

type failedFile struct {
	f      *os.File
	w      *csv.Writer
	layout *sink.Layout
}

// Paths returns the files written, by sync.
func (c *FailedRowsCSV) Paths() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.paths))
	for k, v := range c.paths {
		out[k] = v
	}
	return out
}

// Outcomes appends the failed outcomes to the sync's file.
func (c *FailedRowsCSV) Outcomes(_ context.Context, s *config.Sync, outs []Outcome) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ex := NewExclusion(c.ExcludeFields...)
	for _, o := range outs {
		if o.Kind != RowFailed {
			continue
		}
		ff, err := c.open(s.Name, o.Record)
		if err != nil {
			return err
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
			return fmt.Errorf("failed rows file: %w", err)
		}
	}
	for _, ff := range c.files {
		ff.w.Flush()
		if err := ff.w.Error(); err != nil {
			return fmt.Errorf("failed rows file: %w", err)
		}
	}
	return nil
}

func (c *FailedRowsCSV) open(syncName string, r *sink.Record) (*failedFile, error) {
	if ff, ok := c.files[syncName]; ok {
		return ff, nil
	}
	dir := filepath.Join(c.Dir, c.RunID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("failed rows file: %w", err)
	}
	path := filepath.Join(dir, syncName+".failed.csv")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("failed rows file: %w", err)
	}
	ff := &failedFile{f: f, w: csv.NewWriter(f)}
	header := []string{"row", "key", "error_code", "error_message", "error_fields"}
	if r != nil {
		ff.layout = r.Layout
		header = append(header, r.Layout.Fields...)
	}
	if err := ff.w.Write(neutralise(header)); err != nil {
		f.Close()
		return nil, fmt.Errorf("failed rows file: %w", err)
	}
	if c.files == nil {
		c.files = map[string]*failedFile{}
		c.paths = map[string]string{}
	}
	c.files[syncName] = ff
	c.paths[syncName] = path
	return ff, nil
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

// SyncFinished closes the sync's file.
func (c *FailedRowsCSV) SyncFinished(_ context.Context, s *config.Sync, rep *SyncReport) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ff, ok := c.files[s.Name]; ok {
		ff.w.Flush()
		if err := ff.f.Close(); err != nil {
			rep.Warnings = append(rep.Warnings, "failed rows file: "+err.Error())
		}
		delete(c.files, s.Name)
	}
}
