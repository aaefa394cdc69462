package sealed

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
)

// Sealer keeps what a plan's sinks planned, to write it as a File: give
// it to the plan's Engine (reverseetl.WithInterceptor), run the plan, then
// call File. It refuses, by failing the sync, what cannot be sealed (see
// the package documentation).
type Sealer struct {
	project *config.Project
	exclude reverseetl.Exclusion

	mu    sync.Mutex
	syncs map[string]*Sync
	err   error
}

var _ reverseetl.Interceptor = (*Sealer)(nil)

// NewSealer returns a Sealer for a plan of p.
func NewSealer(p *config.Project) *Sealer {
	var ex []string
	if p.Writeback != nil {
		ex = p.Writeback.ExcludeFields
	}
	return &Sealer{project: p, exclude: reverseetl.NewExclusion(ex...), syncs: map[string]*Sync{}}
}

// Parts implements reverseetl.Interceptor: it refuses a sync that cannot
// be sealed and leaves the parts as they are.
func (z *Sealer) Parts(ctx context.Context, s *config.Sync, parts reverseetl.Parts) (reverseetl.Parts, error) {
	layout := parts.Transformer.Layout()
	for _, f := range layout.Fields {
		if z.exclude.Has(f) {
			return parts, &NotSealableError{Sync: s.Name, Why: fmt.Sprintf("it writes %s, which writeback.exclude_fields keeps out of every file", f)}
		}
	}
	var desc sink.Description
	if d, ok := parts.Sink.(sink.Describer); ok {
		desc = d.Describe()
	}
	if s.OnRemoved != nil {
		return parts, &NotSealableError{Sync: s.Name, Why: "on_removed is set: a plan file holds creates and updates, and apply removes nothing"}
	}
	h, err := HashFile(s.File)
	if err != nil {
		return parts, fmt.Errorf("sync file: %w", err)
	}
	z.mu.Lock()
	z.syncs[s.Name] = &Sync{Name: s.Name, Hashed: h, KeyField: desc.KeyField}
	z.mu.Unlock()
	return parts, nil
}

// Write implements reverseetl.Interceptor: in a plan it keeps every record
// the sink would create or change.
func (z *Sealer) Write(s *config.Sync, k sink.Sink, plan bool, write reverseetl.WriteFunc) reverseetl.WriteFunc {
	if !plan {
		return write
	}
	return func(ctx context.Context, recs []sink.Record) ([]sink.Result, error) {
		res, err := write(ctx, recs)
		if err != nil || len(res) != len(recs) {
			return res, err
		}
		for i := range res {
			if res[i].Deleted {
				return nil, &NotSealableError{Sync: s.Name, Why: "it deletes records; a plan file holds creates and updates"}
			}
		}
		z.mu.Lock()
		defer z.mu.Unlock()
		ps := z.syncs[s.Name]
		for i := range recs {
			r := &res[i]
			if r.Err != nil || r.Skipped != "" || (!r.Created && len(r.Changes) == 0) {
				continue
			}
			pr, err := z.record(ps, &recs[i], r)
			if err != nil {
				if z.err == nil {
					z.err = err
				}
				continue
			}
			ps.Records = append(ps.Records, pr)
		}
		return res, nil
	}
}

// record is a planned write as the file keeps it.
func (z *Sealer) record(ps *Sync, rec *sink.Record, r *sink.Result) (Record, error) {
	pr := Record{Seq: rec.Seq, Op: OpUpdate, Key: rec.Key, ID: r.ID, KeptBack: r.KeptBack, KeptEdits: r.KeptEdits}
	if r.Created {
		pr.Op, pr.ID = OpCreate, ""
	}
	if ps.KeyField != "" {
		if v, ok := rec.Get(ps.KeyField); ok && v.Kind != sink.Absent {
			kv := fromSink(v)
			pr.KeyValue = &kv
		}
	}
	for _, c := range r.Changes {
		v, ok := rec.Get(c.Field)
		if !ok {
			return pr, fmt.Errorf("sync %s, record %s: the sink planned a change of %s, which the record does not have", ps.Name, rec.Key, c.Field)
		}
		pr.Fields = append(pr.Fields, Field{Name: c.Field, Old: c.From, New: fromSink(v)})
	}
	return pr, nil
}

// File returns the sealed plan of the run, with its id and time. It
// refuses a plan in which a value holds a secret the project resolved:
// the file would carry it, and a masked value cannot be applied.
func (z *Sealer) File(runID string, now time.Time) (*File, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.err != nil {
		return nil, z.err
	}
	proj, err := HashFile(z.project.File)
	if err != nil {
		return nil, fmt.Errorf("project file: %w", err)
	}
	f := &File{Version: Version, RunID: runID, Created: now.UTC(), Project: proj}
	for _, s := range z.project.Syncs {
		ps, ok := z.syncs[s.Name]
		if !ok {
			continue
		}
		slices.SortFunc(ps.Records, func(a, b Record) int { return cmp.Compare(a.Seq, b.Seq) })
		if ps.Records == nil {
			ps.Records = []Record{}
		}
		for _, r := range ps.Records {
			if err := z.secretFree(ps.Name, r); err != nil {
				return nil, err
			}
		}
		f.Syncs = append(f.Syncs, *ps)
	}
	return f, nil
}

// secretFree refuses a record with a value the Redactor would mask.
func (z *Sealer) secretFree(sync string, r Record) error {
	red := z.project.Redactor
	if red == nil {
		return nil
	}
	texts := []string{r.Key, r.ID}
	names := []string{"its key", "its Id"}
	if r.KeyValue != nil {
		texts, names = append(texts, r.KeyValue.S), append(names, "its key field")
	}
	for _, f := range r.Fields {
		texts = append(texts, f.Old, f.New.S)
		names = append(names, f.Name, f.Name)
	}
	for i, t := range texts {
		if t != "" && red.Redact(t) != t {
			return fmt.Errorf("sync %s, record %s: %s holds a secret the configuration resolved; the plan file is not written",
				sync, strings.TrimSpace(red.Redact(r.Key)), names[i])
		}
	}
	return nil
}
