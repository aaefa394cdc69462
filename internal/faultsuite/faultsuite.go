// Package faultsuite holds what the reliability tests of several packages
// share: a Ledger that checks that every row read ends in exactly one
// outcome, and a loopback TCP proxy that cuts connections after a number
// of bytes, to stand for a network or a server that dies mid-answer.
package faultsuite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
)

// T is the part of testing.TB that Check needs.
type T interface {
	Helper()
	Errorf(format string, args ...any)
}

// Ledger is a reverseetl.Observer that keeps every outcome it is told
// about, by sync, and the final report of each sync.
type Ledger struct {
	reverseetl.NopObserver

	mu       sync.Mutex
	outs     map[string][]reverseetl.Outcome
	finished map[string]int
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{outs: map[string][]reverseetl.Outcome{}, finished: map[string]int{}}
}

// Outcomes implements reverseetl.Observer.
func (l *Ledger) Outcomes(_ context.Context, s *config.Sync, outs []reverseetl.Outcome) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.outs[s.Name] = append(l.outs[s.Name], outs...)
	return nil
}

// SyncFinished implements reverseetl.Observer.
func (l *Ledger) SyncFinished(_ context.Context, s *config.Sync, _ *reverseetl.SyncReport) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.finished[s.Name]++
}

// Of returns the outcomes of a sync, in the order they were decided.
func (l *Ledger) Of(syncName string) []reverseetl.Outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]reverseetl.Outcome(nil), l.outs[syncName]...)
}

// Codes counts a sync's failed rows by error code.
func (l *Ledger) Codes(syncName string) map[string]int {
	out := map[string]int{}
	for _, o := range l.Of(syncName) {
		if o.Kind == reverseetl.RowFailed && o.Err != nil {
			out[o.Err.Code]++
		}
	}
	return out
}

// Check asserts what must hold after any run, whatever went wrong: the
// report accounts for every row read (read = created + updated + failed +
// skipped), the observer heard of each row (Seq 1..read) exactly once,
// the kinds it heard of add up to the report's counts, and the sync
// finished exactly once. It returns false when something did not hold.
func (l *Ledger) Check(t T, rep *reverseetl.SyncReport) bool {
	t.Helper()
	if !assert.NotNil(t, rep, "no report") {
		return false
	}
	outs := l.Of(rep.Name)
	l.mu.Lock()
	finished := l.finished[rep.Name]
	l.mu.Unlock()
	ok := assert.Equal(t, 1, finished, "%s: SyncFinished calls", rep.Name)
	ok = assert.True(t, rep.Accounted(), "%s: read %d != created %d + updated %d + failed %d + skipped %d",
		rep.Name, rep.Read, rep.Created, rep.Updated, rep.Failed, rep.Skipped) && ok
	seen := make(map[int64]int, len(outs))
	var created, updated, failed, skipped int64
	for _, o := range outs {
		seen[o.Seq]++
		switch o.Kind {
		case reverseetl.Written:
			if o.Created {
				created++
			} else {
				updated++
			}
		case reverseetl.RowFailed:
			failed++
		case reverseetl.RowSkipped:
			skipped++
		}
	}
	var twice, missing []int64
	for seq := int64(1); seq <= rep.Read; seq++ {
		switch seen[seq] {
		case 1:
		case 0:
			missing = append(missing, seq)
		default:
			twice = append(twice, seq)
		}
		delete(seen, seq)
	}
	var stray []int64
	for seq := range seen {
		stray = append(stray, seq)
	}
	sort.Slice(stray, func(i, j int) bool { return stray[i] < stray[j] })
	ok = assert.Empty(t, missing, "%s: rows without an outcome", rep.Name) && ok
	ok = assert.Empty(t, twice, "%s: rows with more than one outcome", rep.Name) && ok
	ok = assert.Empty(t, stray, "%s: outcomes for rows never read", rep.Name) && ok
	ok = assert.Equal(t, [4]int64{rep.Created, rep.Updated, rep.Failed, rep.Skipped}, [4]int64{created, updated, failed, skipped},
		"%s: created, updated, failed, skipped: report vs observer", rep.Name) && ok
	return ok
}

// Summary is one line of figures about a sync: its status and counts, and
// its failed rows by code.
func Summary(rep *reverseetl.SyncReport, codes map[string]int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: read %d, created %d, updated %d, failed %d, skipped %d", rep.Status, rep.Read, rep.Created, rep.Updated, rep.Failed, rep.Skipped)
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, codes[k])
		if i == len(keys)-1 {
			b.WriteString(")")
		}
	}
	return b.String()
}

// Proxy forwards loopback TCP connections to a target and can cut them:
// once a connection has carried a set number of bytes back from the
// target, the proxy closes both sides, as a network or a dying server
// would mid-answer.
type Proxy struct {
	ln     net.Listener
	target string
	// cutAfter is the bytes from the target after which a connection is
	// cut; 0 forwards everything.
	cutAfter atomic.Int64
	cuts     atomic.Int64
	wg       sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// NewProxy listens on a loopback port and forwards to target (host:port)
// until the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faultsuite: proxy: %v", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port is the proxy's port.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// CutAfter makes every connection close once n bytes came back from the
// target over it (counting from the connection's start); 0 turns cutting
// off for new connections.
func (p *Proxy) CutAfter(n int64) { p.cutAfter.Store(n) }

// Cuts is how many connections the proxy cut.
func (p *Proxy) Cuts() int64 { return p.cuts.Load() }

// Close stops accepting and closes every open connection.
func (p *Proxy) Close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	p.track(client, true)
	p.track(server, true)
	defer func() {
		_ = client.Close()
		_ = server.Close()
		p.track(client, false)
		p.track(server, false)
	}()
	limit := p.cutAfter.Load()
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(server, client)
		done <- struct{}{}
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		if limit <= 0 {
			_, _ = io.Copy(client, server)
			return
		}
		n, err := io.CopyN(client, server, limit)
		if n == limit && err == nil {
			p.cuts.Add(1)
			// Close without a clean shutdown: the reader sees the answer
			// end in the middle.
			if tc, ok := client.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
		}
	}()
	<-done
}

// ClosedPort returns a loopback address on which nothing listens: a port
// that was free a moment ago, so a dial there is refused.
func ClosedPort(t testing.TB) (host string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faultsuite: %v", err)
	}
	port = ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatalf("faultsuite: %v", err)
	}
	return "127.0.0.1", port
}
