package reverseetl

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Past the end-of-sync bound, queued outcomes are dropped and counted,
// and queued state is still saved.
func TestDrainPastItsBoundDropsOutcomesNotState(t *testing.T) {
	d := newDrain(context.Background(), 4, time.Hour, 0)
	fire := make(chan time.Time)
	d.after = func(time.Duration) <-chan time.Time { return fire }

	started, release := make(chan struct{}), make(chan struct{})
	d.put(drainJob{rows: 1, do: func(context.Context, *drain) {
		close(started)
		<-release
	}})
	<-started
	var outcomesRan, stateRan bool
	d.put(drainJob{rows: 5, do: func(context.Context, *drain) { outcomesRan = true }})
	d.put(drainJob{rows: 3, state: true, do: func(context.Context, *drain) { stateRan = true }})

	type result struct {
		warnings []string
		failed   bool
	}
	res := make(chan result)
	go func() {
		w, f := d.close()
		res <- result{w, f}
	}()
	fire <- time.Now() // received only by close's wait: the bound has passed
	close(release)
	r := <-res
	assert.True(t, r.failed)
	require.Len(t, r.warnings, 1)
	assert.Contains(t, r.warnings[0], "the outcomes of 5 rows were not recorded")
	assert.False(t, outcomesRan)
	assert.True(t, stateRan)
}

// Within its bound the drain runs every job, in order.
func TestDrainRunsEveryJobInOrder(t *testing.T) {
	d := newDrain(context.Background(), 1, time.Hour, 0)
	var order []int
	for i := range 50 {
		d.put(drainJob{rows: 1, state: i%2 == 0, do: func(context.Context, *drain) { order = append(order, i) }})
	}
	d.wait()
	assert.Len(t, order, 50)
	w, failed := d.close()
	assert.Empty(t, w)
	assert.False(t, failed)
	for i, v := range order {
		require.Equal(t, i, v)
	}
}
