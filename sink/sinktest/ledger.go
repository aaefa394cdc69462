package sinktest

import (
	"context"
	"sort"
	"sync"

	"github.com/stretchr/testify/assert"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
)

// T is the part of testing.TB that Ledger.Check needs.
type T interface {
	Helper()
	Errorf(format string, args ...any)
}

// Ledger is a reverseetl.Observer that keeps every outcome it is told
// about, by sync, and counts each sync's final reports. A test hands it to
// the Engine (reverseetl.WithObserver) and, after the run, checks with
// Check that every row read ended in exactly one outcome, whatever went
// wrong on the way.
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
