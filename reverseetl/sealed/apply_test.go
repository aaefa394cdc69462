package sealed

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source"
	"github.com/retl-go/retl/transform"
)

func planFile() *File {
	return &File{Version: Version, Syncs: []Sync{{Name: "accounts", KeyField: "External_Id__c", Records: []Record{
		{Seq: 1, Op: OpUpdate, Key: "A-1", ID: "001A", KeyValue: &Value{"text", "A-1"},
			Fields: []Field{{Name: "BillingCity", Old: "Oslo", New: Value{"text", "Paris"}}}},
		{Seq: 3, Op: OpCreate, Key: "A-3", KeyValue: &Value{"text", "A-3"},
			Fields: []Field{{Name: "Name", New: Value{"text", "Three"}}, {Name: "NumberOfEmployees", New: Value{"number", "12"}}}},
	}}, {Name: "contacts", Records: []Record{}}}}
}

// records runs the Applier's parts as the Engine does: the source's rows
// through the transformer, numbered from 1.
func records(t *testing.T, parts reverseetl.Parts) []sink.Record {
	t.Helper()
	var out []sink.Record
	require.NoError(t, parts.Source.Read(context.Background(), func(b source.Batch) error {
		for _, row := range b.Rows {
			r, err := parts.Transformer.Transform(transform.Row{Columns: b.Columns, Values: row})
			require.NoError(t, err)
			r.Seq = int64(len(out) + 1)
			out = append(out, r)
		}
		return nil
	}))
	require.NoError(t, parts.Source.Close())
	return out
}

func TestApplierReadsThePlansRecords(t *testing.T) {
	a := NewApplier(planFile())
	assert.Equal(t, []string{"accounts"}, a.Syncs(), "a sync without records is not run")

	orig := sink.NewLayout([]string{"External_Id__c", "Name", "BillingCity", "NumberOfEmployees"}, []bool{false, true, false, false})
	orig.Truncate = []bool{false, false, true, false}
	src := &closingSource{}
	s := &config.Sync{Name: "accounts", ChangeDetection: &config.ChangeDetection{Key: "ID"}, OnRemoved: &config.OnRemoved{Delete: true}}
	parts, err := a.Parts(context.Background(), s, reverseetl.Parts{Source: src, Transformer: fixedTransformer{orig}})
	require.NoError(t, err)
	assert.True(t, src.closed, "the query is not read")
	l := parts.Transformer.Layout()
	assert.Equal(t, []string{"External_Id__c", "BillingCity", "Name", "NumberOfEmployees"}, l.Fields)
	assert.Equal(t, []bool{false, false, true, false}, l.Guarded, "the sync's set_if_empty stays")
	assert.Equal(t, []bool{false, true, false, false}, l.Truncate)

	recs := records(t, parts)
	require.Len(t, recs, 2)
	absent := sink.Value{}
	assert.Equal(t, "A-1", recs[0].Key)
	assert.Equal(t, []sink.Value{sink.TextValue("A-1"), sink.TextValue("Paris"), absent, absent}, recs[0].Values, "only the planned fields")
	assert.Equal(t, []sink.Value{sink.TextValue("A-3"), absent, sink.TextValue("Three"), sink.NumberValue("12")}, recs[1].Values, "with their kinds")

	// Change detection finds each row's key in its key column.
	require.NoError(t, parts.Source.Read(context.Background(), func(b source.Batch) error {
		assert.Equal(t, []string{planColumn, "ID"}, b.Columns)
		assert.Equal(t, [][]any{{int64(0), "A-1"}, {int64(1), "A-3"}}, b.Rows)
		return nil
	}))

	// The project apply runs has no on_removed; the loaded one keeps it.
	p := &config.Project{Syncs: []*config.Sync{s}}
	ap := a.Project(p)
	assert.Nil(t, ap.Syncs[0].OnRemoved)
	assert.Equal(t, s.ChangeDetection, ap.Syncs[0].ChangeDetection)
	assert.NotNil(t, s.OnRemoved)

	_, err = a.Parts(context.Background(), &config.Sync{Name: "leads"}, reverseetl.Parts{Transformer: fixedTransformer{orig}})
	assert.ErrorContains(t, err, "the plan holds no sync leads")

	bad := planFile()
	bad.Syncs[0].Records[0].Fields[0].New.Kind = "money"
	_, err = NewApplier(bad).Parts(context.Background(), s, reverseetl.Parts{Transformer: fixedTransformer{orig}})
	assert.ErrorContains(t, err, `record A-1: unknown value kind "money"`)

	// A row that names no planned record fails that row.
	_, err = parts.Transformer.Transform(transform.Row{Values: []any{int64(7)}})
	assert.Error(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, parts.Source.Read(ctx, func(source.Batch) error { return nil }), context.Canceled)
	stop := errors.New("stop")
	assert.ErrorIs(t, parts.Source.Read(context.Background(), func(source.Batch) error { return stop }), stop)
}

// applyRecords are the plan's records as the Engine hands them to Write.
func applyRecords(t *testing.T, a *Applier) []sink.Record {
	orig := sink.NewLayout([]string{"External_Id__c", "Name", "BillingCity", "NumberOfEmployees"}, nil)
	parts, err := a.Parts(context.Background(), &config.Sync{Name: "accounts"}, reverseetl.Parts{Transformer: fixedTransformer{orig}})
	require.NoError(t, err)
	return records(t, parts)
}

func TestApplierSendsOnlyWhatStillHolds(t *testing.T) {
	ctx := context.Background()
	s := &config.Sync{Name: "accounts", Destination: config.DestinationSpec{Type: "fake"}}
	holds := map[string]sink.Result{
		"A-1": {ID: "001A", Changes: []sink.FieldChange{{Field: "BillingCity", From: "Oslo", To: "Paris"}}},
		"A-3": {Created: true},
	}

	// Everything holds: both are sent, as planned.
	a := NewApplier(planFile())
	recs := applyRecords(t, a)
	k := &fakeSink{plan: holds}
	res, err := a.Write(s, k, false, k.writeOnly())(ctx, recs)
	require.NoError(t, err)
	require.Len(t, k.sent, 1)
	assert.Equal(t, recs, k.sent[0])
	assert.Equal(t, []sink.Result{{ID: "id-A-1"}, {ID: "id-A-3"}}, res)
	assert.Empty(t, a.Drifted())

	// A-1's city was edited: it is skipped, A-3 is sent alone.
	k = &fakeSink{plan: map[string]sink.Result{
		"A-1": {ID: "001A", Changes: []sink.FieldChange{{Field: "BillingCity", From: "Bergen", To: "Paris"}}},
		"A-3": {Created: true},
	}}
	res, err = a.Write(s, k, false, k.writeOnly())(ctx, recs)
	require.NoError(t, err)
	require.Len(t, k.sent, 1)
	assert.Equal(t, []sink.Record{recs[1]}, k.sent[0])
	assert.Equal(t, []sink.Result{{ID: "001A", Skipped: SkipDrifted, SkipDetail: "changed in Salesforce since the plan: BillingCity"}, {ID: "id-A-3"}}, res)
	assert.Equal(t, map[string]int{"accounts": 1}, a.Drifted())

	// As a check it writes nothing and answers what the sink plans.
	check := NewApplier(planFile())
	k = &fakeSink{plan: map[string]sink.Result{"A-1": {ID: "001A", Created: true}, "A-3": {Created: true}}}
	res, err = check.Write(s, k, true, k.noWrite(t))(ctx, recs)
	require.NoError(t, err)
	assert.Equal(t, SkipDrifted, res[0].Skipped)
	assert.Equal(t, sink.Result{Created: true}, res[1])
	assert.Equal(t, map[string]int{"accounts": 1}, check.Drifted())

	// Every record drifted: nothing is sent.
	k = &fakeSink{plan: map[string]sink.Result{"A-1": {ID: "001A", Skipped: sink.SkipUnchanged}, "A-3": {ID: "001C"}}}
	res, err = a.Write(s, k, false, k.writeOnly())(ctx, recs)
	require.NoError(t, err)
	assert.Empty(t, k.sent)
	assert.Equal(t, SkipDrifted, res[0].Skipped)
	assert.Equal(t, SkipDrifted, res[1].Skipped)
}

func TestApplierWriteErrors(t *testing.T) {
	ctx := context.Background()
	s := &config.Sync{Name: "accounts", Destination: config.DestinationSpec{Type: "fake"}}
	a := NewApplier(planFile())
	recs := applyRecords(t, a)
	holds := map[string]sink.Result{"A-1": {ID: "001A", Changes: []sink.FieldChange{{Field: "BillingCity", From: "Oslo"}}}, "A-3": {Created: true}}

	type writerOnly struct{ sink.Sink }
	_, err := a.Write(s, writerOnly{&fakeSink{}}, false, nil)(ctx, recs)
	assert.ErrorContains(t, err, `destination type "fake" cannot plan, so apply cannot tell which records drifted`)

	boom := errors.New("boom")
	k := &fakeSink{planErr: boom}
	_, err = a.Write(s, k, false, k.writeOnly())(ctx, recs)
	assert.ErrorIs(t, err, boom)

	k = &fakeSink{plan: holds, short: true}
	_, err = a.Write(s, k, false, k.writeOnly())(ctx, recs)
	assert.ErrorContains(t, err, "the sink planned 1 results for 2 records")

	k = &fakeSink{plan: holds, writeErr: boom}
	_, err = a.Write(s, k, false, k.writeOnly())(ctx, recs)
	assert.ErrorIs(t, err, boom)

	k = &fakeSink{plan: holds}
	short := func(ctx context.Context, r []sink.Record) ([]sink.Result, error) { return []sink.Result{{}}, nil }
	_, err = a.Write(s, k, false, short)(ctx, recs)
	assert.ErrorContains(t, err, "the sink returned 1 results for 2 records")

	moved := append([]sink.Record(nil), recs...)
	moved[0].Seq = 2
	_, err = a.Write(s, k, false, k.writeOnly())(ctx, moved)
	assert.ErrorContains(t, err, "record A-1 (row 2) is not the plan's")
	_, err = a.Write(&config.Sync{Name: "leads"}, k, false, k.writeOnly())(ctx, recs)
	assert.ErrorContains(t, err, "is not the plan's")
}

func TestDrift(t *testing.T) {
	update := &Record{Op: OpUpdate, ID: "001A", Fields: []Field{{Name: "BillingCity", Old: "Oslo"}, {Name: "Phone", Old: ""}}}
	create := &Record{Op: OpCreate}
	change := func(f, from string) sink.FieldChange { return sink.FieldChange{Field: f, From: from} }
	for _, tc := range []struct {
		name string
		pr   *Record
		now  sink.Result
		want string
	}{
		{"update holds", update, sink.Result{ID: "001A", Changes: []sink.FieldChange{change("billingcity", "Oslo"), change("Phone", "")}}, ""},
		{"create holds", create, sink.Result{Created: true}, ""},
		{"a field moved", update, sink.Result{ID: "001A", Changes: []sink.FieldChange{change("BillingCity", "Oslo"), change("Phone", "5")}}, "changed in Salesforce since the plan: Phone"},
		{"a field holds the new value", update, sink.Result{ID: "001A", Changes: []sink.FieldChange{change("Phone", "")}}, "changed in Salesforce since the plan: BillingCity"},
		{"kept back now", update, sink.Result{ID: "001A", KeptBack: []string{"BillingCity", "Phone"}, Skipped: sink.SkipUnchanged}, "changed in Salesforce since the plan: BillingCity, Phone"},
		{"refused now", update, sink.Result{Err: &sink.RecordError{Code: "INVALID_CROSS_REFERENCE_KEY"}}, "Salesforce would now refuse it: INVALID_CROSS_REFERENCE_KEY"},
		{"created meanwhile", create, sink.Result{ID: "001C"}, "planned as a create; the record exists now"},
		{"deleted meanwhile", update, sink.Result{Created: true}, "planned as an update; the record no longer exists"},
		{"another record", update, sink.Result{ID: "001Z", Changes: []sink.FieldChange{change("BillingCity", "Oslo"), change("Phone", "")}}, "planned as an update of another record (Id 001A)"},
	} {
		assert.Equal(t, tc.want, drift(tc.pr, &tc.now), tc.name)
	}
}

func TestDriftedRecordsAreListedUpToTheBound(t *testing.T) {
	f := &File{Version: Version, Syncs: []Sync{{Name: "accounts"}}}
	for i := range MaxDriftListed + 3 {
		f.Syncs[0].Records = append(f.Syncs[0].Records, Record{Seq: int64(i + 1), Op: OpCreate, Key: fmt.Sprintf("K%d", i),
			Fields: []Field{{Name: "Name", New: Value{"text", "x"}}}})
	}
	a := NewApplier(f)
	recs := func() []sink.Record {
		parts, err := a.Parts(context.Background(), &config.Sync{Name: "accounts"}, reverseetl.Parts{Transformer: fixedTransformer{sink.NewLayout([]string{"Name"}, nil)}})
		require.NoError(t, err)
		return records(t, parts)
	}()
	k := &fakeSink{plan: map[string]sink.Result{}} // every record exists now
	s := &config.Sync{Name: "accounts"}
	_, err := a.Write(s, k, false, k.writeOnly())(context.Background(), recs[:10])
	require.NoError(t, err)
	_, err = a.Write(s, k, false, k.writeOnly())(context.Background(), recs[10:])
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"accounts": MaxDriftListed + 3}, a.Drifted())
	listed := a.DriftedRecords()["accounts"]
	require.Len(t, listed, MaxDriftListed)
	assert.Equal(t, Drift{Key: "K0", Why: "planned as a create; the record exists now"}, listed[0])
	assert.Equal(t, "K19", listed[MaxDriftListed-1].Key)
}
