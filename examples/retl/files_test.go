package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// project lays out a project in dir: a SQLite warehouse of the accounts
// name(i) gives, the emulator at srv as crm, the extra project-file text,
// and one sync, accounts, upserting them with the destination settings in
// dest. It returns the configs directory.
func project(t *testing.T, dir string, srv *sftest.Server, n int, name func(i int) string, extra, dest string) string {
	t.Helper()
	warehouse := filepath.Join(dir, "warehouse.db")
	db, err := sql.Open("sqlite", warehouse)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec("create table accounts (account_id text, name text)")
	require.NoError(t, err)
	tx, err := db.Begin()
	require.NoError(t, err)
	for i := range n {
		_, err := tx.Exec("insert into accounts values (?, ?)", fmt.Sprintf("A-%05d", i), name(i))
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
	configs := filepath.Join(dir, "configs")
	require.NoError(t, os.MkdirAll(configs, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "retl.yaml"), fmt.Appendf(nil, `connections:
  warehouse:
    type: sql
    driver: sqlite
    dsn: %s
  crm:
    type: salesforce
    login_url: %s
    auth: password
    client_id: %s
    client_secret: %s
    username: %s
    password: %s
%s`, warehouse, srv.URL(), sftest.DefaultClientID, sftest.DefaultClientSecret, sftest.DefaultUsername, sftest.DefaultPassword, extra), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(configs, "accounts.yaml"), []byte(`name: accounts
key: ACCOUNT_ID
source:
  connection: warehouse
  query: select account_id, name from accounts
destination:
  connection: crm
  object: Account
  operation: upsert
  match_on: External_Id__c
`+dest+`
mapping:
  - {from: ACCOUNT_ID, to: External_Id__c}
  - {from: NAME, to: Name}
on_failure: {max_failed_rows: 1000}
`), 0o644))
	return configs
}

func accountName(i int) string { return fmt.Sprintf("Account %d", i) }

// An unusable --report or reports.dir is found before anything is
// written: exit 2 and no record in Salesforce, so a retry cannot
// duplicate inserts.
func TestUnusableReportPathsStopTheRunBeforeAnyWrite(t *testing.T) {
	for name, c := range map[string]struct {
		report func(dir string) string
		extra  func(dir string) string
		want   string
	}{
		"report in a missing directory": {report: func(dir string) string { return filepath.Join(dir, "nope", "run.json") }, want: "report "},
		"report is a symlink": {report: func(dir string) string {
			link := filepath.Join(dir, "run.json")
			require.NoError(t, os.Symlink(filepath.Join(dir, "retl.yaml"), link))
			return link
		}, want: "a symlink"},
		"reports.dir is a file": {extra: func(dir string) string {
			return "reports: {dir: " + filepath.Join(dir, "retl.yaml") + "}\n"
		}, want: "failed rows files:"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := sftest.NewServer()
			defer srv.Close()
			dir := t.TempDir()
			extra := ""
			if c.extra != nil {
				extra = c.extra(dir)
			}
			configs := project(t, dir, srv, 20, accountName, extra, "  api: rest")
			args := []string{"run", "--configs", configs}
			if c.report != nil {
				args = append(args, "--report", c.report(dir))
			}
			r := retl(t, args...)
			assert.Equal(t, exitInvalid, r.code, r.stdout+r.stderr)
			assert.Contains(t, r.stderr, c.want)
			assert.Empty(t, liveAccounts(srv), "nothing reached Salesforce")
		})
	}
}

// With the disk full (here: the process's file size limit), the previous
// report stays whole, no short failed-rows file is left, the summary says
// the rows were not written, and the exit code is 5.
func TestFullDiskKeepsThePreviousReportAndExits5(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ulimit -f")
	}
	bin := buildRetl(t)
	srv := sftest.NewServer()
	defer srv.Close()
	dir := t.TempDir()
	reports := filepath.Join(dir, "reports")
	require.NoError(t, os.Mkdir(reports, 0o700))
	long := strings.Repeat("x", 300)
	// Every name is too long for Account.Name: 300 failed rows, within
	// on_failure.
	configs := project(t, dir, srv, 300, func(i int) string { return fmt.Sprintf("%s %d", long, i) },
		"reports: {dir: "+reports+"}\n", "  api: rest")
	report := filepath.Join(dir, "run.json")
	previous := bytes.Repeat([]byte(" "), 8<<10)
	previous = append([]byte(`{"run_id": "previous", "syncs": []}`), previous...)
	require.NoError(t, os.WriteFile(report, previous, 0o600))

	var stdout, stderr bytes.Buffer
	// 16 blocks: the probes pass, the 300 rows of 300 characters do not fit.
	cmd := exec.Command("sh", "-c", `ulimit -f 16 && exec "$0" "$@"`, bin, "run", "--configs", configs, "--report", report)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "RETL_CONFIGS=", "RETL_PROJECT=")
	err := cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "stderr:\n%s", stderr.String())
	assert.Equal(t, exitFiles, exit.ExitCode(), "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())

	after, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.Equal(t, previous, after, "the previous report is intact")
	assert.Contains(t, stderr.String(), "the previous file, if any, is unchanged")
	assert.Contains(t, stdout.String(), "accounts: failed rows NOT written: failed rows file:")
	assert.NotContains(t, stdout.String(), "failed rows written to")
	left, err := filepath.Glob(filepath.Join(reports, "*", "*"))
	require.NoError(t, err)
	assert.Empty(t, left, "no short file, no temporary file")
	tmp, err := filepath.Glob(filepath.Join(dir, ".run.json.tmp-*"))
	require.NoError(t, err)
	assert.Empty(t, tmp)
	t.Logf("exit %d; report kept (%d bytes); failed-rows file not written; summary:\n%s", exit.ExitCode(), len(after), stdout.String())
}
