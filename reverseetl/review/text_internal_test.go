package review

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink"
)

// A plan shows deletes, what on_removed would do, and max_deletes' verdict.
func TestPlanShowsDeletesAndRemovals(t *testing.T) {
	rep := &reverseetl.Report{Syncs: []*reverseetl.SyncReport{
		{Name: "cleanup", Status: reverseetl.Succeeded, Read: 4, Updated: 4, Deleted: 4,
			Stats: &sink.Statistics{Notes: map[string]string{"max_deletes": "the sync would delete 4 Account records, within max_deletes (6: 20% of 30 Account records)"}}},
		{Name: "accounts", Status: reverseetl.Succeeded, Read: 3, Skipped: 3, Unchanged: 3,
			Removed: &reverseetl.RemovedReport{Action: "delete", Found: 2, Done: 2}},
		{Name: "flags", Status: reverseetl.Succeeded, Removed: &reverseetl.RemovedReport{Action: "set", Found: 3, Done: 1, Failed: 1, Skipped: 1}},
		{Name: "guarded", Status: reverseetl.Failed, Read: 3, Skipped: 3,
			Error: "on_removed: salesforce: max_deletes: on_removed would act on 3 Account records, more than max_deletes allows (2); nothing was removed",
			Err: fmt.Errorf("on_removed: salesforce: %w", &sink.DeleteLimitError{Setting: "max_deletes",
				Verdict: "on_removed would act on 3 Account records, more than max_deletes allows (2); nothing was removed"}),
			Stats:   &sink.Statistics{Notes: map[string]string{"max_deletes": "on_removed would act on 3 Account records, more than max_deletes allows (2); nothing was removed"}},
			Removed: &reverseetl.RemovedReport{Action: "delete", Found: 3}},
		{Name: "quiet", Status: reverseetl.Succeeded, Removed: &reverseetl.RemovedReport{Action: "delete"}},
	}}
	var out bytes.Buffer
	require.NoError(t, Text(&out, rep, Options{Plan: true, Changes: 5}))
	got := out.String()
	assert.Contains(t, got, "cleanup   4     0             0")
	assert.Contains(t, got, "\ncleanup: would delete 4 records\ncleanup: max_deletes: the sync would delete 4 Account records, within max_deletes (6: 20% of 30 Account records)\n")
	assert.Contains(t, got, "\naccounts: on_removed: 2 records this sync wrote are no longer in its query: would delete 2, would fail 0, skipped 0\n")
	assert.Contains(t, got, "\nflags: on_removed: 3 records this sync wrote are no longer in its query: would update (on_removed set) 1, would fail 1, skipped 1\n")
	assert.Contains(t, got, "guarded: on_removed: salesforce: max_deletes: on_removed would act on 3 Account records")
	assert.NotContains(t, got, "guarded: max_deletes:", "the verdict is in the error already")
	assert.NotContains(t, got, "quiet:")
}

func TestDescribeChange(t *testing.T) {
	long := strings.Repeat("x", 60)
	assert.Equal(t, "update K: A (empty) → 1, B "+strings.Repeat("x", 39)+"… → (empty)",
		describeChange(reverseetl.PlannedChange{Key: "K", Fields: []sink.FieldChange{{Field: "A", To: "1"}, {Field: "B", From: long}}}))
	got := describeChange(reverseetl.PlannedChange{Key: "K", Create: true, Fields: []sink.FieldChange{{Field: "A", To: long}, {Field: "B", To: long}, {Field: "C", To: long}, {Field: "D", To: long}}})
	assert.Len(t, []rune(got), 160)
	assert.True(t, strings.HasPrefix(got, "create K: A=xxx"))
}
