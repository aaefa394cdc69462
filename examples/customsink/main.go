// Command customsink runs sync files whose destination is another team's
// sink: the webhook destination of package webhook, registered beside
// retl's SQL source in a few lines. It reads configs/ (and retl.yaml beside
// it), runs every sync, and prints the summary.
//
//	PEOPLE_DSN=file:people.db PEOPLE_WEBHOOK_URL=https://hooks.example.com/people \
//	    go run ./examples/customsink --configs examples/customsink/configs
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/examples/customsink/webhook"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/source/sqlsource"

	_ "modernc.org/sqlite" // the program chooses the database drivers
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run returns 0 when every sync succeeded, 1 when one failed, 2 when the
// files are not valid.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("customsink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configs := fs.String("configs", "configs", "the directory of sync files")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	reg := reverseetl.NewRegistry()
	sqlsource.Register(reg)
	webhook.Register(reg)

	p, err := config.Load(ctx, *configs, config.WithCheck(reg.Check))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	// The Runner does what `retl run` does: checks before the first write,
	// failed-rows files, a logger that never prints a secret.
	runner := &reverseetl.Runner{Registry: reg, Handler: slog.NewTextHandler(stderr, nil)}
	res, err := runner.Run(ctx, p, reverseetl.RunOptions{})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := reverseetl.WriteSummary(stdout, res.Report, 20); err != nil {
		fmt.Fprintln(stderr, err)
	}
	if !res.Report.OK() {
		return 1
	}
	return 0
}
