package salesforce

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSFLenAndCutText(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
		len  int
	}{
		{"abcdef", 3, "abc", 6},
		{"abc", 3, "abc", 3},
		{"", 3, "", 0},
		{"éèêë", 2, "éè", 4},
		{"ab😀", 3, "ab", 4},
		{"ab😀c", 4, "ab😀", 5},
		{"a\xffb", 2, "a\xff", 3},
	} {
		assert.Equal(t, c.len, sfLen(c.in), "len %q", c.in)
		assert.Equal(t, c.want, cutText(c.in, c.n), "cut %q to %d", c.in, c.n)
	}
}

// truncate: true cuts text longer than its field to the field's length,
// counted as Salesforce counts characters, in plan and run through both
// APIs; a field without it still fails; the values cut are reported.
func TestTruncateCutsToTheFieldLength(t *testing.T) {
	for _, api := range apis {
		t.Run(api, func(t *testing.T) {
			srv := emulator(t)
			long := strings.Repeat("c", 50)
			emoji := strings.Repeat("x", 39) + "😀"
			rows := table{cols: []string{"K", "N", "CITY", "NUM"}, rows: [][]any{
				{"A-1", "One", long, "1"},
				{"A-2", "Two", "Oslo", "2"},
				{"A-3", "Three", emoji, "3"},
				{"A-4", "Four", "Rome", strings.Repeat("9", 41)},
			}}
			sync := syncFile("Account", "upsert", "External_Id__c", api, "",
				"  - {from: K, to: External_Id__c}\n  - {from: N, to: Name}\n  - {from: CITY, to: BillingCity, truncate: true}\n  - {from: NUM, to: AccountNumber}\n")
			plan, _ := semanticsRun(t, srv, rows, sync, true)
			assert.EqualValues(t, 2, plan.Stats.Counts["truncated_values"], "the plan counts the values it would cut")
			assert.Equal(t, map[string]int64{"BillingCity": 2}, plan.Stats.ByField["truncated"])
			assert.Contains(t, plan.Warnings, "truncate: 2 value(s) of BillingCity were cut to its 40 characters")

			rep, ran := planRunPlan(t, srv, rows, sync)
			assert.Equal(t, map[string]string{"A-1": "created", "A-2": "created", "A-3": "created", "A-4": "failed STRING_TOO_LONG"}, ran.rows)
			assert.EqualValues(t, 2, rep.Stats.Counts["truncated_values"])
			got := byExt(srv, "Account")
			assert.Equal(t, strings.Repeat("c", 40), got["A-1"]["BillingCity"])
			assert.Equal(t, "Oslo", got["A-2"]["BillingCity"])
			assert.Equal(t, strings.Repeat("x", 39), got["A-3"]["BillingCity"], "the emoji counts twice and is not split")
			assert.NotContains(t, got, "A-4")
		})
	}
}

// Without any value to cut the stats say nothing of truncation.
func TestTruncateNothingToCut(t *testing.T) {
	srv := emulator(t)
	rows := table{cols: []string{"K", "N"}, rows: [][]any{{"A-1", "One"}}}
	rep, _ := semanticsRun(t, srv, rows, syncFile("Account", "upsert", "External_Id__c", APIREST, "",
		"  - {from: K, to: External_Id__c}\n  - {from: N, to: Name, truncate: true}\n"), false)
	require.Equal(t, int64(1), rep.Created)
	assert.NotContains(t, rep.Stats.Counts, "truncated_values")
	assert.Empty(t, rep.Warnings)
}
