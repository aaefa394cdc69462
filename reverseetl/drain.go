package reverseetl

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultWritebackBuffer is how many outcomes a sync holds for its
// observers and its state store before the pipeline waits for them.
const DefaultWritebackBuffer = 20_000

// Default bounds of the writeback (see WithWritebackTimeout).
const (
	DefaultWritebackTimeout = 2 * time.Minute
	DefaultWritebackPerRow  = time.Millisecond
)

// WithWritebackBuffer sets how many outcomes (and rows of state) wait for
// the observers and the state store while the sync goes on; when that many
// wait, the sync waits. At least one chunk of outcomes is always held.
func WithWritebackBuffer(outcomes int) Option {
	return func(e *Engine) { e.writebackBuffer = outcomes }
}

// WithWritebackTimeout bounds the writeback: each hand-over of n rows to an
// observer or the state store may take base + n×perRow, and the end of a
// sync waits base + n×perRow for the n rows still queued. After that wait
// the outcomes still queued are not handed over (the report says how many
// and is marked WritebackFailed), while the state of accepted rows still
// queued is saved all the same, each save within its own bound.
func WithWritebackTimeout(base, perRow time.Duration) Option {
	return func(e *Engine) { e.writebackBase, e.writebackPerRow = base, perRow }
}

// drain hands a sync's outcomes and its change-detection state to the
// observers and the state store from a goroutine of its own, so that the
// source, the transformer and the writers never wait on a warehouse
// statement: they wait only when the bounded queue is full. Jobs run in the
// order they were queued, one at a time, so that an observer still hears of
// one sync from one goroutine at a time. The goroutine never takes the
// recorder's lock: what it has to report waits in the drain until close.
type drain struct {
	ctx          context.Context
	jobs         chan drainJob
	done         chan struct{}
	base, perRow time.Duration
	queued       atomic.Int64
	// hurry is set when the end-of-sync wait ran out: outcome jobs are then
	// dropped, state jobs still run.
	hurry atomic.Bool
	// after is time.After, replaced in tests.
	after func(time.Duration) <-chan time.Time

	mu       sync.Mutex
	warnings []string
	failed   bool
	dropped  int64
}

type drainJob struct {
	rows int
	// state: the job saves change-detection state, which is never dropped.
	state bool
	// barrier, when set, is closed when the job is reached.
	barrier chan struct{}
	do      func(ctx context.Context, d *drain)
}

func newDrain(ctx context.Context, slots int, base, perRow time.Duration) *drain {
	d := &drain{ctx: ctx, jobs: make(chan drainJob, max(slots, 1)), done: make(chan struct{}), base: base, perRow: perRow, after: time.After}
	go d.run()
	return d
}

// timeout is the bound for n rows.
func (d *drain) timeout(n int64) time.Duration { return d.base + time.Duration(n)*d.perRow }

func (d *drain) run() {
	defer close(d.done)
	for j := range d.jobs {
		d.queued.Add(-int64(j.rows))
		if j.barrier != nil {
			close(j.barrier)
			continue
		}
		if !j.state && d.hurry.Load() {
			d.mu.Lock()
			d.dropped += int64(j.rows)
			d.mu.Unlock()
			continue
		}
		ctx, cancel := context.WithTimeout(d.ctx, d.timeout(int64(j.rows)))
		j.do(ctx, d)
		cancel()
	}
}

// put queues a job, waiting while the queue is full.
func (d *drain) put(j drainJob) {
	d.queued.Add(int64(j.rows))
	d.jobs <- j
}

// wait returns once every job queued before it has run.
func (d *drain) wait() {
	b := make(chan struct{})
	d.put(drainJob{barrier: b})
	<-b
}

// warn notes a warning for the report; failed marks it WritebackFailed.
func (d *drain) warn(msg string, failed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.warnings = append(d.warnings, msg)
	d.failed = d.failed || failed
}

// close waits for the queued jobs, within the bound of the rows still
// queued; past it, outcomes still queued are dropped and state still
// queued is saved. It returns what the report must hear.
func (d *drain) close() (warnings []string, failed bool) {
	n := d.queued.Load()
	close(d.jobs)
	select {
	case <-d.done:
	case <-d.after(d.timeout(n)):
		d.hurry.Store(true)
		<-d.done
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dropped > 0 {
		d.warnings = append(d.warnings, fmt.Sprintf("writeback: the outcomes of %d rows were not recorded: the writeback did not finish within %s", d.dropped, d.timeout(n)))
		d.failed = true
	}
	return d.warnings, d.failed
}
