package standin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecide(t *testing.T) {
	err := errors.New("fakesnow not installed: run `make standins`")
	for _, tc := range []struct {
		ci    string
		fatal bool
	}{
		{"", false},
		{"false", false},
		{"0", false},
		{"yes", false}, // not a boolean: treated as unset
		{"true", true},
		{"TRUE", true},
		{"1", true},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			fatal, msg := decide(tc.ci, err)
			assert.Equal(t, tc.fatal, fatal)
			assert.True(t, strings.HasPrefix(msg, err.Error()), msg)
			assert.Equal(t, tc.fatal, strings.Contains(msg, "CI=true"), msg)
		})
	}
}

func TestNotInstalledMessageNamesTheCommand(t *testing.T) {
	cause := os.ErrNotExist
	err := &notInstalled{name: "fakesnow", hint: installHint, err: cause}
	assert.Equal(t,
		"fakesnow not installed: run `make standins` (or scripts/standins) at the repository root (file does not exist)",
		err.Error())
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// recorder is a testing.TB that records Fatal and Skip instead of acting on
// them, so the harness's decisions can be checked.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatal(args ...any) {
	r.fatal = fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) { r.Fatal(fmt.Sprintf(format, args...)) }
func (r *recorder) Skip(args ...any) {
	r.skip = fmt.Sprint(args...)
	runtime.Goexit()
}

// record runs fn on its own goroutine, as testing does, so Fatal and Skip
// can end it.
func record(t *testing.T, fn func(testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

func TestUnavailable(t *testing.T) {
	t.Run("skips outside CI", func(t *testing.T) {
		t.Setenv("CI", "")
		r := record(t, func(tb testing.TB) { Unavailable(tb, "jsforce not installed: %s", installHint) })
		assert.Empty(t, r.fatal)
		assert.Contains(t, r.skip, "jsforce not installed: run `make standins`")
	})
	t.Run("fails under CI", func(t *testing.T) {
		t.Setenv("CI", "true")
		r := record(t, func(tb testing.TB) { Unavailable(tb, "jsforce not installed") })
		assert.Empty(t, r.skip)
		assert.Contains(t, r.fatal, "jsforce not installed")
	})
}

func TestRunMissingBinary(t *testing.T) {
	root := t.TempDir()
	t.Setenv("CI", "")
	r := record(t, func(tb testing.TB) { runIn(tb, root, "fakesnow", "fakesnow", nil) })
	assert.Contains(t, r.skip, "fakesnow not installed: run `make standins` (or scripts/standins)")
	assert.Contains(t, r.skip, filepath.Join(root, ".venv", "bin", "fakesnow"))

	t.Setenv("CI", "true")
	r = record(t, func(tb testing.TB) { runIn(tb, root, "moto", "moto_server", nil) })
	assert.Contains(t, r.fatal, "moto not installed: run `make standins`")
}

func TestRunFailedStart(t *testing.T) {
	root := t.TempDir()
	writeScript(t, filepath.Join(root, ".venv", "bin", "fakesnow"), "echo 'ImportError: no converter' >&2; exit 1")
	r := record(t, func(tb testing.TB) { runIn(tb, root, "fakesnow", "fakesnow", noArgs) })
	assert.Contains(t, r.fatal, "fakesnow exited before answering")
	assert.Contains(t, r.fatal, "ImportError: no converter")
}

func TestRunRootError(t *testing.T) {
	r := record(t, func(tb testing.TB) {
		runAt(tb, func() (string, error) { return "", errors.New("no root") }, "x", "x", noArgs)
	})
	assert.Equal(t, "no root", r.fatal)
}

func TestRunStartsAndStops(t *testing.T) {
	root := t.TempDir()
	writeScript(t, filepath.Join(root, ".venv", "bin", "srv"), `exec python3 -m http.server --bind 127.0.0.1 "$1"`)
	var s *server
	t.Run("server", func(t *testing.T) {
		s = runIn(t, root, "srv", "srv", func(port int) []string { return []string{strconv.Itoa(port)} })
		assert.True(t, accepts(fmt.Sprintf("127.0.0.1:%d", s.port)))
	})
	require.NotNil(t, s)
	assert.True(t, s.done(), "the subtest's cleanup stops the server")
}

func TestFindRoot(t *testing.T) {
	dir := t.TempDir()
	deep := filepath.Join(dir, "a", "b")
	require.NoError(t, os.MkdirAll(deep, 0o755))

	_, err := findRoot(deep)
	assert.ErrorContains(t, err, "no go.mod in "+deep)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644))
	got, err := findRoot(deep)
	require.NoError(t, err)
	assert.Equal(t, dir, got)

	root, err := Root()
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(root, "internal", "standin", "doc.go"))
}

func TestFindRootStatError(t *testing.T) {
	// A path through a regular file fails with ENOTDIR, not "not found".
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err := findRoot(filepath.Join(file, "in"))
	assert.ErrorContains(t, err, "looking for go.mod")
}

func TestVenvBinary(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, ".venv", "bin")
	require.NoError(t, os.MkdirAll(filepath.Join(bin, "dir"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "plain"), nil, 0o644))
	writeScript(t, filepath.Join(bin, "ok"), "true")

	_, err := venvBinary(root, "absent")
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = venvBinary(root, "plain")
	assert.ErrorContains(t, err, "not an executable file")
	_, err = venvBinary(root, "dir")
	assert.ErrorContains(t, err, "not an executable file")
	got, err := venvBinary(root, "ok")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(bin, "ok"), got)
}

func TestCheckNode(t *testing.T) {
	for _, tc := range []struct {
		in  string
		err string
	}{
		{"v20.20.2\n", ""},
		{"v22.1.0", ""},
		{"v18.19.1\n", "node v18.19.1 is older than 20"},
		{"20.1.0", "unrecognised node version"},
		{"", "unrecognised node version"},
		{"v99999999999999999999.0.0", "unrecognised node version"},
	} {
		err := checkNode(tc.in)
		if tc.err == "" {
			assert.NoError(t, err, tc.in)
		} else {
			assert.ErrorContains(t, err, tc.err, tc.in)
		}
	}
}

func TestNodeFromPath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CI", "")

	t.Setenv("PATH", dir)
	r := record(t, func(tb testing.TB) { Node(tb) })
	assert.Contains(t, r.skip, "node not installed: install Node.js 20 or newer")

	writeScript(t, filepath.Join(dir, "node"), "echo v18.0.0")
	r = record(t, func(tb testing.TB) { Node(tb) })
	assert.Contains(t, r.skip, "node 20 or newer not installed")
	assert.Contains(t, r.skip, "node v18.0.0 is older than 20")

	writeScript(t, filepath.Join(dir, "node"), "exit 3")
	r = record(t, func(tb testing.TB) { Node(tb) })
	assert.Contains(t, r.fatal, "--version: exit status 3")

	writeScript(t, filepath.Join(dir, "node"), "echo v20.0.0")
	var got string
	r = record(t, func(tb testing.TB) { got = Node(tb) })
	assert.Empty(t, r.fatal+r.skip)
	assert.Equal(t, filepath.Join(dir, "node"), got)
}

func noArgs(int) []string { return nil }

// writeScript writes an executable shell script.
func writeScript(t *testing.T, path, body string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
}

// shortTimes shrinks the start and stop bounds for one test.
func shortTimes(t *testing.T, start, grace time.Duration) {
	oldStart, oldGrace := startTimeout, stopGrace
	startTimeout, stopGrace = start, grace
	t.Cleanup(func() { startTimeout, stopGrace = oldStart, oldGrace })
}

func TestStartServerExitsEarly(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "srv")
	writeScript(t, bin, "echo starting; echo 'boom: bad config' >&2; exit 2")
	_, err := startServer(context.Background(), serverSpec{name: "srv", bin: bin, args: noArgs})
	require.Error(t, err)
	assert.ErrorContains(t, err, "srv exited before answering")
	assert.ErrorContains(t, err, "exit status 2")
	assert.ErrorContains(t, err, "boom: bad config")
	assert.NotErrorIs(t, err, errPortTaken, "a plain failure is not retried")
}

func TestStartServerRetriesTakenPort(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	bin := filepath.Join(dir, "srv")
	writeScript(t, bin, fmt.Sprintf("echo x >> %s; echo 'OSError: [Errno 98] address already in use' >&2; exit 1", count))
	_, err := startServer(context.Background(), serverSpec{name: "srv", bin: bin, args: noArgs})
	assert.ErrorIs(t, err, errPortTaken)
	runs, rerr := os.ReadFile(count)
	require.NoError(t, rerr)
	assert.Equal(t, startAttempts, strings.Count(string(runs), "x"))
}

func TestStartServerTimesOut(t *testing.T) {
	shortTimes(t, 300*time.Millisecond, time.Second)
	bin := filepath.Join(t.TempDir(), "srv")
	writeScript(t, bin, "echo 'loading models'; exec sleep 30")
	began := time.Now()
	_, err := startServer(context.Background(), serverSpec{name: "srv", bin: bin, args: noArgs})
	assert.ErrorContains(t, err, "srv did not answer on port")
	assert.ErrorContains(t, err, "within 300ms")
	assert.ErrorContains(t, err, "loading models")
	assert.Less(t, time.Since(began), 5*time.Second, "the sleeping server was stopped, not waited for")
}

func TestStartServerBadBinary(t *testing.T) {
	_, err := startServer(context.Background(), serverSpec{name: "srv", bin: filepath.Join(t.TempDir(), "absent"), args: noArgs})
	assert.ErrorContains(t, err, "srv: start ")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestStopKillsServerIgnoringTerm(t *testing.T) {
	shortTimes(t, 10*time.Second, 200*time.Millisecond)
	bin := filepath.Join(t.TempDir(), "srv")
	// The shell ignores SIGTERM and so does the server it runs.
	writeScript(t, bin, `trap '' TERM; python3 -c 'import signal,http.server as h; signal.signal(signal.SIGTERM, signal.SIG_IGN); h.HTTPServer(("127.0.0.1", int(__import__("sys").argv[1])), h.SimpleHTTPRequestHandler).serve_forever()' "$1"`)
	s, err := startServer(context.Background(), serverSpec{name: "srv", bin: bin, args: func(p int) []string { return []string{strconv.Itoa(p)} }})
	require.NoError(t, err)
	began := time.Now()
	s.stop()
	assert.True(t, s.done())
	assert.GreaterOrEqual(t, time.Since(began), 200*time.Millisecond, "SIGTERM alone did not stop it")
	assert.False(t, accepts(fmt.Sprintf("127.0.0.1:%d", s.port)))
	s.stop() // a second stop is a no-op
}

func TestTail(t *testing.T) {
	tl := newTail(8)
	assert.Equal(t, "    (no output)", tl.lines(3))
	_, _ = tl.Write([]byte("a\nb\n"))
	assert.Equal(t, "    a\n    b", tl.lines(3))
	_, _ = tl.Write([]byte("c\nd\ne\n"))
	assert.Equal(t, "    c\n    d\n    e", tl.lines(3), "keeps the last lines")
	assert.Equal(t, "    e", tl.lines(1))
	assert.True(t, tl.contains("d\ne"))
	assert.False(t, tl.contains("a"), "older bytes are dropped past the limit")
}
