package standin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bounds on starting and stopping a server. Variables so tests of the
// harness can shorten them.
var (
	// startTimeout bounds the wait for a server to answer. Both stand-ins
	// answer within a second here; the margin covers a loaded CI machine
	// and Python compiling its bytecode on the first start.
	startTimeout = 60 * time.Second
	// stopGrace is how long a server gets to exit after SIGTERM before
	// SIGKILL.
	stopGrace = 5 * time.Second
	// pollEvery is the pause between readiness probes.
	pollEvery = 50 * time.Millisecond
)

// startAttempts bounds retries when a server loses its port to another
// process between our choosing it and the server binding it.
const startAttempts = 3

// serverSpec says how to run one kind of server.
type serverSpec struct {
	name string // for messages: "fakesnow"
	bin  string // absolute path of the executable
	args func(port int) []string
	dir  string // working directory; "" for the caller's
}

// server is one running stand-in process.
type server struct {
	name   string
	port   int
	cmd    *exec.Cmd
	out    *tail
	exited chan struct{} // closed when the process has been reaped
	err    error         // Wait's result, set before exited closes
	took   time.Duration // from start until it answered
}

// startServer runs spec on a free loopback port and waits until it answers
// HTTP there. On failure the error carries the end of the server's output.
func startServer(ctx context.Context, spec serverSpec) (*server, error) {
	var errs []error
	for range startAttempts {
		s, err := startOnce(ctx, spec)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// errPortTaken marks a start that failed because the port was in use.
var errPortTaken = errors.New("port already in use")

func startOnce(ctx context.Context, spec serverSpec) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.name, err)
	}
	s := &server{name: spec.name, port: port, out: newTail(16 << 10), exited: make(chan struct{})}
	s.cmd = exec.Command(spec.bin, spec.args(port)...)
	s.cmd.Dir = spec.dir
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	// Unbuffered so the output tail is current when a start fails.
	s.cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	ownGroup(s.cmd)
	// Bounds Wait when a stray child keeps the output pipe open.
	s.cmd.WaitDelay = stopGrace
	began := time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", spec.name, spec.bin, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()

	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for {
		// Both servers bind their port once they are ready to serve, so an
		// accepted connection is enough. If ours has exited meanwhile, the
		// answer came from another process that took the port.
		if accepts(addr) && !s.done() {
			s.took = time.Since(began)
			return s, nil
		}
		select {
		case <-s.exited:
			err := fmt.Errorf("%s exited before answering on port %d (%v); output:\n%s",
				spec.name, port, s.err, s.out.lines(20))
			if s.out.contains("address already in use") {
				err = fmt.Errorf("%w: %w", errPortTaken, err)
			}
			return nil, err
		case <-ctx.Done():
			s.stop()
			return nil, fmt.Errorf("%s did not answer on port %d within %v (%w); output:\n%s",
				spec.name, port, startTimeout, ctx.Err(), s.out.lines(20))
		case <-time.After(pollEvery):
		}
	}
}

func accepts(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func (s *server) done() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// stop ends the server's process group: SIGTERM, then SIGKILL after
// stopGrace. It returns once the process has been reaped.
func (s *server) stop() {
	if s.done() {
		return
	}
	signalGroup(s.cmd, false)
	select {
	case <-s.exited:
	case <-time.After(stopGrace):
		signalGroup(s.cmd, true)
		<-s.exited
	}
}

// freePort asks the kernel for an unused loopback port. The port is free
// when this returns but not reserved; startServer retries if another
// process takes it first.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail keeps the last bytes written to it, for error messages.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// lines returns at most the last n lines, indented for a test log.
func (t *tail) lines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	text := strings.TrimRight(string(t.buf), "\n")
	if text == "" {
		return "    (no output)"
	}
	ls := strings.Split(text, "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return "    " + strings.Join(ls, "\n    ")
}

func (t *tail) contains(s string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Contains(t.buf, []byte(s))
}
