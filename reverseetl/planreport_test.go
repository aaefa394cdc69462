package reverseetl_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	memsource "github.com/retl-go/retl/source/memory"
)

// planningSink plans every record as an update of the record "001<key>"
// from "old <value>" to its value, keeping the Title field back.
type planningSink struct{ *memory.Sink }

func (p planningSink) Plan(_ context.Context, recs []sink.Record) ([]sink.Result, error) {
	res := make([]sink.Result, len(recs))
	for i, r := range recs {
		var ch []sink.FieldChange
		for j, f := range r.Layout.Fields {
			if f != "Ext" {
				ch = append(ch, sink.FieldChange{Field: f, From: "old " + r.Values[j].S, To: r.Values[j].S})
			}
		}
		res[i] = sink.Result{ID: "001" + r.Key, Changes: ch, KeptBack: []string{"Title"}}
	}
	return res, nil
}

// A plan's field changes carry the record's Id, are redacted, and hide
// excluded fields' values; kept-back fields are counted by field.
func TestPlannedChangesAreScrubbed(t *testing.T) {
	f := newFixture()
	s := spec("people")
	s.Mapping = append(s.Mapping, &config.Mapping{From: "EMAIL", To: "Email"})
	f.sources["people"] = memsource.New([]string{"ID", "NAME", "EMAIL"}, [][]any{
		{"K1", "hunter2-secret-token", "viktor@example.com"}, {"K2", "Ann", ""},
	})
	f.sinks["people"] = planningSink{memory.New("Ext")}
	red := &config.Redactor{}
	red.Add("hunter2-secret-token")
	p := &config.Project{Syncs: []*config.Sync{s}, Redactor: red, Writeback: &config.Writeback{ExcludeFields: []string{"EMAIL"}}}
	rep, err := f.engine().Run(context.Background(), p, reverseetl.RunOptions{Plan: true})
	require.NoError(t, err)
	r := rep.Sync("people")
	require.Len(t, r.Changes, 2)
	assert.Equal(t, reverseetl.PlannedChange{Key: "K1", ID: "001K1", Fields: []sink.FieldChange{
		{Field: "Name", From: "old " + "[REDACTED]", To: "[REDACTED]"},
		{Field: "Email", From: reverseetl.Excluded, To: reverseetl.Excluded},
	}}, r.Changes[0])
	assert.Equal(t, sink.FieldChange{Field: "Email", From: reverseetl.Excluded, To: ""}, r.Changes[1].Fields[1],
		"an empty value stays empty: the page still says the field would be cleared")
	assert.Equal(t, map[string]int64{"Title": 2}, r.KeptBackFields)
	assert.EqualValues(t, 2, r.KeptBack)

	b, err := json.Marshal(rep)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "hunter2")
	assert.NotContains(t, string(b), "viktor@")
}

// WriteFile replaces a file whole or leaves it as it was.
func TestWriteFileWholeOrNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "page.html")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
	boom := errors.New("render failed")
	err := reverseetl.WriteFile(path, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half a page")
		return boom
	})
	assert.ErrorIs(t, err, boom)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "old", string(b))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left")

	require.NoError(t, reverseetl.WriteFile(path, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }))
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "new", string(b))
	assert.ErrorIs(t, reverseetl.WriteFile(dir, func(io.Writer) error { return nil }), reverseetl.ErrNotReplaceable)
}
