package state

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
)

// PRIOR_VALUES keeps, per run, sync, record and field, the value a field
// held before the run's update changed it (keep_prior_values), typed by
// PRIOR_KIND, beside the token and the text of the value written: what
// `retl undo` puts back, and how it tells that a field was changed again
// since. It is a table of its own, written only by syncs with the option,
// and added to tables an earlier release made without changing their
// layout. Rows are inserted while the sync runs, with its outcomes.

const priorValuesName = "PRIOR_VALUES"

var priorCols = []Column{
	{"RUN_ID", Text}, {"SYNC", Text}, {"SEQ", Int}, {"RECORD_KEY", Text}, {"SALESFORCE_ID", Text},
	{"FIELD_NAME", Text}, {"PRIOR_KIND", Text}, {"PRIOR_VALUE", Text}, {"WRITTEN_TOKEN", Text}, {"WRITTEN", Text},
	{"RECORDED_AT", Time},
}

type priorRow struct {
	RunID      string  `json:"RUN_ID"`
	Sync       string  `json:"SYNC"`
	Seq        int64   `json:"SEQ"`
	Key        string  `json:"RECORD_KEY,omitempty"`
	ID         string  `json:"SALESFORCE_ID"`
	Field      string  `json:"FIELD_NAME"`
	Kind       string  `json:"PRIOR_KIND"`
	Prior      *string `json:"PRIOR_VALUE"`
	Token      string  `json:"WRITTEN_TOKEN"`
	Written    string  `json:"WRITTEN,omitempty"`
	RecordedAt string  `json:"RECORDED_AT"`
}

var _ reverseetl.UndoStore = (*Store)(nil)

// priors writes the prior values of the chunk's written outcomes: on
// Snowflake into the sync's load file, loaded with its RECORD_RESULTS, on
// SQLite by inserts. The fields of exclude_fields are left out: their
// values never reach the warehouse, so they cannot be put back.
func (w *Writeback) priors(ctx context.Context, s *config.Sync, outs []reverseetl.Outcome) error {
	var rows []priorRow
	at := ""
	for i := range outs {
		o := &outs[i]
		if o.Kind != reverseetl.Written || o.ID == "" {
			continue
		}
		for _, p := range o.Prior {
			if !w.s.exclude.Empty() && w.s.exclude.Has(p.Field) {
				continue
			}
			if at == "" {
				at = w.s.stamp()
			}
			r := priorRow{RunID: w.runID, Sync: s.Name, Seq: o.Seq, Key: o.Key, ID: o.ID, Field: p.Field,
				Kind: p.Prior.Kind.String(), Token: p.Wrote, Written: p.Written, RecordedAt: at}
			if p.Prior.Kind != sink.Null {
				v := p.Prior.S
				r.Prior = &v
			}
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if w.s.loads() {
		if w.s.readOnly {
			return ErrReadOnly
		}
		full, err := w.s.spoolRows(w.s.tPrior, s.Name, len(rows), func(i int, p *spool) { rows[i].write(p) })
		if err == nil {
			err = w.s.loadPriors(ctx, full)
		}
		return err
	}
	anys := make([]any, len(rows))
	for i := range rows {
		anys[i] = rows[i]
	}
	if err := w.s.insert(ctx, w.s.tPrior, priorCols, anys); err != nil {
		return fmt.Errorf("prior values: %w", err)
	}
	return nil
}

// write adds the row to a load file, in the order of priorCols. A null
// prior value is an empty field, which loads as NULL; so does empty text,
// which PRIOR_KIND tells apart.
func (r *priorRow) write(p *spool) {
	p.str(r.RunID)
	p.str(r.Sync)
	p.int(r.Seq)
	p.str(r.Key)
	p.str(r.ID)
	p.str(r.Field)
	p.own(r.Kind)
	if r.Prior != nil {
		p.str(*r.Prior)
	} else {
		p.str("")
	}
	p.str(r.Token)
	p.str(r.Written)
	p.own(r.RecordedAt)
}

// loadPriors loads a full spool of PRIOR_VALUES rows.
func (s *Store) loadPriors(ctx context.Context, p *spool) error {
	if p == nil {
		return nil
	}
	if err := s.load(ctx, p, s.tPrior); err != nil {
		return fmt.Errorf("prior values: %w", err)
	}
	return nil
}

// RunSyncs implements reverseetl.UndoStore from RUNS.
func (s *Store) RunSyncs(ctx context.Context, runID string) ([]string, error) {
	if err := s.ensure(ctx); err != nil {
		return nil, err
	}
	if s.absent {
		return nil, nil
	}
	rows, err := s.query(ctx, "SELECT SYNC FROM "+s.tRuns+" WHERE RUN_ID = "+s.d.Placeholder(1)+" ORDER BY STARTED_AT, SYNC", runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// PriorValues implements reverseetl.UndoStore.
func (s *Store) PriorValues(ctx context.Context, runID, syncName string) ([]reverseetl.PriorRecord, error) {
	if err := s.ensure(ctx); err != nil {
		return nil, err
	}
	if s.absent || s.priorsAbsent {
		return nil, nil
	}
	rows, err := s.query(ctx, "SELECT SEQ, RECORD_KEY, SALESFORCE_ID, FIELD_NAME, PRIOR_KIND, PRIOR_VALUE, WRITTEN_TOKEN, WRITTEN FROM "+s.tPrior+
		" WHERE RUN_ID = "+s.d.Placeholder(1)+" AND SYNC = "+s.d.Placeholder(2)+" ORDER BY SEQ, FIELD_NAME", runID, syncName)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []reverseetl.PriorRecord
	for rows.Next() {
		var seq int64
		var key, id, field, kind, prior, token, written sql.NullString
		if err := rows.Scan(&seq, &key, &id, &field, &kind, &prior, &token, &written); err != nil {
			return nil, err
		}
		k, ok := kindOf(kind.String)
		if !ok {
			return nil, fmt.Errorf("%s: run %s, sync %s, row %d: unknown PRIOR_KIND %q", s.tPrior, runID, syncName, seq, kind.String)
		}
		pv := sink.PriorValue{Field: field.String, Prior: sink.Value{Kind: k, S: prior.String}, Wrote: token.String, Written: written.String}
		if n := len(out); n > 0 && out[n-1].Seq == seq {
			out[n-1].Fields = append(out[n-1].Fields, pv)
			continue
		}
		out = append(out, reverseetl.PriorRecord{Seq: seq, Key: key.String, ID: id.String, Fields: []sink.PriorValue{pv}})
	}
	return out, rows.Err()
}

// kindOf is the sink.Kind a PRIOR_KIND names.
func kindOf(name string) (sink.Kind, bool) {
	for k := sink.Null; k <= sink.DateTime; k++ {
		if k.String() == name {
			return k, true
		}
	}
	return 0, false
}

// CreatedRecords implements reverseetl.UndoStore from RECORD_RESULTS: the
// rows the run wrote by creating a record. With writeback results other
// than all, RECORD_RESULTS does not hold them.
func (s *Store) CreatedRecords(ctx context.Context, runID, syncName string) ([]reverseetl.CreatedRecord, error) {
	if err := s.ensure(ctx); err != nil {
		return nil, err
	}
	if s.absent {
		return nil, nil
	}
	rows, err := s.query(ctx, "SELECT SEQ, RECORD_KEY, SALESFORCE_ID FROM "+s.tResults+" WHERE RUN_ID = "+s.d.Placeholder(1)+
		" AND SYNC = "+s.d.Placeholder(2)+" AND OPERATION = 'create' AND OUTCOME = '"+string(reverseetl.Written)+"' ORDER BY SEQ", runID, syncName)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []reverseetl.CreatedRecord
	for rows.Next() {
		var seq int64
		var key, id sql.NullString
		if err := rows.Scan(&seq, &key, &id); err != nil {
			return nil, err
		}
		if id.String != "" {
			out = append(out, reverseetl.CreatedRecord{Seq: seq, Key: key.String, ID: id.String})
		}
	}
	return out, rows.Err()
}
