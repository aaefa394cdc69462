package reverseetl_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	memsource "github.com/retl-go/retl/source/memory"
)

// alteringSink writes as the memory sink does, then reports the fields a
// destination stored otherwise: Name upper-cased, Email lower-cased; a
// record named "Fail" also fails, as on_altered: fail does.
type alteringSink struct{ *memory.Sink }

func (a alteringSink) Write(ctx context.Context, recs []sink.Record) ([]sink.Result, error) {
	res, err := a.Sink.Write(ctx, recs)
	if err != nil {
		return nil, err
	}
	for i := range recs {
		name, _ := recs[i].Get("Name")
		email, _ := recs[i].Get("Email")
		if name.S != strings.ToUpper(name.S) {
			res[i].Altered = append(res[i].Altered, sink.FieldChange{Field: "Name", From: name.S, To: strings.ToUpper(name.S)})
		}
		if email.S != strings.ToLower(email.S) {
			res[i].Altered = append(res[i].Altered, sink.FieldChange{Field: "Email", From: email.S, To: strings.ToLower(email.S)})
		}
		if name.S == "Fail" {
			res[i].Err = &sink.RecordError{Code: "RETL_ALTERED", Message: "written; altered", Fields: []string{"Name"}}
		}
	}
	return res, nil
}

func TestAlteredRowsAreCountedAndReported(t *testing.T) {
	f := newFixture()
	s := spec("people")
	s.Mapping = append(s.Mapping, &config.Mapping{From: "EMAIL", To: "Email"})
	s.OnFailure.MaxFailedRows = new(int)
	*s.OnFailure.MaxFailedRows = 10
	f.sources["people"] = memsource.New([]string{"ID", "NAME", "EMAIL"}, [][]any{
		{"K1", "Ann", "ann@example.com"}, {"K2", "BO", "bo@example.com"}, {"K3", "CY", "Cy.Secret@Example.com"}, {"K4", "Fail", "x@y.z"},
	})
	f.sinks["people"] = alteringSink{memory.New("Ext")}
	obs := &outcomeLog{}
	p := &config.Project{Syncs: []*config.Sync{s}, Writeback: &config.Writeback{ExcludeFields: []string{"email"}}}
	rep, err := f.engine(reverseetl.WithObserver(obs)).Run(context.Background(), p, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("people")
	assert.Equal(t, int64(3), r.Altered, "K1, K3 and K4")
	assert.Equal(t, int64(1), r.Failed)
	assert.Equal(t, int64(3), r.Created)
	require.Len(t, r.AlteredRows, 2, "written altered rows; the failed one is in FailedRows")
	assert.Equal(t, "K1", r.AlteredRows[0].Key)
	assert.Equal(t, []sink.FieldChange{{Field: "Name", From: "Ann", To: "ANN"}}, r.AlteredRows[0].Altered)
	assert.Equal(t, []sink.FieldChange{{Field: "Email", From: reverseetl.Excluded, To: reverseetl.Excluded}}, r.AlteredRows[1].Altered,
		"an excluded field's values leave the process through no report")
	require.Len(t, r.FailedRows, 1)
	assert.Equal(t, []sink.FieldChange{{Field: "Name", From: "Fail", To: "FAIL"}}, r.FailedRows[0].Altered)
	var seen int
	for _, o := range obs.outs {
		seen += len(o.Altered)
		for _, a := range o.Altered {
			assert.NotContains(t, a.From+a.To, "ecret", "observers get the scrubbed values")
		}
	}
	assert.Equal(t, 3, seen)

	var out bytes.Buffer
	require.NoError(t, reverseetl.WriteSummary(&out, rep, 10))
	text := out.String()
	assert.Contains(t, text, "people: altered rows (3): written, but the destination stored other values:")
	assert.Regexp(t, `K1\s+Name\s+Ann\s+ANN`, text)
	assert.Regexp(t, `K4\s+Name\s+Fail\s+FAIL`, text)
	assert.NotContains(t, text, "ecret")

	out.Reset()
	require.NoError(t, reverseetl.WriteSummary(&out, rep, 1))
	assert.Contains(t, out.String(), "…", "the list stops at maxRows")
	assert.NotRegexp(t, `K4\s+Name`, out.String())
}

func TestScrubChanges(t *testing.T) {
	in := []sink.FieldChange{{Field: "A", From: "1", To: "2"}, {Field: "b", From: "3", To: "4"}}
	assert.Equal(t, in, reverseetl.NewExclusion().ScrubChanges(in))
	assert.Equal(t, in, reverseetl.NewExclusion("C").ScrubChanges(in))
	got := reverseetl.NewExclusion("B").ScrubChanges(in)
	assert.Equal(t, []sink.FieldChange{{Field: "A", From: "1", To: "2"}, {Field: "b", From: reverseetl.Excluded, To: reverseetl.Excluded}}, got)
	assert.Equal(t, "3", in[1].From, "the input is not modified")
}
