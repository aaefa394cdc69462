package sftest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestGoSalesforce runs the gosfcheck module's tests: go-salesforce v3 (a
// Go Salesforce client) against the emulator. The module is separate so
// that users of this one never get go-salesforce; its dependencies come
// from the Go module proxy. Locally the test is skipped when they cannot
// be fetched; with CI=true that fails.
func TestGoSalesforce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs another module")
	}
	dir, err := filepath.Abs("gosfcheck")
	if err != nil {
		t.Fatal(err)
	}
	ci := os.Getenv("CI") == "true"
	goBin, err := exec.LookPath("go")
	if err != nil {
		if ci {
			t.Fatal("go is not on PATH")
		}
		t.Skip("go is not on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, goBin, args...)
		cmd.Dir = dir
		// The module's own go.sum pins its dependencies; nothing outside
		// it may change them.
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off")
		return cmd.CombinedOutput()
	}
	if out, err := run("mod", "download"); err != nil {
		if ci {
			t.Fatalf("fetching go-salesforce for gosfcheck: %v\n%s", err, out)
		}
		t.Skipf("go-salesforce cannot be fetched (%v): %s", err, out)
	}
	args := []string{"test", "-count=1"}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := run(append(args, "./...")...)
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("go-salesforce check failed: %v", err)
	}
}
