package state_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/state"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	"github.com/retl-go/retl/source"
	memsource "github.com/retl-go/retl/source/memory"
)

// A Runner on a registry with state.Register writes the run back to the
// warehouse the writeback section names; a plan writes nothing back.
func TestRegisterGivesTheRunnerTheWarehouse(t *testing.T) {
	dir := t.TempDir()
	reg := reverseetl.NewRegistry()
	state.Register(reg)
	reg.RegisterSource("rows", func(context.Context, reverseetl.BuildContext) (source.Source, error) {
		return memsource.New([]string{"ID", "NAME"}, [][]any{{"A-1", "Acme"}, {"A-2", "Globex"}}), nil
	})
	reg.RegisterSink("crm", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) { return memory.New("Ext"), nil })
	p, err := config.Parse(context.Background(), "retl.yaml",
		[]byte(fmt.Sprintf("connections: {wh: {type: sql, dsn: %q}}\nwriteback: {connection: wh}\n", filepath.Join(dir, "s.db"))), nil)
	require.NoError(t, err)
	p.Syncs = []*config.Sync{{Name: "accounts", Key: "ID", Source: config.SourceSpec{Type: "rows"}, Destination: config.DestinationSpec{Type: "crm"},
		Mapping:         []*config.Mapping{{From: "ID", To: "Ext"}, {From: "NAME", To: "Name"}},
		ChangeDetection: &config.ChangeDetection{Key: "ID"}}}
	r := &reverseetl.Runner{Registry: reg, Handler: slog.DiscardHandler}

	for run := 1; run <= 2; run++ {
		res, err := r.Run(context.Background(), p, reverseetl.RunOptions{})
		require.NoError(t, err)
		assert.False(t, res.Report.WritebackFailed())
		assert.EqualValues(t, 2*(run-1), res.Report.Sync("accounts").Unchanged, "the second run reads the state the first saved")
	}
	// A plan opens the state read-only and writes no run back.
	_, err = r.Run(context.Background(), p, reverseetl.RunOptions{Plan: true})
	require.NoError(t, err)

	st, err := state.Open(p)
	require.NoError(t, err)
	defer st.Close()
	assert.Equal(t, 2, count(t, st.DB(), "SELECT COUNT(*) FROM RETL_RUNS"))

	p.Writeback.Connection = "gone"
	_, err = r.Run(context.Background(), p, reverseetl.RunOptions{})
	assert.EqualError(t, err, `writeback: no connection named "gone"`)
}
