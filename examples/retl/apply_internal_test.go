package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/sealed"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/source"
	"github.com/retl-go/retl/transform"
)

// existing plans every record as found: a planned create has drifted.
type existing struct{}

func (existing) Plan(_ context.Context, recs []sink.Record) ([]sink.Result, error) {
	return make([]sink.Result, len(recs)), nil
}
func (existing) Write(context.Context, []sink.Record) ([]sink.Result, error) { return nil, nil }
func (existing) Close(context.Context) error                                 { return nil }

type layoutOnly struct{ l *sink.Layout }

func (t layoutOnly) Layout() *sink.Layout                         { return t.l }
func (t layoutOnly) Transform(transform.Row) (sink.Record, error) { return sink.Record{}, nil }

// Past the records it lists, the summary counts the rest.
func TestPrintDriftCountsWhatItDoesNotList(t *testing.T) {
	n := sealed.MaxDriftListed + 2
	f := &sealed.File{Version: sealed.Version, Syncs: []sealed.Sync{{Name: "accounts"}, {Name: "quiet"}}}
	for i := range n {
		f.Syncs[0].Records = append(f.Syncs[0].Records, sealed.Record{Seq: int64(i + 1), Op: sealed.OpCreate, Key: fmt.Sprintf("K%d", i),
			Fields: []sealed.Field{{Name: "Name", New: sealed.Value{Kind: "text", S: "x"}}}})
	}
	a := sealed.NewApplier(f)
	s := &config.Sync{Name: "accounts"}
	parts, err := a.Parts(context.Background(), s, reverseetl.Parts{Transformer: layoutOnly{sink.NewLayout([]string{"Name"}, nil)}})
	require.NoError(t, err)
	var recs []sink.Record
	require.NoError(t, parts.Source.Read(context.Background(), func(b source.Batch) error {
		for _, row := range b.Rows {
			r, err := parts.Transformer.Transform(transform.Row{Columns: b.Columns, Values: row})
			require.NoError(t, err)
			r.Seq = int64(len(recs) + 1)
			recs = append(recs, r)
		}
		return nil
	}))
	_, err = a.Write(s, existing{}, true, nil)(context.Background(), recs)
	require.NoError(t, err)
	var out strings.Builder
	printDrift(&out, a, []string{"accounts", "quiet"})
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 1+sealed.MaxDriftListed+1)
	assert.Equal(t, fmt.Sprintf("accounts: %d drifted since the plan, not sent:", n), lines[0])
	assert.Equal(t, "  K0: planned as a create; the record exists now", lines[1])
	assert.Equal(t, "  and 2 more", lines[len(lines)-1])
}
