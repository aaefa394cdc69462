package sealed

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source"
	"github.com/retl-go/retl/transform"
)

// fakeSink plans from fixed answers by key and records what it is sent.
type fakeSink struct {
	plan     map[string]sink.Result
	planErr  error
	short    bool // Plan answers one result too few
	sent     [][]sink.Record
	writeErr error
	desc     sink.Description
}

func (f *fakeSink) Plan(ctx context.Context, recs []sink.Record) ([]sink.Result, error) {
	if f.planErr != nil {
		return nil, f.planErr
	}
	out := make([]sink.Result, len(recs))
	for i, r := range recs {
		out[i] = f.plan[r.Key]
	}
	if f.short {
		out = out[1:]
	}
	return out, nil
}

func (f *fakeSink) Write(ctx context.Context, recs []sink.Record) ([]sink.Result, error) {
	if f.writeErr != nil {
		return nil, f.writeErr
	}
	f.sent = append(f.sent, recs)
	out := make([]sink.Result, len(recs))
	for i, r := range recs {
		out[i] = sink.Result{ID: "id-" + r.Key}
	}
	return out, nil
}

func (f *fakeSink) Close(context.Context) error     { return nil }
func (f *fakeSink) Describe() sink.Description      { return f.desc }
func (f *fakeSink) planOnly() reverseetl.WriteFunc  { return f.Plan }
func (f *fakeSink) writeOnly() reverseetl.WriteFunc { return f.Write }
func (f *fakeSink) noWrite(t *testing.T) reverseetl.WriteFunc {
	return func(context.Context, []sink.Record) ([]sink.Result, error) {
		t.Error("a check must not write")
		return nil, nil
	}
}

// fixedTransformer has a layout and nothing else.
type fixedTransformer struct{ layout *sink.Layout }

func (t fixedTransformer) Layout() *sink.Layout { return t.layout }
func (t fixedTransformer) Transform(transform.Row) (sink.Record, error) {
	return sink.Record{}, errors.New("not used")
}

type closingSource struct{ closed bool }

func (s *closingSource) Read(context.Context, func(source.Batch) error) error { return nil }
func (s *closingSource) Close() error                                         { s.closed = true; return nil }

// project writes a project file and one sync file, and returns the
// project with the sync "accounts".
func project(t *testing.T) *config.Project {
	t.Helper()
	dir := t.TempDir()
	pf, sf := filepath.Join(dir, "retl.yaml"), filepath.Join(dir, "accounts.yaml")
	require.NoError(t, os.WriteFile(pf, []byte("connections: {}\n"), 0o600))
	require.NoError(t, os.WriteFile(sf, []byte("name: accounts\n"), 0o600))
	return &config.Project{File: pf, Redactor: &config.Redactor{}, Syncs: []*config.Sync{{Name: "accounts", File: sf}}}
}

var accountLayout = sink.NewLayout([]string{"External_Id__c", "Name", "BillingCity", "Phone"}, nil)

func rec(seq int64, key, name, city, phone string) sink.Record {
	return sink.Record{Seq: seq, Key: key, Layout: accountLayout, Values: []sink.Value{
		sink.TextValue(key), sink.TextValue(name), sink.TextValue(city), sink.TextValue(phone)}}
}

// seal plans records through a Sealer and returns the file.
func seal(t *testing.T, p *config.Project, k *fakeSink, batches ...[]sink.Record) *File {
	t.Helper()
	z := NewSealer(p)
	_, err := z.Parts(context.Background(), p.Syncs[0], reverseetl.Parts{Transformer: fixedTransformer{accountLayout}, Sink: k})
	require.NoError(t, err)
	w := z.Write(p.Syncs[0], k, true, k.planOnly())
	for _, b := range batches {
		_, err := w(context.Background(), b)
		require.NoError(t, err)
	}
	f, err := z.File("run-1", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	require.NoError(t, err)
	return f
}

func planned() *fakeSink {
	return &fakeSink{desc: sink.Description{KeyField: "External_Id__c"}, plan: map[string]sink.Result{
		"A-1": {ID: "001A", Changes: []sink.FieldChange{{Field: "BillingCity", From: "Oslo", To: "Paris"}}, KeptBack: []string{"Phone"}},
		"A-2": {ID: "001B", Skipped: sink.SkipUnchanged},
		"A-3": {Created: true, Changes: []sink.FieldChange{{Field: "Name", To: "Three"}, {Field: "BillingCity", To: "Lima"}}},
		"A-4": {Err: &sink.RecordError{Code: "STRING_TOO_LONG"}},
	}}
}

func TestSealKeepsWhatWouldBeCreatedOrChanged(t *testing.T) {
	p := project(t)
	// Batches answered out of order come back in row order.
	f := seal(t, p, planned(), []sink.Record{rec(3, "A-3", "Three", "Lima", ""), rec(4, "A-4", "x", "y", "z")},
		[]sink.Record{rec(1, "A-1", "One", "Paris", "111"), rec(2, "A-2", "Two", "Rome", "222")})
	assert.Equal(t, Version, f.Version)
	assert.Equal(t, "run-1", f.RunID)
	assert.Equal(t, p.File, f.Project.File)
	assert.Len(t, f.Project.SHA256, 64)
	require.Len(t, f.Syncs, 1)
	s := f.Syncs[0]
	assert.Equal(t, "External_Id__c", s.KeyField)
	assert.Equal(t, []Record{
		{Seq: 1, Op: OpUpdate, Key: "A-1", ID: "001A", KeyValue: &Value{"text", "A-1"}, KeptBack: []string{"Phone"},
			Fields: []Field{{Name: "BillingCity", Old: "Oslo", New: Value{"text", "Paris"}}}},
		{Seq: 3, Op: OpCreate, Key: "A-3", KeyValue: &Value{"text", "A-3"},
			Fields: []Field{{Name: "Name", New: Value{"text", "Three"}}, {Name: "BillingCity", New: Value{"text", "Lima"}}}},
	}, s.Records)
	assert.Equal(t, 2, f.Records())

	// Written and read back, it is the same plan.
	path := filepath.Join(t.TempDir(), "plan.json")
	require.NoError(t, f.Write(path))
	back, err := Read(path)
	require.NoError(t, err)
	assert.Equal(t, f, back)
}

func TestSealRefusesWhatCannotBeSealed(t *testing.T) {
	ctx := context.Background()
	parts := func(k *fakeSink) reverseetl.Parts {
		return reverseetl.Parts{Transformer: fixedTransformer{accountLayout}, Sink: k}
	}
	var ns *NotSealableError

	p := project(t)
	p.Writeback = &config.Writeback{ExcludeFields: []string{"phone"}}
	_, err := NewSealer(p).Parts(ctx, p.Syncs[0], parts(planned()))
	require.ErrorAs(t, err, &ns)
	assert.Contains(t, err.Error(), "it writes Phone, which writeback.exclude_fields keeps out of every file")

	p = project(t)
	p.Syncs[0].OnRemoved = &config.OnRemoved{Delete: true}
	_, err = NewSealer(p).Parts(ctx, p.Syncs[0], parts(planned()))
	require.ErrorAs(t, err, &ns)
	assert.Contains(t, err.Error(), "on_removed is set")

	p = project(t)
	p.Syncs[0].File = filepath.Join(t.TempDir(), "gone.yaml")
	_, err = NewSealer(p).Parts(ctx, p.Syncs[0], parts(planned()))
	assert.ErrorIs(t, err, os.ErrNotExist)

	// A delete sync's plan fails.
	p = project(t)
	z := NewSealer(p)
	k := &fakeSink{plan: map[string]sink.Result{"A-1": {ID: "001A", Deleted: true}}}
	_, err = z.Parts(ctx, p.Syncs[0], parts(k))
	require.NoError(t, err)
	_, err = z.Write(p.Syncs[0], k, true, k.planOnly())(ctx, []sink.Record{rec(1, "A-1", "", "", "")})
	require.ErrorAs(t, err, &ns)
	assert.Contains(t, err.Error(), "it deletes records")

	// A change of a field the record lacks is the sink's error, and no file.
	k = &fakeSink{plan: map[string]sink.Result{"A-1": {ID: "001A", Changes: []sink.FieldChange{{Field: "Other__c", To: "x"}}}}}
	z = NewSealer(p)
	_, err = z.Parts(ctx, p.Syncs[0], parts(k))
	require.NoError(t, err)
	_, err = z.Write(p.Syncs[0], k, true, k.planOnly())(ctx, []sink.Record{rec(1, "A-1", "", "", "")})
	require.NoError(t, err)
	_, err = z.File("run", time.Now())
	assert.ErrorContains(t, err, "the sink planned a change of Other__c, which the record does not have")

	// A value holding a resolved secret refuses the file.
	p = project(t)
	p.Redactor.Add("s3cret-password")
	z = NewSealer(p)
	k = planned()
	_, err = z.Parts(ctx, p.Syncs[0], parts(k))
	require.NoError(t, err)
	_, err = z.Write(p.Syncs[0], k, true, k.planOnly())(ctx, []sink.Record{rec(1, "A-1", "One", "at s3cret-password", "")})
	require.NoError(t, err)
	_, err = z.File("run", time.Now())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sync accounts, record A-1: BillingCity holds a secret")
	assert.NotContains(t, err.Error(), "s3cret-password")

	// The project file is read when the file is made.
	p = project(t)
	z = NewSealer(p)
	require.NoError(t, os.Remove(p.File))
	_, err = z.File("run", time.Now())
	assert.ErrorIs(t, err, os.ErrNotExist)

	// Outside a plan the Sealer changes nothing.
	k = planned()
	_, err = z.Write(p.Syncs[0], k, false, k.writeOnly())(ctx, []sink.Record{rec(1, "A-1", "", "", "")})
	require.NoError(t, err)
	assert.Len(t, k.sent, 1)
}

func TestReadRefusesBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		path := filepath.Join(dir, "plan.json")
		require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
		return path
	}
	_, err := Read(filepath.Join(dir, "missing.json"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	for text, want := range map[string]string{
		`{"version":`:    "unexpected end of JSON input",
		`{"version": 2}`: "version 2, this retl reads version 1",
		`{"version": 1, "syncs": [{"name": "a", "records": [{"key": "k", "op": "delete"}]}]}`:                                                       `sync a, record k: unknown operation "delete"`,
		`{"version": 1, "syncs": [{"name": "a", "records": [{"key": "k", "op": "update", "fields": [{"field": "F", "new": {"kind": "money"}}]}]}]}`: `sync a, record k: unknown value kind "money"`,
		`{"version": 1, "syncs": [{"name": "a", "records": [{"key": "k", "op": "create", "key_value": {"kind": "?"}}]}]}`:                           `unknown value kind "?"`,
	} {
		_, err := Read(write(text))
		assert.ErrorContains(t, err, want, text)
	}
	// A file that cannot be replaced is the caller's error to report.
	f := &File{Version: Version}
	assert.Error(t, f.Write(filepath.Join(dir, "no", "such", "dir", "plan.json")))
}

func TestCheckRefusesOtherConfigurationAndOldPlans(t *testing.T) {
	p := project(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := seal(t, p, planned(), []sink.Record{rec(1, "A-1", "One", "Paris", "111")})
	require.NoError(t, f.Check(p, now.Add(time.Hour), 24*time.Hour))
	require.NoError(t, f.Check(p, now.Add(1000*time.Hour), 0), "0 allows any age")

	var ae *AgeError
	err := f.Check(p, now.Add(25*time.Hour), 24*time.Hour)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 25*time.Hour, ae.Age)
	assert.Equal(t, "plan made 25h0m0s ago, more than --max-age 24h0m0s; make a new plan", err.Error())

	var ce *ConfigError
	require.NoError(t, os.WriteFile(p.Syncs[0].File, []byte("name: accounts\n# changed\n"), 0o600))
	err = f.Check(p, now, 0)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "accounts", ce.Sync)

	other := project(t)
	other.Syncs[0].Name = "contacts"
	err = f.Check(other, now, 0)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "plan made from other configuration: sync accounts ("+p.Syncs[0].File+") is no longer in the configuration; make a new plan", err.Error())

	require.NoError(t, os.WriteFile(p.File, []byte("connections: {a: {}}\n"), 0o600))
	err = f.Check(p, now, 0)
	require.ErrorAs(t, err, &ce)
	assert.Empty(t, ce.Sync)

	// A file that cannot be read cannot be the one planned.
	require.NoError(t, os.Remove(p.File))
	err = f.Check(p, now, 0)
	assert.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "plan made from other configuration: the project file ("+p.File+") cannot be read; make a new plan", err.Error())
	p = project(t)
	f = seal(t, p, planned())
	require.NoError(t, os.Remove(p.Syncs[0].File))
	err = f.Check(p, now, 0)
	assert.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "accounts", ce.Sync)

	// Embedded defaults: no project file on either side.
	p = project(t)
	p.File = ""
	f = seal(t, p, planned())
	assert.NoError(t, f.Check(p, now, 0))
}
