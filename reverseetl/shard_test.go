package reverseetl_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
)

func TestShardKeepsGroupsWholeAndIsDeterministic(t *testing.T) {
	// Groups: {a, b, c} (c depends on b, b on a), {d, e}, and f, g, h alone.
	syncs := []*config.Sync{
		{Name: "a"}, {Name: "b", DependsOn: []string{"a"}}, {Name: "c", DependsOn: []string{"b"}},
		{Name: "d"}, {Name: "e", DependsOn: []string{"d"}},
		{Name: "f"}, {Name: "g"}, {Name: "h"},
	}
	split := func(syncs []*config.Sync) [][]string {
		var out [][]string
		for k := 1; k <= 3; k++ {
			names, err := reverseetl.Shard(syncs, k, 3)
			require.NoError(t, err)
			slices.Sort(names)
			out = append(out, names)
		}
		return out
	}
	want := [][]string{{"a", "b", "c"}, {"d", "e", "h"}, {"f", "g"}}
	assert.Equal(t, want, split(syncs))
	// The order of the files does not change the split.
	r := rand.New(rand.NewPCG(1, 2))
	for range 10 {
		shuffled := slices.Clone(syncs)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		assert.Equal(t, want, split(shuffled))
	}

	_, err := reverseetl.Shard(syncs[:3], 2, 2)
	assert.ErrorIs(t, err, reverseetl.ErrEmptyShard, "one group, two shards")
	for _, kn := range [][2]int{{0, 3}, {4, 3}, {1, 0}} {
		_, err := reverseetl.Shard(syncs, kn[0], kn[1])
		assert.Error(t, err, "%d of %d", kn[0], kn[1])
	}
}

func TestParseShard(t *testing.T) {
	k, n, err := reverseetl.ParseShard(" 2/4 ")
	require.NoError(t, err)
	assert.Equal(t, [2]int{2, 4}, [2]int{k, n})
	for _, bad := range []string{"", "2", "0/4", "5/4", "a/b", "1/0", "-1/2", "1/2/3"} {
		_, _, err := reverseetl.ParseShard(bad)
		assert.Error(t, err, bad)
	}
}
