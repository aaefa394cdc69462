package reverseetl_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	memsource "github.com/retl-go/retl/source/memory"
	"github.com/retl-go/retl/transform"
)

// sizes is a sink that records the size of each Write.
type sizes struct {
	batch, conc int
	mu          sync.Mutex
	got         []int
}

func (s *sizes) Batching() (int, int)        { return s.batch, s.conc }
func (s *sizes) Close(context.Context) error { return nil }
func (s *sizes) Write(_ context.Context, recs []sink.Record) ([]sink.Result, error) {
	s.mu.Lock()
	s.got = append(s.got, len(recs))
	s.mu.Unlock()
	return make([]sink.Result, len(recs)), nil
}

// With writers in parallel and large batches, the first Write takes half
// a batch so that the writes do not start and end together.
func TestFirstWriteStaggers(t *testing.T) {
	for _, c := range []struct {
		name        string
		batch, conc int
		want        []int
	}{
		{"staggered", 2000, 2, []int{1000, 2000, 2000, 1000}},
		{"one writer", 2000, 1, []int{2000, 2000, 2000}},
		{"small batches", 500, 2, []int{500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &config.Sync{Name: "s", File: "s.yaml", Mapping: []*config.Mapping{{From: "ID", To: "Ext"}}}
			tr, err := transform.Compile(s)
			assert.NoError(t, err)
			rows := make([][]any, 6000)
			for i := range rows {
				rows[i] = []any{fmt.Sprint("K", i)}
			}
			snk := &sizes{batch: c.batch, conc: c.conc}
			src := memsource.New([]string{"ID"}, rows)
			eng := reverseetl.New(reverseetl.NewRegistry(), reverseetl.WithLogger(slog.New(slog.DiscardHandler)))
			rep := eng.RunSync(context.Background(), s, reverseetl.Parts{Source: src, Transformer: tr, Sink: snk})
			assert.Equal(t, reverseetl.Succeeded, rep.Status, rep.Error)
			// Concurrent writers may record in either order.
			assert.ElementsMatch(t, c.want, snk.got)
		})
	}
}
