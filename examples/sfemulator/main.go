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
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sfemulator:", err)
		os.Exit(1)
	}
}

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
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
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
