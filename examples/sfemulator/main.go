// Command sfemulator serves the retl Salesforce emulator (package
// sink/salesforce/sftest) until interrupted, for demos and for testing
// syncs offline.
//
//	go run ./examples/sfemulator --listen 127.0.0.1:8383 --schema schema.yaml
//
// The first line on stdout is "sfemulator listening on URL"; use URL as both
// the login URL and the instance URL. Log in with demo@example.com / demo
// (client id and secret: retl / retl) unless the schema file says otherwise.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/retl-go/retl/sink/salesforce/sftest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	var usage usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		// -h and --help asked for the usage run printed: a success.
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "sfemulator:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "sfemulator:", err)
		os.Exit(1)
	}
}

// usageError is a bad command line: exit 2, as flag parsing errors do.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

const usageHead = `usage: sfemulator [flags]

Serve the retl Salesforce emulator until interrupted. The first line on stdout is
"sfemulator listening on URL": use URL as both the login URL and the instance URL.
Log in with demo@example.com / demo (client id and secret: retl / retl) unless the
schema file says otherwise.

flags:
`

const usageTail = `
examples:
  go run ./examples/sfemulator --listen 127.0.0.1:8383
  go run ./examples/sfemulator --schema schema.yaml --jwt-public-key cert.pem
`

// run serves until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sfemulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (host:port)")
	schema := fs.String("schema", "", "YAML schema file with extra objects and fields")
	jwtKey := fs.String("jwt-public-key", "", "PEM certificate or public key that signs JWT bearer assertions")
	ttl := fs.Duration("session-ttl", 2*time.Hour, "how long access tokens stay valid")
	jobDelay := fs.Duration("bulk-job-delay", 0, "delay before a Bulk API 2.0 job starts processing")
	recordDelay := fs.Duration("bulk-record-delay", 0, "delay per record processed by a Bulk API 2.0 job")
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usageHead)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fmt.Fprint(stdout, usageTail)
		return err
	}
	if err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %v", fs.Args())}
	}

	opts := []sftest.Option{sftest.WithAddr(*listen), sftest.WithSessionTTL(*ttl), sftest.WithBulkDelay(*jobDelay, *recordDelay)}
	if *schema != "" {
		opts = append(opts, sftest.WithSchemaFile(*schema))
	}
	if *jwtKey != "" {
		pem, err := os.ReadFile(*jwtKey)
		if err != nil {
			return err
		}
		opts = append(opts, sftest.WithJWTPublicKey(pem))
	}
	srv, err := sftest.Start(opts...)
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintln(stdout, "sfemulator listening on "+srv.URL())
	fmt.Fprintf(stderr, "sfemulator: control API at %s/__sftest/ (see sink/salesforce/sftest/README.md)\n", srv.URL())
	<-ctx.Done()
	return nil
}
