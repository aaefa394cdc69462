package salesforce

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestNextPoll(t *testing.T) {
	const ms = time.Millisecond
	floor := 25 * ms
	cases := []struct {
		name          string
		wait, elapsed time.Duration
		done, rows    int
		want          time.Duration
	}{
		{"no progress yet: the backoff step", 375 * ms, 250 * ms, 0, 1000, 375 * ms},
		{"all processed but not ended: the backoff step", 375 * ms, 250 * ms, 1000, 1000, 375 * ms},
		{"half done: as long again", 2 * time.Second, 400 * ms, 500, 1000, 400 * ms},
		{"the prediction never exceeds the step", 100 * ms, 400 * ms, 100, 1000, 100 * ms},
		{"nearly done: a twentieth of the time spent", time.Second, 2 * time.Second, 999, 1000, 100 * ms},
		{"nearly done early on: the floor", time.Second, 100 * ms, 999, 1000, floor},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, nextPoll(c.wait, c.elapsed, c.done, c.rows, floor), c.name)
	}
}
