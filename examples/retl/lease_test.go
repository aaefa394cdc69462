package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/internal/standin"
	"github.com/retl-go/retl/sink/salesforce/sftest"
)

// proc is the binary running as a process, its JSON log lines readable
// as they come.
type proc struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	mu     sync.Mutex
	lines  []map[string]any
	raw    strings.Builder
	added  chan struct{}
	done   chan struct{}
	code   int
}

func startRetl(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), added: make(chan struct{}, 1), done: make(chan struct{})}
	p.cmd.Stdout = &p.stdout
	p.cmd.Env = append(os.Environ(), "RETL_CONFIGS=", "RETL_PROJECT=")
	stderr, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			_ = json.Unmarshal(sc.Bytes(), &m)
			p.mu.Lock()
			p.lines = append(p.lines, m)
			p.raw.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.added <- struct{}{}:
			default:
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		err := p.cmd.Wait()
		p.code = 0
		if err != nil {
			var exit *exec.ExitError
			if assert.ErrorAs(t, err, &exit) {
				p.code = exit.ExitCode()
			}
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitFor returns the first log record with message msg, waiting for it;
// it fails the test if the process ends without one.
func (p *proc) waitFor(t *testing.T, msg string) map[string]any {
	t.Helper()
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if l != nil && l["msg"] == msg {
				p.mu.Unlock()
				return l
			}
		}
		p.mu.Unlock()
		select {
		case <-p.added:
		case <-p.done:
			p.mu.Lock()
			defer p.mu.Unlock()
			for _, l := range p.lines {
				if l != nil && l["msg"] == msg {
					return l
				}
			}
			t.Fatalf("the process ended (exit %d) without logging %q\nstderr:\n%s\nstdout:\n%s", p.code, msg, p.raw.String(), p.stdout.String())
		}
	}
}

func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("the process did not end\nstderr:\n%s", p.stderr())
	}
	return p.code
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

// leaseState is where a test's warehouse state lives, and how the test
// reaches its LEASES table.
type leaseState struct {
	name   string
	extra  string // the project file's connection and writeback
	db     *sql.DB
	leases string
	stamp  func(time.Time) string
}

func sqliteLeaseState(t *testing.T, dir string) *leaseState {
	path := filepath.Join(dir, "warehouse.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(30000)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return &leaseState{name: "sqlite", extra: "writeback: {connection: warehouse}\n", db: db, leases: "RETL_LEASES",
		stamp: func(at time.Time) string { return at.UTC().Format("2006-01-02 15:04:05.000000") }}
}

func fakesnowLeaseState(t *testing.T) *leaseState {
	fs := standin.Fakesnow(t)
	setup, err := sql.Open("snowflake", fs.DSN("", ""))
	require.NoError(t, err)
	_, err = setup.Exec("CREATE DATABASE D")
	require.NoError(t, err)
	require.NoError(t, setup.Close())
	db, err := sql.Open("snowflake", fs.DSN("D", "PUBLIC"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return &leaseState{name: "fakesnow", db: db, leases: "RETL.LEASES",
		extra: fmt.Sprintf("  state: {type: snowflake, account: fakesnow, user: fake, password: snow-password, host: %s, port: %d, protocol: http, insecure_mode: true, database: D, schema: PUBLIC}\nwriteback: {connection: state}\n", fs.Host, fs.Port),
		stamp: func(at time.Time) string { return at.UTC().Format("2006-01-02 15:04:05") }}
}

func (s *leaseState) hold(t *testing.T, owner string, expires time.Time) {
	t.Helper()
	_, err := s.db.Exec("DELETE FROM " + s.leases)
	require.NoError(t, err)
	_, err = s.db.Exec("INSERT INTO "+s.leases+" (SYNC, OWNER_RUN_ID, HOST, RENEWED_AT, EXPIRES_AT) VALUES ('accounts', ?, 'ci-runner-3 (pid 77)', ?, ?)",
		owner, s.stamp(expires.Add(-time.Minute)), s.stamp(expires))
	require.NoError(t, err)
}

func (s *leaseState) count(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, s.db.QueryRow("SELECT COUNT(*) FROM "+s.leases).Scan(&n))
	return n
}

// TestOverlappingRunsTakeTurns runs `retl run` of one insert sync twice at
// once, as separate processes against the emulator, with the state in
// SQLite and in fakesnow: the second run skips the sync (status locked,
// exit 4, the holder named) and Salesforce holds each row once. A lease
// whose holder stopped renewing it (expired) is taken over, and
// --wait-lock waits for a held one.
func TestOverlappingRunsTakeTurns(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	bin := buildRetl(t)
	const rows = 2000
	for _, kind := range []string{"sqlite", "fakesnow"} {
		t.Run(kind, func(t *testing.T) {
			srv := sftest.NewServer()
			defer srv.Close()
			dir := t.TempDir()
			st := map[string]func() *leaseState{"sqlite": func() *leaseState { return sqliteLeaseState(t, dir) }, "fakesnow": func() *leaseState { return fakesnowLeaseState(t) }}[kind]()
			configs := project(t, dir, srv, rows, accountName, "", "  operation: insert")
			// The insert sync: the shared helper upserts; this one inserts.
			path := filepath.Join(configs, "accounts.yaml")
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			b = bytes.Replace(b, []byte("  operation: upsert\n  match_on: External_Id__c\n  operation: insert"), []byte("  operation: insert"), 1)
			// The later runs insert the rows again, which the unique
			// external id refuses row by row; they still run to the end.
			b = bytes.Replace(b, []byte("max_failed_rows: 1000"), []byte("max_failed_rows: 10000"), 1)
			require.NoError(t, os.WriteFile(path, b, 0o644))
			proj := filepath.Join(dir, "retl.yaml")
			pb, err := os.ReadFile(proj)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(proj, append(pb, st.extra...), 0o600))
			args := []string{"run", "--configs", configs, "--log-format", "json"}

			// The first run holds the lease; it is stopped (SIGSTOP) while
			// the second runs, so that the two overlap whatever the timing.
			first := startRetl(t, bin, args...)
			taken := first.waitFor(t, "sync lease taken")
			require.NoError(t, first.cmd.Process.Signal(syscall.SIGSTOP))
			second := startRetl(t, bin, args...)
			code := second.wait(t)
			require.NoError(t, first.cmd.Process.Signal(syscall.SIGCONT))
			assert.Equal(t, exitLocked, code, "stdout:\n%s\nstderr:\n%s", second.stdout.String(), second.stderr())
			assert.Regexp(t, `(?m)^accounts\s+locked\s+0\s+0\s`, second.stdout.String())
			assert.Contains(t, second.stdout.String(), fmt.Sprintf(`sync "accounts" is being run by run %s on `, taken["run_id"]))
			assert.Equal(t, exitOK, first.wait(t), first.stderr())
			assert.Len(t, liveAccounts(srv), rows, "each row inserted once")
			assert.Zero(t, st.count(t), "the lease is released")

			// A crashed run's lease, expired: taken over.
			st.hold(t, "crashed-run", time.Now().Add(-time.Minute))
			r := startRetl(t, bin, append(args, "--only", "accounts")...)
			assert.Equal(t, exitOK, r.wait(t), r.stderr()+r.stdout.String())
			assert.Zero(t, st.count(t))

			// A held lease: --wait-lock waits, and runs once it is free.
			st.hold(t, "other-run", time.Now().Add(time.Hour))
			waiting := startRetl(t, bin, append(args, "--wait-lock", "10m")...)
			w := waiting.waitFor(t, "waiting for the sync's lease")
			assert.Equal(t, "other-run", w["holder_run_id"])
			_, err = st.db.Exec("DELETE FROM " + st.leases)
			require.NoError(t, err)
			assert.Equal(t, exitOK, waiting.wait(t), waiting.stderr())

			// A wait that ends with the lease still held skips the sync.
			st.hold(t, "other-run", time.Now().Add(time.Hour))
			short := startRetl(t, bin, append(args, "--wait-lock", "1ms")...)
			assert.Equal(t, exitLocked, short.wait(t), short.stderr())
			assert.Contains(t, short.stdout.String(), "this run skipped it after waiting 1ms")
			t.Logf("%s: second run exit %d while run %s held the lease; %d records for %d rows", kind, code, taken["run_id"], rows, rows)
		})
	}
}

// Without a warehouse state nothing stops two runs at once: retl says so
// when it starts.
func TestNoStateWarnsThatRunsMustBeSerialised(t *testing.T) {
	srv := sftest.NewServer()
	defer srv.Close()
	dir := t.TempDir()
	configs := project(t, dir, srv, 3, accountName, "", "  api: rest")
	r := retl(t, "run", "--configs", configs)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stderr, "nothing stops two runs of a sync at once; let the scheduler run one at a time (GitLab resource_group)")
	r = retl(t, "plan", "--configs", configs)
	assert.NotContains(t, r.stderr, "resource_group", "a plan writes nothing")
}
