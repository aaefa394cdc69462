package reverseetl_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	memsource "github.com/retl-go/retl/source/memory"
)

// interceptor replaces a sync's rows and sees its writes.
type interceptor struct {
	partsErr error
	rows     [][]any
	plans    []bool
	seen     int
}

func (i *interceptor) Parts(ctx context.Context, s *config.Sync, parts reverseetl.Parts) (reverseetl.Parts, error) {
	if i.partsErr != nil {
		return parts, i.partsErr
	}
	parts.Source = memsource.New([]string{"ID", "NAME"}, i.rows)
	return parts, nil
}

func (i *interceptor) Write(s *config.Sync, k sink.Sink, plan bool, write reverseetl.WriteFunc) reverseetl.WriteFunc {
	i.plans = append(i.plans, plan)
	return func(ctx context.Context, recs []sink.Record) ([]sink.Result, error) {
		i.seen += len(recs)
		return write(ctx, recs)
	}
}

func TestInterceptorReplacesRowsAndSeesWrites(t *testing.T) {
	f := newFixture()
	query := memsource.New([]string{"ID", "NAME"}, rows(5))
	f.sources["s"] = query
	snk := memory.New("Ext")
	f.sinks["s"] = snk
	in := &interceptor{rows: rows(2)}
	rep, err := f.engine(reverseetl.WithInterceptor(in)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{spec("s")}}, reverseetl.RunOptions{})
	require.NoError(t, err)
	r := rep.Sync("s")
	require.Equal(t, reverseetl.Succeeded, r.Status, r.Error)
	assert.EqualValues(t, 2, r.Read, "the interceptor's rows, not the query's")
	assert.Len(t, snk.Rows(), 2)
	assert.Equal(t, 2, in.seen)
	assert.Equal(t, []bool{false}, in.plans)
}

func TestInterceptorPartsErrorFailsTheSync(t *testing.T) {
	f := newFixture()
	query := memsource.New([]string{"ID", "NAME"}, rows(5))
	f.sources["s"] = query
	snk := memory.New("Ext")
	f.sinks["s"] = snk
	in := &interceptor{partsErr: errors.New("cannot be sealed")}
	rep, err := f.engine(reverseetl.WithInterceptor(in)).Run(context.Background(), &config.Project{Syncs: []*config.Sync{spec("s")}}, reverseetl.RunOptions{Plan: true})
	require.NoError(t, err)
	r := rep.Sync("s")
	assert.Equal(t, reverseetl.Failed, r.Status)
	assert.Contains(t, r.Error, "cannot be sealed")
	assert.True(t, query.Closed(), "the parts built are closed")
	assert.True(t, snk.Closed())
	assert.Zero(t, in.seen)
}
