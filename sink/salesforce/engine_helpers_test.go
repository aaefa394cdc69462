package salesforce

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/salesforce/sftest"
	"github.com/retl-go/retl/source"
	"github.com/retl-go/retl/source/memory"
)

// table is a source's rows for one sync.
type table struct {
	cols []string
	rows [][]any
}

// engineRun runs sync files through the Engine against srv: each sync
// reads the rows of tables[its name] (source type rows), and writes
// through the salesforce sink on connection crm, with lock retries a
// millisecond apart.
type engineRun struct {
	srv    *sftest.Server
	tables map[string]table
	opts   []reverseetl.Option
	// instance, when set, is the instance_url API calls go to.
	instance string
}

func (r *engineRun) project() string {
	p := fmt.Sprintf("connections:\n  crm:\n    type: salesforce\n    login_url: %s\n    auth: password\n"+
		"    client_id: retl\n    client_secret: retl\n    username: demo@example.com\n    password: demo\n", r.srv.URL())
	if r.instance != "" {
		p += "    instance_url: " + r.instance + "\n"
	}
	return p
}

func (r *engineRun) run(t *testing.T, syncs map[string]string, ro reverseetl.RunOptions) *reverseetl.Report {
	t.Helper()
	reg := reverseetl.NewRegistry()
	reg.RegisterSink("salesforce", func(ctx context.Context, b reverseetl.BuildContext) (sink.Sink, error) {
		k, err := New(ctx, b)
		if s, ok := k.(*sfSink); ok {
			s.dest.Options.lockBackoff = time.Millisecond
		}
		return k, err
	})
	reg.RegisterSource("rows", func(_ context.Context, b reverseetl.BuildContext) (source.Source, error) {
		tb, ok := r.tables[b.Sync.Name]
		if !ok {
			return nil, fmt.Errorf("no rows for %s", b.Sync.Name)
		}
		return &memory.Source{Columns: tb.cols, Rows: tb.rows, BatchSize: 500}, nil
	})
	files := map[string][]byte{}
	for name, y := range syncs {
		files[name] = []byte(y)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, err := config.Parse(ctx, "retl.yaml", []byte(r.project()), files)
	require.NoError(t, err)
	opts := append([]reverseetl.Option{reverseetl.WithLogger(quiet)}, r.opts...)
	rep, err := reverseetl.New(reg, opts...).Run(ctx, p, ro)
	require.NoError(t, err)
	for _, s := range rep.Syncs {
		require.True(t, s.Accounted(), "every row of %s has one outcome: %+v", s.Name, s)
	}
	return rep
}
