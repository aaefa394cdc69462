package reverseetl_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink/memory"
	memsource "github.com/retl-go/retl/source/memory"
)

func TestColumnTheQueryDoesNotReturnStopsTheSyncBeforeAnyRow(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(s *config.Sync)
		want string
	}{
		{"mapping", func(s *config.Sync) {
			s.Mapping = append(s.Mapping, &config.Mapping{From: "TIER", To: "Tier__c", Pos: config.Pos{File: "s.yaml", Line: 9, Col: 5}})
		}, `s.yaml:9:5: key "mapping[2].from": column "TIER" not in the query's result (columns: ID, NAME)`},
		{"when", func(s *config.Sync) {
			s.Mapping[1].When = "ACTIVE"
			s.Mapping[1].Pos = config.Pos{File: "s.yaml", Line: 7, Col: 5}
		}, `s.yaml:7:5: key "mapping[1].when": column "ACTIVE" not in the query's result (columns: ID, NAME)`},
		{"filter", func(s *config.Sync) {
			s.Filter = "not DELETED"
		}, `key "filter": column "DELETED" not in the query's result (columns: ID, NAME)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			snk := memory.New("Ext")
			f.sources["s"] = &memsource.Source{Columns: []string{"ID", "NAME"}, Rows: rows(100), BatchSize: 30}
			f.sinks["s"] = snk
			s := spec("s")
			tc.edit(s)
			// The mapping transformer, not the fixture's passthrough.
			eng := reverseetl.New(f.reg, reverseetl.WithLogger(slog.New(slog.DiscardHandler)))
			rep, err := eng.Run(context.Background(), &config.Project{Syncs: []*config.Sync{s}}, reverseetl.RunOptions{})
			require.NoError(t, err)
			r := rep.Sync("s")
			assert.Equal(t, reverseetl.Failed, r.Status)
			assert.Contains(t, r.Error, tc.want)
			assert.Zero(t, r.Failed, "no row is booked failed for a sync's mistake")
			assert.Empty(t, r.FailedRows)
			assert.Zero(t, r.Created+r.Updated, "nothing is written")
			assert.Empty(t, snk.Rows())
			assert.True(t, r.Accounted(), "%+v", r)
		})
	}
}

func TestRowThatFailsInTheTransformKeepsItsKeyAndValues(t *testing.T) {
	f := newFixture()
	snk := memory.New("Ext")
	data := make([][]any, 10)
	for i := range data {
		data[i] = []any{fmt.Sprintf("K%d", i), "name", "12.5"}
	}
	data[4][2] = "twelve" // no number: row K4 fails on its second field
	f.sources["s"] = memsource.New([]string{"ID", "NAME", "AMOUNT"}, data)
	f.sinks["s"] = snk
	s := spec("s")
	s.Key = "ID"
	s.Mapping[1] = &config.Mapping{From: "AMOUNT", To: "Amount", Type: config.FieldType("number")}
	s.Mapping = append(s.Mapping, &config.Mapping{From: "NAME", To: "Name"})
	one := 1
	s.OnFailure.MaxFailedRows = &one
	eng := reverseetl.New(f.reg, reverseetl.WithLogger(slog.New(slog.DiscardHandler)))
	rep, err := eng.Run(context.Background(), &config.Project{Syncs: []*config.Sync{s}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	require.Equal(t, int64(1), r.Failed, r.Error)
	require.Len(t, r.FailedRows, 1)
	o := r.FailedRows[0]
	assert.Equal(t, "K4", o.Key)
	assert.Equal(t, reverseetl.CodeTransform, o.Err.Code)
	require.NotNil(t, o.Record)
	assert.Equal(t, "K4", o.Record.Values[0].S, "the fields mapped before the failing one are kept")
}
