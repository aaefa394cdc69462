package faultsuite

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
)

// recorder is a T that keeps what Check reports.
type recorder struct{ errs []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestLedgerCheck(t *testing.T) {
	s := &config.Sync{Name: "s"}
	written := reverseetl.Outcome{Kind: reverseetl.Written, Created: true}
	failed := reverseetl.Outcome{Kind: reverseetl.RowFailed, Err: &sink.RecordError{Code: "X"}}
	with := func(o reverseetl.Outcome, seq int64) reverseetl.Outcome { o.Seq = seq; return o }
	cases := []struct {
		name  string
		outs  []reverseetl.Outcome
		rep   reverseetl.SyncReport
		wants []string // substrings of the reported problems; none means Check passes
	}{
		{"every row once", []reverseetl.Outcome{with(written, 1), with(failed, 2)},
			reverseetl.SyncReport{Read: 2, Created: 1, Failed: 1}, nil},
		{"a row twice", []reverseetl.Outcome{with(written, 1), with(written, 1)},
			reverseetl.SyncReport{Read: 2, Created: 2}, []string{"more than one outcome", "without an outcome"}},
		{"a row never read", []reverseetl.Outcome{with(written, 1), with(written, 7)},
			reverseetl.SyncReport{Read: 1, Created: 1}, []string{"never read", "report vs observer"}},
		{"counts that do not add up", []reverseetl.Outcome{with(written, 1)},
			reverseetl.SyncReport{Read: 2, Created: 1}, []string{"read 2 != created 1", "without an outcome"}},
		{"report and observer disagree", []reverseetl.Outcome{with(failed, 1)},
			reverseetl.SyncReport{Read: 1, Created: 1}, []string{"report vs observer"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := NewLedger()
			require.NoError(t, l.Outcomes(context.Background(), s, c.outs))
			l.SyncFinished(context.Background(), s, nil)
			c.rep.Name = "s"
			var r recorder
			ok := l.Check(&r, &c.rep)
			assert.Equal(t, len(c.wants) == 0, ok, "%v", r.errs)
			all := strings.Join(r.errs, "\n")
			for _, w := range c.wants {
				assert.Contains(t, all, w)
			}
		})
	}
	l := NewLedger()
	var r recorder
	assert.False(t, l.Check(&r, &reverseetl.SyncReport{Name: "s"}), "a sync that never finished")
	assert.False(t, l.Check(&r, nil))
}

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
