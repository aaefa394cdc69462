package faultsuite

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
)

func TestSummary(t *testing.T) {
	rep := &reverseetl.SyncReport{Status: reverseetl.Failed, Read: 5, Created: 2, Updated: 1, Failed: 2}
	assert.Equal(t, "failed: read 5, created 2, updated 1, failed 2, skipped 0 (A 1, B 1)", Summary(rep, map[string]int{"B": 1, "A": 1}))
	assert.Equal(t, "failed: read 5, created 2, updated 1, failed 2, skipped 0", Summary(rep, nil))
}

func TestProxyForwardsThenCuts(t *testing.T) {
	body := strings.Repeat("x", 100_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	p := NewProxy(t, srv.Listener.Addr().String())
	get := func() (string, error) {
		// A new connection each time: the cut applies to connections.
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get("http://" + p.Addr() + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	got, err := get()
	require.NoError(t, err)
	assert.Equal(t, body, got)
	assert.Zero(t, p.Cuts())

	p.CutAfter(10_000)
	got, err = get()
	require.Error(t, err, "the answer ends in the middle")
	assert.Less(t, len(got), 10_000)
	assert.EqualValues(t, 1, p.Cuts())

	p.CutAfter(0)
	got, err = get()
	require.NoError(t, err)
	assert.Equal(t, body, got)
}

func TestClosedPortRefuses(t *testing.T) {
	host, port := ClosedPort(t)
	_, err := net.Dial("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refused")
}
