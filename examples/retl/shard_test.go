package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunShardRunsItsShareAndEveryShardTogetherRunAll(t *testing.T) {
	// The shipped syncs all depend on accounts; without its depends_on,
	// renewals is a group of its own: shard 1 takes the group of three,
	// shard 2 renewals, shard 3 nothing.
	s := newDemoSetup(t, "", func(name, text string) string {
		if name == "renewals.yaml" {
			return regexp.MustCompile(`(?m)^depends_on: \[accounts\]\n`).ReplaceAllString(text, "")
		}
		return text
	})
	ran := map[string]int{}
	perShard := map[int]int{}
	syncRe := regexp.MustCompile(`(?m)^shard \d/3: (.*)$`)
	for k := 1; k <= 3; k++ {
		r := retl(t, "plan", "--configs", s.configs, "--shard", fmt.Sprintf("%d/3", k))
		require.Contains(t, []int{exitOK, exitFailed}, r.code, r.stderr)
		if m := syncRe.FindStringSubmatch(r.stdout); m != nil {
			for _, name := range regexp.MustCompile(`[a-z_]+`).FindAllString(m[1], -1) {
				ran[name]++
				perShard[k]++
				assert.Regexp(t, `(?m)^`+name+`\s`, r.stdout, "the plan shows %s", name)
			}
		} else {
			assert.Regexp(t, `(?m)^shard \d/3 holds no sync: the project has fewer depends_on groups than shards$`, r.stdout)
		}
	}
	assert.Equal(t, map[string]int{"accounts": 1, "contacts": 1, "account_health": 1, "renewals": 1}, ran)
	assert.Equal(t, map[int]int{1: 3, 2: 1}, perShard)

	// GitLab's parallel jobs set the default.
	t.Setenv("CI_NODE_INDEX", "1")
	t.Setenv("CI_NODE_TOTAL", "3")
	r := retl(t, "plan", "--configs", s.configs)
	assert.Regexp(t, `(?m)^shard 1/3: `, r.stdout)
	// --only names the syncs itself: the environment's shard gives way.
	r = retl(t, "plan", "--configs", s.configs, "--only", "renewals")
	assert.NotContains(t, r.stdout, "shard ")
	assert.Regexp(t, `(?m)^renewals\s`, r.stdout)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--shard", "4/3"}, `retl run: --shard "4/3": K must be from 1 to N`},
		{[]string{"plan", "--shard", "x"}, `retl plan: --shard "x": want K/N, such as 2/4`},
		{[]string{"run", "--shard", "1/2", "--only", "accounts"}, "retl run: --shard and --only cannot be used together"},
	} {
		r := retl(t, append(tc.args, "--configs", filepath.Join(s.configs))...)
		assert.Equal(t, exitInvalid, r.code, tc.args)
		assert.Contains(t, r.stderr, tc.want, tc.args)
	}
}

func TestGitLabExampleRunsShardsInParallel(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "deploy", ".gitlab-ci.yml"))
	require.NoError(t, err)
	type job struct {
		Extends       string   `yaml:"extends"`
		Parallel      int      `yaml:"parallel"`
		Script        []string `yaml:"script"`
		ResourceGroup *string  `yaml:"resource_group"`
		Rules         []struct {
			If string `yaml:"if"`
		} `yaml:"rules"`
	}
	var jobs struct {
		Sharded   *job `yaml:"run:sharded"`
		Scheduled *job `yaml:"run:scheduled"`
	}
	require.NoError(t, yaml.Unmarshal(b, &jobs))
	sharded := jobs.Sharded
	require.NotNil(t, sharded)
	require.NotNil(t, jobs.Scheduled)
	assert.Equal(t, 3, sharded.Parallel)
	assert.Equal(t, ".run", sharded.Extends)
	assert.Nil(t, sharded.ResourceGroup, "shards run at once")
	require.Len(t, sharded.Script, 1)
	assert.Regexp(t, `^retl run --report "report-\$CI_NODE_INDEX\.json" --html "report-\$CI_NODE_INDEX\.html"$`, sharded.Script[0], "the shard comes from CI_NODE_INDEX/CI_NODE_TOTAL")
	// Exactly one of the scheduled jobs runs on a schedule.
	require.Len(t, sharded.Rules, 1)
	require.Len(t, jobs.Scheduled.Rules, 1)
	assert.Contains(t, sharded.Rules[0].If, `$RETL_SHARDED == "true"`)
	assert.Contains(t, jobs.Scheduled.Rules[0].If, `$RETL_SHARDED != "true"`)
}

// The merge request links to the plan's review page.
func TestGitLabExampleExposesThePlanPage(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "deploy", ".gitlab-ci.yml"))
	require.NoError(t, err)
	var jobs struct {
		Plan struct {
			Script    []string `yaml:"script"`
			Artifacts struct {
				ExposeAs string   `yaml:"expose_as"`
				Paths    []string `yaml:"paths"`
				When     string   `yaml:"when"`
			} `yaml:"artifacts"`
		} `yaml:"plan"`
	}
	require.NoError(t, yaml.Unmarshal(b, &jobs))
	plan := jobs.Plan
	require.Len(t, plan.Script, 1)
	assert.Equal(t, "retl plan --report plan-report.json --html plan.html --out plan.json", plan.Script[0])
	assert.Equal(t, "retl plan", plan.Artifacts.ExposeAs)
	assert.Equal(t, []string{"plan.html", "plan.json", "plan-report.json"}, plan.Artifacts.Paths)
	assert.Equal(t, "always", plan.Artifacts.When, "a failing plan is the one to read")

	// The script's flags are the command's: it parses them.
	args := strings.Fields(plan.Script[0])[1:]
	r := retl(t, append(args, "-h")...)
	assert.Equal(t, exitOK, r.code, r.stderr)
}
