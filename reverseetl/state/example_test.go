package state_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/reverseetl/state"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	"github.com/retl-go/retl/source"
	memsource "github.com/retl-go/retl/source/memory"
)

// The warehouse state keeps what the destination accepted, so that a
// sync with change_detection sends only rows that changed since. Here it
// lives in SQLite; a project file's writeback section names the
// connection instead (see Register).
func Example() {
	dir, err := os.MkdirTemp("", "retl-state")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "state.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := state.New(db, state.SQLite, state.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()

	rows := [][]any{{"A-1", "Acme"}, {"A-2", "Globex"}, {"A-3", "Initech"}}
	reg := reverseetl.NewRegistry()
	reg.RegisterSource("rows", func(context.Context, reverseetl.BuildContext) (source.Source, error) {
		return memsource.New([]string{"ID", "NAME"}, rows), nil
	})
	reg.RegisterSink("crm", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) { return memory.New("Ext"), nil })
	s := &config.Sync{Name: "accounts", Key: "ID", Source: config.SourceSpec{Type: "rows"}, Destination: config.DestinationSpec{Type: "crm"},
		Mapping:         []*config.Mapping{{From: "ID", To: "Ext"}, {From: "NAME", To: "Name"}},
		ChangeDetection: &config.ChangeDetection{Key: "ID"}}
	p := &config.Project{Syncs: []*config.Sync{s}}

	for run := 1; run <= 2; run++ {
		if run == 2 {
			rows[1][1] = "Globex Corporation"
		}
		eng := reverseetl.New(reg, reverseetl.WithState(st), reverseetl.WithLogger(slog.New(slog.DiscardHandler)))
		rep, err := eng.Run(context.Background(), p, reverseetl.RunOptions{})
		if err != nil {
			fmt.Println(err)
			return
		}
		a := rep.Sync("accounts")
		fmt.Printf("run %d: %s, %d sent, %d unchanged\n", run, a.Status, a.Written(), a.Unchanged)
	}
	// Output:
	// run 1: succeeded, 3 sent, 0 unchanged
	// run 2: succeeded, 1 sent, 2 unchanged
}
