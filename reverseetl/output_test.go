package reverseetl_test

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
)

// Cells a spreadsheet would run as formulas get a leading single quote
// (OWASP, CSV injection); other cells are written as they are.
func TestFailedRowsCSVNeutralisesFormulas(t *testing.T) {
	dir := t.TempDir()
	c := &reverseetl.FailedRowsCSV{Dir: dir, RunID: "r"}
	layout := sink.NewLayout([]string{"Name", "Note__c"}, nil)
	values := []string{`=HYPERLINK("http://x.example","click")`, "+1", "-2", "@SUM(A1)", "\tx", "\rx", "plain", "a=b", "'quoted"}
	var outs []reverseetl.Outcome
	for i, v := range values {
		outs = append(outs, reverseetl.Outcome{Seq: int64(i + 1), Key: v, Kind: reverseetl.RowFailed,
			Err:    &sink.RecordError{Code: "E", Message: v},
			Record: &sink.Record{Layout: layout, Values: []sink.Value{sink.TextValue(v), sink.TextValue("ok")}}})
	}
	s := &config.Sync{Name: "s"}
	require.NoError(t, c.Outcomes(context.Background(), s, outs))
	rep := &reverseetl.SyncReport{}
	c.SyncFinished(context.Background(), s, rep)
	require.Empty(t, rep.Warnings)

	f, err := os.Open(filepath.Join(dir, "r", "s.failed.csv"))
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, len(values)+1)
	want := []string{`'=HYPERLINK("http://x.example","click")`, "'+1", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "plain", "a=b", "'quoted"}
	for i, w := range want {
		row := recs[i+1]
		assert.Equal(t, []string{w, w, w, "ok"}, []string{row[1], row[3], row[5], row[6]}, "row %d", i+1)
	}
}
