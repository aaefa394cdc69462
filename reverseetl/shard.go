package reverseetl

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/retl-go/retl/config"
)

// ErrEmptyShard says a shard holds no sync: the project has fewer groups
// of syncs than shards.
var ErrEmptyShard = errors.New("this shard holds no sync")

// Shard returns the names of the syncs of the k-th (from 1) of n shares of
// a project, in the project's order, for n parallel jobs (CI's parallel
// jobs) that together run every sync once; RunOptions.Only takes them.
// Syncs linked by depends_on (either way, transitively) form one group
// and stay in one shard, so that a sync runs after its parents. The
// groups are dealt out largest first, each to the shard with the fewest
// syncs so far (the lowest-numbered on a tie): the same project always
// splits the same way, whatever the order of its files.
func Shard(syncs []*config.Sync, k, n int) ([]string, error) {
	if n < 1 || k < 1 || k > n {
		return nil, fmt.Errorf("shard %d of %d: k must be from 1 to n", k, n)
	}
	// Union-find over sync names.
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if parent[x] != x {
			parent[x] = find(parent[x])
		}
		return parent[x]
	}
	for _, s := range syncs {
		parent[s.Name] = s.Name
	}
	for _, s := range syncs {
		for _, d := range s.DependsOn {
			if _, ok := parent[d]; !ok {
				continue
			}
			a, b := find(s.Name), find(d)
			// The smaller name leads, so that roots do not depend on order.
			if a != b {
				if b < a {
					a, b = b, a
				}
				parent[b] = a
			}
		}
	}
	groups := map[string][]string{}
	for _, s := range syncs {
		r := find(s.Name)
		groups[r] = append(groups[r], s.Name)
	}
	roots := make([]string, 0, len(groups))
	for r := range groups {
		roots = append(roots, r)
	}
	slices.SortFunc(roots, func(a, b string) int {
		if c := cmp.Compare(len(groups[b]), len(groups[a])); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	load := make([]int, n)
	mine := map[string]bool{}
	for _, r := range roots {
		to := 0
		for i := range load {
			if load[i] < load[to] {
				to = i
			}
		}
		load[to] += len(groups[r])
		if to == k-1 {
			for _, name := range groups[r] {
				mine[name] = true
			}
		}
	}
	var out []string
	for _, s := range syncs {
		if mine[s.Name] {
			out = append(out, s.Name)
		}
	}
	if len(out) == 0 {
		return nil, ErrEmptyShard
	}
	return out, nil
}

// ParseShard reads "K/N", the K-th (from 1) of N shares, as Shard takes
// them.
func ParseShard(text string) (k, n int, err error) {
	ks, ns, ok := strings.Cut(strings.TrimSpace(text), "/")
	k, err1 := strconv.Atoi(ks)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("shard %q: want K/N, such as 2/4", text)
	}
	if n < 1 || k < 1 || k > n {
		return 0, 0, fmt.Errorf("shard %q: K must be from 1 to N", text)
	}
	return k, n, nil
}
