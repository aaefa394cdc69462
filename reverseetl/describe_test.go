package reverseetl_test

import (
	"context"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	memsource "github.com/retl-go/retl/source/memory"
	"github.com/retl-go/retl/transform"
)

// deletingSink says, in its results, that it deleted each record.
type deletingSink struct{ *memory.Sink }

func (d deletingSink) Write(ctx context.Context, recs []sink.Record) ([]sink.Result, error) {
	res, err := d.Sink.Write(ctx, recs)
	for i := range res {
		res[i].Deleted = res[i].Err == nil
	}
	return res, err
}

// A sync without a key column is reported by the field its sink finds
// records by (sink.Description.KeyField): written rows and rows the
// mapping fails alike. Deletions are counted from the results.
func TestKeysAndDeletesComeFromTheSink(t *testing.T) {
	f := newFixture()
	f.sources["s"] = memsource.New([]string{"ID", "N"}, [][]any{{"K1", "1"}, {"K2", "x"}, {"K3", "3"}, {nil, "4"}})
	snk := memory.New("Ext")
	f.sinks["s"] = deletingSink{snk}
	s := spec("s")
	s.Mapping = []*config.Mapping{{From: "ID", To: "Ext"}, {From: "N", To: "N__c", Type: config.TypeNumber}}
	log := &outcomeLog{}
	compile := func(s *config.Sync) (transform.Transformer, error) { return transform.Compile(s) }
	rep, err := f.engine(reverseetl.WithTransformerFactory(compile), reverseetl.WithObserver(log)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{s}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	assert.True(t, r.Accounted())
	assert.EqualValues(t, 2, r.Failed)
	require.Len(t, r.FailedRows, 2)
	assert.Equal(t, "K2", r.FailedRows[0].Key, "a row the mapping fails keeps the key field's value")
	assert.Equal(t, "row 4", r.FailedRows[1].Key, "a NULL key field gives no key: the report names the row")
	assert.Equal(t, "REQUIRED_FIELD_MISSING", r.FailedRows[1].Err.Code)
	assert.EqualValues(t, 2, r.Deleted, "counted from the results")

	var keys []string
	for _, o := range log.outs {
		if o.Kind == reverseetl.Written {
			keys = append(keys, o.Key)
			assert.True(t, o.Deleted)
		}
	}
	sort.Strings(keys)
	assert.Equal(t, []string{"K1", "K3"}, keys)
}
