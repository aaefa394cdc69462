package main

// shardFromEnv is the shard GitLab's parallel jobs name in CI_NODE_INDEX
// (from 1) and CI_NODE_TOTAL; "" when they are not set.
func shardFromEnv(lookup func(string) string) string {
	k, n := lookup("CI_NODE_INDEX"), lookup("CI_NODE_TOTAL")
	if k == "" || n == "" {
		return ""
	}
	return k + "/" + n
}
