package salesforce

import (
	"bytes"
	"io"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// The benchmark below sets a hand-written fast path of the Bulk writer
// beside the plain version it replaces, in one run, on the rows of
// examples/bench: compare the sub-benchmarks' rows/s as a ratio.

// mapIndex is the plain form of resultIndex's exact-row lookup: a map from
// a row's text to the positions with that text, in upload order.
type mapIndex struct {
	rows  map[string][]int32
	taken []bool
}

func newMapIndex(j *jobPlan) *mapIndex {
	m := &mapIndex{rows: make(map[string][]int32, len(j.idx)), taken: make([]bool, len(j.idx))}
	for p := range j.idx {
		k := string(j.line(p))
		m.rows[k] = append(m.rows[k], int32(p))
	}
	return m
}

func (m *mapIndex) take(line []byte) int {
	// A lookup by string(line) does not copy line; the queue is walked
	// rather than shortened, as rows rarely repeat.
	for _, p := range m.rows[string(line)] {
		if !m.taken[p] {
			m.taken[p] = true
			return int(p)
		}
	}
	return -1
}

// BenchmarkResultRowIndex is resultIndex's double-hash table against a
// map[string] index: index a 10k-row job, then find every row of its
// result file, which arrives in another order.
func BenchmarkResultRowIndex(b *testing.B) {
	s, bl, j, body := bulkResultsBench(b)
	rf, err := readResults(bytes.NewReader(body), bl.cols)
	require.NoError(b, err)
	var results [][]string
	for {
		row, err := rf.next()
		if err == io.EOF {
			break
		}
		require.NoError(b, err)
		cells, complete := rf.uploadedCells(row)
		require.True(b, complete)
		// The reader reuses its row; the cells are kept past it.
		results = append(results, slices.Clone(cells))
	}
	b.Run("double-hash", func(b *testing.B) {
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		for b.Loop() {
			m := newResultIndex(j, bl.keyCol, s.normKey)
			for _, c := range results {
				if m.take(c, true) < 0 {
					b.Fatal("a result row matched nothing")
				}
			}
		}
		perRow(b, len(results), &before)
	})
	b.Run("map", func(b *testing.B) {
		var enc csvEncoder
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		for b.Loop() {
			m := newMapIndex(j)
			for _, c := range results {
				if m.take(enc.line(c)) < 0 {
					b.Fatal("a result row matched nothing")
				}
			}
		}
		perRow(b, len(results), &before)
	})
}
