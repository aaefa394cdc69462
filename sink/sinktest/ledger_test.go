package sinktest

import (
	"context"
	"fmt"
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
