package reverseetl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/retl-go/retl/config"
)

// Locked: the sync did not run because another run holds its lease.
const Locked Status = "locked"

// Leaser is optionally implemented by a StateStore: it keeps one run at a
// time per sync, with a lease in the store that the running sync renews
// and that expires when a crashed run stops renewing it.
type Leaser interface {
	// TakeLease takes, or renews, the sync's lease for owner until ttl
	// from now, unless another owner holds one that has not expired: then
	// it returns a *LeaseHeldError naming the holder. Taking is atomic:
	// of runs taking at once, one wins.
	TakeLease(ctx context.Context, sync string, owner LeaseOwner, ttl time.Duration) error
	// ReleaseLease gives the lease up if owner holds it.
	ReleaseLease(ctx context.Context, sync string, owner LeaseOwner) error
}

// LeaseOwner is who holds a lease: a run, on a host.
type LeaseOwner struct {
	RunID string
	Host  string
}

// LeaseHeldError says another run holds a sync's lease.
type LeaseHeldError struct {
	Sync   string
	Holder LeaseOwner
	// Expires is when the lease ends unless its holder renews it, as the
	// store prints it.
	Expires string
}

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("sync %q is being run by run %s on %s (its lease runs until %s UTC unless renewed)",
		e.Sync, e.Holder.RunID, e.Holder.Host, e.Expires)
}

// DefaultLeaseTTL is how long a lease lasts unless renewed; a running sync
// renews it every third of that, and a crashed run's lease is taken over
// once it expired.
const DefaultLeaseTTL = 10 * time.Minute

// leasePoll is how often a run waiting for a lease (RunOptions.WaitLock)
// asks again.
var leasePoll = 2 * time.Second

// WithLeaseTTL sets how long a sync's lease lasts unless renewed (default
// DefaultLeaseTTL).
func WithLeaseTTL(d time.Duration) Option { return func(e *Engine) { e.leaseTTL = d } }

func (e *Engine) leaseOwner() LeaseOwner {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown host"
	}
	return LeaseOwner{RunID: e.runID, Host: host + " (pid " + strconv.Itoa(os.Getpid()) + ")"}
}

// lease takes the sync's lease when the state store keeps leases and the
// run writes (a plan writes nothing and takes none). It returns a function
// that stops renewing and releases the lease, or the report of a sync that
// must not run: locked by another run, or stopped while waiting. A store
// that fails to take it (unreachable, read-only) lets the sync run, with a
// warning and WritebackFailed on its report.
func (e *Engine) lease(ctx context.Context, p *config.Project, s *config.Sync, opts RunOptions, rep *SyncReport) (release func(), stop *SyncReport) {
	ls, ok := e.state.(Leaser)
	if !ok || opts.Plan {
		return func() {}, nil
	}
	ttl := e.leaseTTL
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	owner := e.leaseOwner()
	log := e.log.With("sync", s.Name)
	var deadline time.Time
	if opts.WaitLock > 0 {
		deadline = time.Now().Add(opts.WaitLock)
	}
	for waited := false; ; {
		err := ls.TakeLease(ctx, s.Name, owner, ttl)
		if err == nil {
			break
		}
		var held *LeaseHeldError
		if !errors.As(err, &held) {
			// A state that cannot be written fails no sync (the writeback's
			// rule): the sync runs unguarded, and the report says so.
			msg := redact(p, fmt.Sprintf("taking the sync's lease in the warehouse state: %v (the sync ran without one: another run could have overlapped it)", err))
			rep.WritebackFailed = true
			rep.Warnings = append(rep.Warnings, msg)
			log.Warn("running the sync without its lease", "error", msg)
			return func() {}, nil
		}
		if !deadline.IsZero() && time.Now().Before(deadline) {
			if !waited {
				log.Info("waiting for the sync's lease", "holder_run_id", held.Holder.RunID, "holder_host", held.Holder.Host,
					"expires", held.Expires, "wait_lock", opts.WaitLock)
				waited = true
			}
			t := time.NewTimer(min(leasePoll, time.Until(deadline)))
			select {
			case <-t.C:
				continue
			case <-ctx.Done():
				t.Stop()
				rep.Status = Cancelled
				rep.setErr(p, &causeError{"run cancelled while waiting for the sync's lease: " + held.Error(), errors.Join(context.Cause(ctx), held)})
				return nil, rep
			}
		}
		rep.Status = Locked
		msg := held.Error() + "; this run skipped it"
		if opts.WaitLock > 0 {
			msg += fmt.Sprintf(" after waiting %s", opts.WaitLock)
		}
		rep.setErr(p, &causeError{msg, held})
		log.Warn("sync locked by another run", "holder_run_id", held.Holder.RunID, "holder_host", held.Holder.Host, "expires", held.Expires)
		return nil, rep
	}
	log.Info("sync lease taken", "run_id", owner.RunID, "host", owner.Host, "ttl", ttl)

	// Renewed while the sync runs, so that only a run that stopped
	// renewing (a crash) loses it.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if err := ls.TakeLease(context.WithoutCancel(ctx), s.Name, owner, ttl); err != nil {
					log.Error("renewing the sync's lease", "error", redact(p, err.Error()))
				}
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		if err := ls.ReleaseLease(context.WithoutCancel(ctx), s.Name, owner); err != nil {
			log.Warn("releasing the sync's lease (it expires by itself)", "error", redact(p, err.Error()))
		}
	}, nil
}

// Locked reports whether a sync of the run was skipped because another
// run holds its lease.
func (r *Report) Locked() bool {
	for _, s := range r.Syncs {
		if s.Status == Locked {
			return true
		}
	}
	return false
}

// Failed reports whether a sync failed or was cancelled. A sync locked by
// another run, or skipped because its parent was, did not fail.
func (r *Report) Failed() bool {
	for _, s := range r.Syncs {
		if s.Status == Failed || s.Status == Cancelled {
			return true
		}
	}
	return false
}
