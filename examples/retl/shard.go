package main

import (
	"fmt"
	"strconv"
	"strings"
)

// shard is the K-th (from 1) of N shares of a project's syncs; N is 0 for
// the whole project.
type shard struct{ k, n int }

func (s shard) String() string {
	if s.n == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.k, s.n)
}

// parseShard reads "K/N" with 1 <= K <= N.
func parseShard(text string) (shard, error) {
	ks, ns, ok := strings.Cut(strings.TrimSpace(text), "/")
	k, err1 := strconv.Atoi(ks)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil {
		return shard{}, fmt.Errorf("--shard %q: want K/N, such as 2/4", text)
	}
	if n < 1 || k < 1 || k > n {
		return shard{}, fmt.Errorf("--shard %q: K must be from 1 to N", text)
	}
	return shard{k: k, n: n}, nil
}

// shardFromEnv is the shard GitLab's parallel jobs name in CI_NODE_INDEX
// (from 1) and CI_NODE_TOTAL; "" when they are not set.
func shardFromEnv(lookup func(string) string) string {
	k, n := lookup("CI_NODE_INDEX"), lookup("CI_NODE_TOTAL")
	if k == "" || n == "" {
		return ""
	}
	return k + "/" + n
}
