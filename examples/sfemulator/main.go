// Command sfemulator serves the retl Salesforce emulator (package
// sink/salesforce/sftest) until interrupted, for demos and for testing
// syncs offline.
//
//	go run ./examples/sfemulator --listen 127.0.0.1:8383 --schema schema.yaml
//
// The first line on stdout is "sfemulator listening on URL"; use URL as both
// the login URL and the instance URL. Log in with demo@example.com / demo
// (client id and secret: retl / retl).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/retl-go/retl/sink/salesforce/sftest"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (host:port)")
	schema := flag.String("schema", "", "YAML schema file with extra objects and fields")
	jwtKey := flag.String("jwt-public-key", "", "PEM certificate or public key that signs JWT bearer assertions")
	ttl := flag.Duration("session-ttl", 2*time.Hour, "how long access tokens stay valid")
	jobDelay := flag.Duration("bulk-job-delay", 0, "delay before a Bulk API 2.0 job starts processing")
	recordDelay := flag.Duration("bulk-record-delay", 0, "delay per record processed by a Bulk API 2.0 job")
	flag.Parse()

	opts := []sftest.Option{sftest.WithAddr(*listen), sftest.WithSessionTTL(*ttl), sftest.WithBulkDelay(*jobDelay, *recordDelay)}
	if *schema != "" {
		opts = append(opts, sftest.WithSchemaFile(*schema))
	}
	if *jwtKey != "" {
		pem, err := os.ReadFile(*jwtKey)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sfemulator:", err)
			os.Exit(1)
		}
		opts = append(opts, sftest.WithJWTPublicKey(pem))
	}
	srv, err := sftest.Start(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sfemulator:", err)
		os.Exit(1)
	}
	fmt.Println("sfemulator listening on " + srv.URL())
	fmt.Fprintf(os.Stderr, "sfemulator: log in as %s / %s (client id %s, secret %s)\n",
		sftest.DefaultUsername, sftest.DefaultPassword, sftest.DefaultClientID, sftest.DefaultClientSecret)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	srv.Close()
}
