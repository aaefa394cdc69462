package transform

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
)

func TestFailedRowKeepsKeyAndMappedValues(t *testing.T) {
	s := &config.Sync{Name: "s", File: "s.yaml", Key: "ID", Filter: "AMOUNT != 'x'",
		Mapping: []*config.Mapping{{From: "ID", To: "Ext__c"}, {From: "AMOUNT", To: "Amount", Type: "number"}, {From: "ID", To: "Name"}}}
	m, err := Compile(s)
	require.NoError(t, err)
	cols := []string{"ID", "AMOUNT"}
	require.NoError(t, m.CheckColumns(cols))

	rec, err := m.Transform(Row{Columns: cols, Values: []any{"K1", "twelve"}})
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "Amount", fe.Field)
	assert.Equal(t, "K1", rec.Key)
	require.NotNil(t, rec.Layout)
	assert.Equal(t, "K1", rec.Values[0].S)
	assert.True(t, rec.Values[2].IsEmpty(), "fields after the failing one are not mapped")

	// A filter that fails on the row keeps the key too.
	rec, err = m.Transform(Row{Columns: cols, Values: []any{"K2", []int{1}}})
	require.Error(t, err)
	assert.Equal(t, "K2", rec.Key)

	var ce *CompileError
	require.ErrorAs(t, m.CheckColumns([]string{"ID"}), &ce)
	assert.Equal(t, "mapping[1].from", ce.Key, "the first entry that needs a missing column")
}
