//go:build !race

package sftest

const raceEnabled = false
