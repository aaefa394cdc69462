package reverseetl_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
	"github.com/retl-go/retl/sink/memory"
	"github.com/retl-go/retl/source"
	memsource "github.com/retl-go/retl/source/memory"
)

// exampleRegistry registers a source of three rows, one of which has no
// name, and a sink that rejects records without one.
func exampleRegistry() *reverseetl.Registry {
	reg := reverseetl.NewRegistry()
	reg.RegisterSource("rows", func(context.Context, reverseetl.BuildContext) (source.Source, error) {
		return memsource.New([]string{"ID", "NAME"}, [][]any{{"A-1", "Acme"}, {"A-2", ""}, {"A-3", "Initech"}}), nil
	})
	// A factory builds a new sink each time: validation builds every sync
	// and closes what it built.
	reg.RegisterSink("crm", func(context.Context, reverseetl.BuildContext) (sink.Sink, error) {
		dest := memory.New("Ext")
		dest.Reject = rejectNameless
		return dest, nil
	})
	return reg
}

// exampleProject is a project of one sync, built in code rather than
// loaded from files with config.Load.
func exampleProject() *config.Project {
	limit := 1
	s := &config.Sync{Name: "accounts", Key: "ID", Source: config.SourceSpec{Type: "rows"}, Destination: config.DestinationSpec{Type: "crm"},
		Mapping: []*config.Mapping{{From: "ID", To: "Ext"}, {From: "NAME", To: "Name"}}}
	s.OnFailure.MaxFailedRows = &limit
	return &config.Project{Syncs: []*config.Sync{s}, Redactor: &config.Redactor{}}
}

func rejectNameless(r *sink.Record) *sink.RecordError {
	if v, ok := r.Get("Name"); !ok || v.S == "" {
		return &sink.RecordError{Code: "REQUIRED_FIELD_MISSING", Message: "Name is required", Fields: []string{"Name"}}
	}
	return nil
}

// The Engine runs a project's syncs and gives every row read one outcome.
func ExampleEngine() {
	eng := reverseetl.New(exampleRegistry(), reverseetl.WithLogger(slog.New(slog.DiscardHandler)))
	rep, err := eng.Run(context.Background(), exampleProject(), reverseetl.RunOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range rep.Syncs {
		fmt.Printf("%s: %s, %d read, %d written, %d failed\n", s.Name, s.Status, s.Read, s.Written(), s.Failed)
		for _, o := range s.FailedRows {
			fmt.Printf("  %s: %s %s\n", o.Key, o.Err.Code, o.Err.Message)
		}
	}
	// Output:
	// accounts: succeeded, 3 read, 2 written, 1 failed
	//   A-2: REQUIRED_FIELD_MISSING Name is required
}

// A Runner does what `retl run` does: it checks the report file before the
// first write, writes the report, and logs only through the project's
// Redactor, whatever handler it is given.
func ExampleRunner() {
	dir, err := os.MkdirTemp("", "retl-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	p := exampleProject()
	p.Redactor.Add("hunter2")
	r := &reverseetl.Runner{
		Registry: exampleRegistry(),
		// Errors only, without times, so that the output is the same each run.
		Handler: slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelError,
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			}}),
		ReportFile: dir + "/report.json",
	}
	res, err := r.Run(context.Background(), p, reverseetl.RunOptions{})
	if err != nil {
		fmt.Println(err) // nothing was written anywhere
		return
	}
	s := res.Report.Sync("accounts")
	fmt.Printf("%s: %s, %d written\n", s.Name, s.Status, s.Written())
	if _, err := os.Stat(r.ReportFile); err == nil {
		fmt.Println("report written")
	}
	r.Logger(p).Error("login failed", "password", "hunter2")
	// Output:
	// accounts: succeeded, 2 written
	// report written
	// level=ERROR msg="login failed" password=[REDACTED]
}
