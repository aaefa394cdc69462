//go:build race

package transform

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts are not the production ones.
const raceEnabled = true
