// Package faultsuite holds what the reliability tests of several packages
// share beside sinktest.Ledger (which checks that every row read ends in
// exactly one outcome): a one-line summary of a sync's figures, and a
// loopback TCP proxy that cuts connections after a number of bytes, to
// stand for a network or a server that dies mid-answer.
package faultsuite

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/retl-go/retl/reverseetl"
)

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
