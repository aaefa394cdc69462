package reverseetl_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	memsource "github.com/retl-go/retl/source/memory"
)

// leasingState is a memState that keeps leases: take answers from the
// queue of answers (nil: taken) and records what was taken and released.
type leasingState struct {
	*memState
	mu       sync.Mutex
	answers  []error
	taken    []reverseetl.LeaseOwner
	released []string
}

func (l *leasingState) TakeLease(_ context.Context, syncName string, owner reverseetl.LeaseOwner, ttl time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.answers) > 0 {
		err := l.answers[0]
		l.answers = l.answers[1:]
		if err != nil {
			return err
		}
	}
	l.taken = append(l.taken, owner)
	return nil
}

func (l *leasingState) ReleaseLease(_ context.Context, syncName string, owner reverseetl.LeaseOwner) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.released = append(l.released, syncName+"/"+owner.RunID)
	return nil
}

func leaseRun(t *testing.T, ctx context.Context, ls *leasingState, opts reverseetl.RunOptions) (*reverseetl.Report, *countingSink) {
	t.Helper()
	f := newFixture()
	snk := newCountingSink()
	f.sources["parent"] = memsource.New([]string{"ID", "NAME"}, rows(5))
	f.sinks["parent"] = snk
	f.sources["child"] = memsource.New([]string{"ID", "NAME"}, rows(5))
	f.sinks["child"] = newCountingSink()
	p := &config.Project{Syncs: []*config.Sync{spec("parent"), spec("child", "parent")}}
	rep, err := f.engine(reverseetl.WithState(ls), reverseetl.WithRunID("run-2")).Run(ctx, p, reverseetl.RunOptions{Only: []string{"parent", "child"}, Plan: opts.Plan, WaitLock: opts.WaitLock})
	require.NoError(t, err)
	return rep, snk
}

func TestLeaseHeldByAnotherRunSkipsTheSync(t *testing.T) {
	held := &reverseetl.LeaseHeldError{Sync: "parent", Holder: reverseetl.LeaseOwner{RunID: "run-1", Host: "ci-7 (pid 42)"}, Expires: "2024-06-01 12:10:00"}
	ls := &leasingState{memState: newMemState(), answers: []error{held}}
	rep, snk := leaseRun(t, context.Background(), ls, reverseetl.RunOptions{})
	p := rep.Sync("parent")
	assert.Equal(t, reverseetl.Locked, p.Status)
	assert.Equal(t, `sync "parent" is being run by run run-1 on ci-7 (pid 42) (its lease runs until 2024-06-01 12:10:00 UTC unless renewed); this run skipped it`, p.Error)
	assert.Zero(t, snk.sent.Load(), "nothing was sent")
	assert.Equal(t, reverseetl.SkippedSync, rep.Sync("child").Status)
	assert.True(t, rep.Locked())
	assert.False(t, rep.Failed())
	assert.Empty(t, ls.released)
}

func TestLeaseTakenAndReleased(t *testing.T) {
	ls := &leasingState{memState: newMemState()}
	rep, snk := leaseRun(t, context.Background(), ls, reverseetl.RunOptions{})
	require.True(t, rep.OK())
	assert.EqualValues(t, 5, snk.sent.Load())
	require.Len(t, ls.taken, 2)
	assert.Equal(t, "run-2", ls.taken[0].RunID)
	assert.Contains(t, ls.taken[0].Host, "(pid ")
	assert.ElementsMatch(t, []string{"parent/run-2", "child/run-2"}, ls.released)

	plan := &leasingState{memState: newMemState()}
	_, _ = leaseRun(t, context.Background(), plan, reverseetl.RunOptions{Plan: true})
	assert.Empty(t, plan.taken, "a plan writes nothing and takes no lease")
}

func TestLeaseWaitedFor(t *testing.T) {
	held := &reverseetl.LeaseHeldError{Sync: "parent", Holder: reverseetl.LeaseOwner{RunID: "run-1", Host: "h"}}
	ls := &leasingState{memState: newMemState(), answers: []error{held}}
	rep, snk := leaseRun(t, context.Background(), ls, reverseetl.RunOptions{WaitLock: time.Hour})
	require.True(t, rep.OK(), "%+v", rep.Sync("parent"))
	assert.EqualValues(t, 5, snk.sent.Load())

	// Cancelled while waiting: the sync is cancelled, nothing sent.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ls = &leasingState{memState: newMemState(), answers: []error{held}}
	rep, snk = leaseRun(t, ctx, ls, reverseetl.RunOptions{WaitLock: time.Hour})
	assert.Equal(t, reverseetl.Cancelled, rep.Sync("parent").Status)
	assert.Zero(t, snk.sent.Load())
}

func TestLeaseErrorRunsTheSyncWithAWarning(t *testing.T) {
	ls := &leasingState{memState: newMemState(), answers: []error{errors.New("warehouse unreachable")}}
	rep, snk := leaseRun(t, context.Background(), ls, reverseetl.RunOptions{})
	p := rep.Sync("parent")
	assert.Equal(t, reverseetl.Succeeded, p.Status, "a state that cannot be written fails no sync")
	assert.EqualValues(t, 5, snk.sent.Load())
	assert.True(t, p.WritebackFailed)
	assert.Equal(t, []string{"taking the sync's lease in the warehouse state: warehouse unreachable (the sync ran without one: another run could have overlapped it)"}, p.Warnings)
	assert.Equal(t, []string{"child/run-2"}, ls.released, "the child took its lease; the parent had none to release")
}
