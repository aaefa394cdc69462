package reverseetl

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/transform"
)

// The undo's transformer answers the record at a row's position, and
// fails a row that names none.
func TestUndoRecordsTransform(t *testing.T) {
	sp := &UndoSyncPlan{priors: []PriorRecord{{Seq: 4, ID: "001A", Fields: []sink.PriorValue{{Field: "Name", Prior: sink.TextValue("Old"), Wrote: "t"}}}},
		created: []CreatedRecord{{Seq: 5, Key: "K5", ID: "001B"}}}
	tr := newUndoRecords(sp, true)
	r, err := tr.Transform(transform.Row{Columns: []string{"I"}, Values: []any{int64(0)}})
	require.NoError(t, err)
	assert.Equal(t, "row 4", r.Key, "a row without a key is named by its position in the undone run")
	r, err = tr.Transform(transform.Row{Columns: []string{"I"}, Values: []any{int64(1)}})
	require.NoError(t, err)
	assert.Same(t, deleteLayout, r.Layout)
	for _, bad := range []any{int64(2), int64(-1), "0"} {
		_, err = tr.Transform(transform.Row{Columns: []string{"I"}, Values: []any{bad}})
		assert.Error(t, err, "%v", bad)
	}
	assert.Len(t, newUndoRecords(sp, false).recs, 1, "created records are deleted only when asked")
}
