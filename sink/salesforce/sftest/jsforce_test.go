package sftest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestJSForce runs jsforce (the Node.js Salesforce client) against the
// emulator. jsforce comes from jsforcecheck/package-lock.json; the test is
// skipped locally when it is not installed and fails in CI.
func TestJSForce(t *testing.T) {
	dir, err := filepath.Abs("jsforcecheck")
	if err != nil {
		t.Fatal(err)
	}
	install := "make standins (or: npm ci --prefix sink/salesforce/sftest/jsforcecheck)"
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jsforce")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("jsforce is not installed in %s; run %s", dir, install)
		}
		t.Skipf("jsforce is not installed; run %s", install)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not on PATH: install Node.js 20")
		}
		t.Skip("node is not on PATH: install Node.js 20")
	}
	srv := NewServer(WithQueryBatchSize(200))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "check.mjs", srv.URL())
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("jsforce check failed: %v", err)
	}
}
