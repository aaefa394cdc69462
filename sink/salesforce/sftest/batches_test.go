package sftest

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBulkCSVRowErrors(t *testing.T) {
	srv, c := start(t, WithOrderedResults())
	a := mustInsert(t, srv, "Account", map[string]any{"Name": "A", "Phone": "1", "Website": "w"})

	// An empty cell leaves the field alone on update; #N/A clears it.
	_, info := c.runJob(map[string]any{"object": "Account", "operation": "update"}, "Id,Phone,Website\n"+a+",,#N/A\n")
	require.Equal(t, 0, num(info["numberRecordsFailed"]))
	rec := srv.Records("Account")[0]
	assert.Equal(t, "1", rec["Phone"])
	assert.Nil(t, rec["Website"])

	// A space before or after a quote fails that row only.
	id, info := c.runJob(map[string]any{"object": "Account", "operation": "insert"},
		"Name,Phone\nfirst,1\nbefore, \"2\"\n\"after\" ,3\nlast,4\n")
	assert.Equal(t, StateJobComplete, info["state"])
	assert.Equal(t, 4, num(info["numberRecordsProcessed"]))
	assert.Equal(t, 2, num(info["numberRecordsFailed"]))
	_, failed := c.resultRows(id, "failedResults")
	require.Len(t, failed, 3)
	for _, r := range failed[1:] {
		assert.True(t, strings.HasPrefix(r[1], "INVALID_FIELD:Failed to parse the row: "), r[1])
	}
	assert.Equal(t, []string{"before", ` "2"`}, failed[1][2:], "an unreadable row is split at its delimiters")
	assert.Equal(t, []string{`"after" `, "3"}, failed[2][2:])
	names := []string{}
	for _, m := range srv.Records("Account")[1:] {
		names = append(names, m["Name"].(string))
	}
	assert.Equal(t, []string{"first", "last"}, names)
}

// children builds a Contact upload of n rows pointing to one parent.
func children(parent string, n int) string {
	var b strings.Builder
	b.WriteString("LastName,AccountId\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "C%d,%s\n", i, parent)
	}
	return b.String()
}

func TestBulkInternalBatchLocks(t *testing.T) {
	srv, c := start(t, WithInternalBatchSize(400), WithLockContention())
	p := mustInsert(t, srv, "Account", map[string]any{"Name": "Parent"})

	// One internal batch: the rows of a parent never lock each other.
	_, info := c.runJob(map[string]any{"object": "Contact", "operation": "insert"}, children(p, 400))
	assert.Equal(t, 0, num(info["numberRecordsFailed"]))

	// Two internal batches run side by side: in every round one of them
	// holds the parent and the other's chunk fails.
	id, info := c.runJob(map[string]any{"object": "Contact", "operation": "insert"}, children(p, 800))
	assert.Equal(t, StateJobComplete, info["state"])
	assert.Equal(t, 800, num(info["numberRecordsProcessed"]))
	assert.Equal(t, 400, num(info["numberRecordsFailed"]))
	_, failed := c.resultRows(id, "failedResults")
	for _, r := range failed[1:] {
		assert.Equal(t, "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record or 1 records: "+p+": --", r[1])
	}

	// Without lock contention the same job saves every row.
	srv.SetLockContention(false)
	_, info = c.runJob(map[string]any{"object": "Contact", "operation": "insert"}, children(p, 800))
	assert.Equal(t, 0, num(info["numberRecordsFailed"]))
}

func TestBulkInternalBatchRace(t *testing.T) {
	srv, c := start(t, WithObject(keyObject), WithInternalBatchSize(400))
	// Rows 0 and 400 are chunk 0 of internal batches 0 and 1 (the same
	// round); row 600 is chunk 1 of batch 1, a later round.
	upload := func(field string) string {
		var b strings.Builder
		b.WriteString(field + ",Name\n")
		for i := 0; i < 800; i++ {
			key := fmt.Sprint("k-", i)
			if i == 0 || i == 400 || i == 600 {
				key = "same"
			}
			fmt.Fprintf(&b, "%s,n%d\n", key, i)
		}
		return b.String()
	}
	count := func(field string) (n int) {
		for _, m := range srv.Records("Key__c") {
			if m[field] == "same" {
				n++
			}
		}
		return n
	}

	// Non-unique: the two racing rows both insert; the later round updates
	// one of them... and finds two, so it fails.
	id, info := c.runJob(map[string]any{"object": "Key__c", "operation": "upsert", "externalIdFieldName": "Shared__c"}, upload("Shared__c"))
	assert.Equal(t, StateJobComplete, info["state"])
	assert.Equal(t, 2, count("Shared__c"), "both racing rows created a record")
	_, failed := c.resultRows(id, "failedResults")
	require.Len(t, failed, 2)
	assert.True(t, strings.HasPrefix(failed[1][1], "DUPLICATE_EXTERNAL_ID:"), failed[1][1])

	// Unique: one racing row inserts, the other fails on the unique index;
	// the later round updates the one record.
	id, info = c.runJob(map[string]any{"object": "Key__c", "operation": "upsert", "externalIdFieldName": "Folded__c"}, upload("Folded__c"))
	assert.Equal(t, StateJobComplete, info["state"])
	assert.Equal(t, 1, count("Folded__c"))
	_, failed = c.resultRows(id, "failedResults")
	require.Len(t, failed, 2)
	assert.True(t, strings.HasPrefix(failed[1][1], "DUPLICATE_VALUE:duplicate value found: Folded__c"), failed[1][1])
	_, ok := c.resultRows(id, "successfulResults")
	updated := 0
	for _, r := range ok[1:] {
		if r[2] == "same" && r[1] == "false" {
			updated++
		}
	}
	assert.Equal(t, 1, updated, "row 600 updates the record row 0 or 400 created")
}

func TestRESTSavesTakeParentLocks(t *testing.T) {
	// A job that pauses after its first round holds the parent.
	srv, c := start(t, WithLockContention(), WithBulkDelay(0, time.Hour), WithRowLockWait(0))
	p := mustInsert(t, srv, "Account", map[string]any{"Name": "Parent"})
	other := mustInsert(t, srv, "Account", map[string]any{"Name": "Other"})

	id := c.createJob(map[string]any{"object": "Contact", "operation": "insert"})
	c.upload(id, children(p, 400))
	c.closeJob(id)
	for num(c.jobInfo(id)["numberRecordsProcessed"]) < 200 {
		runtime.Gosched()
	}
	st, body := c.call("POST", v+"/composite/sobjects", map[string]any{"records": []any{
		typed("Contact", map[string]any{"LastName": "locked", "AccountId": p}),
		typed("Contact", map[string]any{"LastName": "free", "AccountId": other}),
	}})
	require.Equal(t, 200, st)
	res := results(t, body)
	code, _ := firstError(res[0])
	assert.Equal(t, "UNABLE_TO_LOCK_ROW", code)
	assert.Equal(t, true, res[1]["success"])
	st, body = c.call("POST", v+"/sobjects/Contact", map[string]any{"LastName": "single", "AccountId": p})
	require.Equal(t, 400, st)
	code, _ = restErr(t, body)
	assert.Equal(t, "UNABLE_TO_LOCK_ROW", code)

	// Once the job ends the parent is free.
	st, _ = c.call("PATCH", ingest+"/"+id, map[string]any{"state": "Aborted"})
	require.Equal(t, 200, st)
	srv.Close()
	srv.org.mu.Lock()
	held := srv.owners[p]
	srv.org.mu.Unlock()
	assert.Nil(t, held)
}
