package sftest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keyObject has one external id of each matching kind and a date and a
// datetime field.
var keyObject = Object{Name: "Key__c", Fields: []Field{
	{Name: "Folded__c", Type: TypeString, ExternalID: true, Unique: true},
	{Name: "Exact__c", Type: TypeString, ExternalID: true, Unique: true, CaseSensitive: true},
	{Name: "Shared__c", Type: TypeString, ExternalID: true},
	{Name: "Day__c", Type: TypeDate},
	{Name: "At__c", Type: TypeDateTime},
}}

func TestDateRange(t *testing.T) {
	srv, c := start(t, WithObject(keyObject))
	for _, tc := range []struct {
		field, value string
		ok           bool
	}{
		{"Day__c", "1700-01-01", true},
		{"Day__c", "4000-12-31", true},
		{"Day__c", "1699-12-31", false},
		{"Day__c", "4001-01-01", false},
		{"At__c", "1700-01-01T00:00:00Z", true},
		{"At__c", "4000-12-31T00:00:00Z", true},
		{"At__c", "1700-01-01T00:30:00+01:00", false},
		{"At__c", "4000-12-31T00:00:01Z", false},
	} {
		st, body := c.call("POST", v+"/sobjects/Key__c", map[string]any{"Name": "n", tc.field: tc.value})
		if tc.ok {
			assert.Equal(t, 201, st, "%s=%s: %v", tc.field, tc.value, body)
			continue
		}
		require.Equal(t, 400, st, "%s=%s", tc.field, tc.value)
		code, msg := restErr(t, body)
		assert.Equal(t, "FIELD_INTEGRITY_EXCEPTION", code)
		assert.Contains(t, msg, "date value out of range")
	}

	// Bulk and Collections reject the record, not the request or the job.
	id, info := c.runJob(map[string]any{"object": "Key__c", "operation": "insert"},
		"Name,Day__c\nearly,1600-05-01\nfine,2024-05-01\n")
	assert.Equal(t, StateJobComplete, info["state"])
	assert.Equal(t, 1, num(info["numberRecordsFailed"]))
	_, failed := c.resultRows(id, "failedResults")
	require.Len(t, failed, 2)
	assert.True(t, strings.HasPrefix(failed[1][1], "FIELD_INTEGRITY_EXCEPTION:"), failed[1][1])
	st, body := c.call("POST", v+"/composite/sobjects", map[string]any{"records": []any{
		typed("Key__c", map[string]any{"Name": "late", "At__c": "4100-01-01T00:00:00Z"}),
		typed("Key__c", map[string]any{"Name": "fine"}),
	}})
	require.Equal(t, 200, st)
	res := results(t, body)
	code, _ := firstError(res[0])
	assert.Equal(t, "FIELD_INTEGRITY_EXCEPTION", code)
	assert.Equal(t, true, res[1]["success"])
	assert.Len(t, srv.Records("Key__c"), 6)
}

func TestExternalIDMatching(t *testing.T) {
	srv, c := start(t, WithObject(keyObject))
	mustInsert(t, srv, "Key__c", map[string]any{"Name": "seed", "Folded__c": "abc", "Exact__c": "abc", "Shared__c": "abc"})

	// Matching ignores case only on a unique, case-insensitive field.
	for _, tc := range []struct {
		field   string
		created bool
	}{{"Folded__c", false}, {"Exact__c", true}, {"Shared__c", true}} {
		st, body := c.call("PATCH", v+"/composite/sobjects/Key__c/"+tc.field, map[string]any{"records": []any{
			typed("Key__c", map[string]any{tc.field: "ABC", "Name": "upper " + tc.field}),
		}})
		require.Equal(t, 200, st)
		res := results(t, body)
		assert.Equal(t, true, res[0]["success"], "%s: %v", tc.field, res[0])
		assert.Equal(t, tc.created, res[0]["created"], tc.field)
	}

	// A unique case-sensitive field holds "abc" and "ABC" side by side, a
	// case-insensitive one refuses the second.
	st, body := c.call("POST", v+"/sobjects/Key__c", map[string]any{"Name": "x", "Folded__c": "ABC"})
	require.Equal(t, 400, st)
	code, _ := restErr(t, body)
	assert.Equal(t, "DUPLICATE_VALUE", code)

	// "Shared__c" now holds "abc" once and "ABC" once; a second "abc" makes
	// the key ambiguous.
	mustInsert(t, srv, "Key__c", map[string]any{"Name": "twin", "Shared__c": "abc"})
	st, body = c.call("PATCH", v+"/composite/sobjects/Key__c/Shared__c", map[string]any{"records": []any{
		typed("Key__c", map[string]any{"Shared__c": "abc", "Name": "ambiguous"}),
		typed("Key__c", map[string]any{"Shared__c": "ABC", "Name": "one match"}),
	}})
	require.Equal(t, 200, st)
	res := results(t, body)
	code, msg := firstError(res[0])
	assert.Equal(t, "DUPLICATE_EXTERNAL_ID", code)
	assert.Contains(t, msg, "more than one record found for external id field: [")
	assert.Equal(t, true, res[1]["success"])

	// REST answers 300 with the matching records' URLs.
	st, body = c.call("PATCH", v+"/sobjects/Key__c/Shared__c/abc", map[string]any{"Name": "ambiguous"})
	require.Equal(t, 300, st)
	assert.Len(t, body, 2)

	// Bulk fails the row the same way.
	id, info := c.runJob(map[string]any{"object": "Key__c", "operation": "upsert", "externalIdFieldName": "Shared__c"},
		"Shared__c,Name\nabc,bulk ambiguous\n")
	assert.Equal(t, 1, num(info["numberRecordsFailed"]))
	_, failed := c.resultRows(id, "failedResults")
	require.Len(t, failed, 2)
	assert.True(t, strings.HasPrefix(failed[1][1], "DUPLICATE_EXTERNAL_ID:"), failed[1][1])

	// The same key twice in one chunk fails both, on any matching kind; on a
	// folded field two spellings are the same key.
	st, body = c.call("PATCH", v+"/composite/sobjects/Key__c/Folded__c", map[string]any{"records": []any{
		typed("Key__c", map[string]any{"Folded__c": "new-1", "Name": "a"}),
		typed("Key__c", map[string]any{"Folded__c": "NEW-1", "Name": "b"}),
	}})
	require.Equal(t, 200, st)
	for _, r := range results(t, body) {
		code, msg := firstError(r)
		assert.Equal(t, "DUPLICATE_VALUE", code)
		assert.True(t, strings.HasPrefix(msg, "Duplicate external id specified: "), msg)
	}
	st, body = c.call("PATCH", v+"/composite/sobjects/Key__c/Exact__c", map[string]any{"records": []any{
		typed("Key__c", map[string]any{"Exact__c": "new-1", "Name": "a"}),
		typed("Key__c", map[string]any{"Exact__c": "NEW-1", "Name": "b"}),
	}})
	require.Equal(t, 200, st)
	for _, r := range results(t, body) {
		assert.Equal(t, true, r["success"], "case-sensitive keys differ: %v", r)
	}

	// Relationship columns follow the parent field's rule.
	require.NoError(t, srv.DefineObject(Object{Name: "Contact", Fields: []Field{{Name: "Key__c", Type: TypeReference, ReferenceTo: "Key__c"}}}))
	id, info = c.runJob(map[string]any{"object": "Contact", "operation": "insert"},
		"LastName,Key__r.Folded__c,Key__r.Exact__c\nfolded,ABC,\nexact,,NEW-1\nmissing,,new-2\n")
	assert.Equal(t, 1, num(info["numberRecordsFailed"]), "%v", info)
	_, failed = c.resultRows(id, "failedResults")
	require.Len(t, failed, 2)
	assert.Contains(t, failed[1][1], "Foreign key external ID: new-2 not found")
}

func TestUpsertKeyedOnID(t *testing.T) {
	srv, c := start(t)
	a := mustInsert(t, srv, "Account", map[string]any{"Name": "A"})
	gone := mustInsert(t, srv, "Account", map[string]any{"Name": "Gone"})
	st, _ := c.call("DELETE", v+"/sobjects/Account/"+gone, nil)
	require.Equal(t, 204, st)

	// Bulk API 2.0 accepts Id as the key: a known Id updates, an empty one
	// inserts, an unknown or deleted one fails the row.
	id, info := c.runJob(map[string]any{"object": "Account", "operation": "upsert", "externalIdFieldName": "Id"},
		"Id,Name\n"+a+",A2\n,New\n001000000000000AAA,Unknown\n"+gone+",Deleted\n")
	assert.Equal(t, StateJobComplete, info["state"])
	_, ok := c.resultRows(id, "successfulResults")
	require.Len(t, ok, 3)
	_, failed := c.resultRows(id, "failedResults")
	require.Len(t, failed, 3)
	codes := []string{}
	for _, r := range failed[1:] {
		code, _, _ := strings.Cut(r[1], ":")
		codes = append(codes, code)
	}
	assert.ElementsMatch(t, []string{"INVALID_CROSS_REFERENCE_KEY", "ENTITY_IS_DELETED"}, codes)

	// sObject Collections and the REST upsert refuse record ids.
	st, _ = c.call("PATCH", v+"/composite/sobjects/Account/Id", map[string]any{"records": []any{typed("Account", map[string]any{"Id": a, "Name": "x"})}})
	assert.Equal(t, 400, st)
	st, _ = c.call("PATCH", v+"/sobjects/Account/Id/"+a, map[string]any{"Name": "x"})
	assert.Equal(t, 400, st)
	assert.Equal(t, "A2", srv.Records("Account")[0]["Name"])
}

func TestGoneVersusReadOnly(t *testing.T) {
	srv, c := start(t)
	live := mustInsert(t, srv, "Account", map[string]any{"Name": "Live"})
	locked := mustInsert(t, srv, "Account", map[string]any{"Name": "Locked"})
	deleted := mustInsert(t, srv, "Account", map[string]any{"Name": "Deleted"})
	purged := mustInsert(t, srv, "Account", map[string]any{"Name": "Purged"})
	never := "001000000000000AAA"
	srv.ReadOnly(locked)
	st, _ := c.call("DELETE", v+"/sobjects/Account/"+deleted, nil)
	require.Equal(t, 204, st)
	_, info := c.runJob(map[string]any{"object": "Account", "operation": "hardDelete"}, "Id\n"+purged+"\n")
	require.Equal(t, 0, num(info["numberRecordsFailed"]))

	want := map[string]string{
		live: "", locked: "INSUFFICIENT_ACCESS_OR_READONLY", deleted: "ENTITY_IS_DELETED",
		purged: "INVALID_CROSS_REFERENCE_KEY", never: "INVALID_CROSS_REFERENCE_KEY",
	}
	ids := []string{live, locked, deleted, purged, never}

	// sObject Collections update.
	var recs []any
	for _, id := range ids {
		recs = append(recs, typed("Account", map[string]any{"Id": id, "Phone": "1"}))
	}
	st, body := c.call("PATCH", v+"/composite/sobjects", map[string]any{"records": recs})
	require.Equal(t, 200, st)
	for i, r := range results(t, body) {
		code := ""
		if r["success"] != true {
			code, _ = firstError(r)
		}
		assert.Equal(t, want[ids[i]], code, "collections update %s", ids[i])
	}

	// Bulk update and delete.
	for _, op := range []string{"update", "delete"} {
		csv := "Id,Phone\n"
		if op == "delete" {
			csv = "Id\n"
		}
		for _, id := range ids[1:] {
			if op == "delete" {
				csv += id + "\n"
			} else {
				csv += id + ",2\n"
			}
		}
		job, _ := c.runJob(map[string]any{"object": "Account", "operation": op}, csv)
		_, failed := c.resultRows(job, "failedResults")
		require.Len(t, failed, 5, op)
		for _, r := range failed[1:] {
			code, _, _ := strings.Cut(r[1], ":")
			assert.Equal(t, want[r[2]], code, "bulk %s %s", op, r[2])
		}
	}

	// The read-only record is unchanged and still there.
	for _, m := range srv.Records("Account") {
		if m["Id"] == locked {
			assert.Equal(t, false, m["IsDeleted"])
			assert.Nil(t, m["Phone"])
		}
	}
}

func TestIndexedLookups(t *testing.T) {
	srv, c := start(t, WithObject(keyObject))
	a := mustInsert(t, srv, "Key__c", map[string]any{"Name": "a", "Folded__c": "AbC", "Shared__c": "s"})
	b := mustInsert(t, srv, "Key__c", map[string]any{"Name": "b", "Folded__c": "x", "Shared__c": "S"})
	gone := mustInsert(t, srv, "Key__c", map[string]any{"Name": "gone", "Folded__c": "g"})
	st, _ := c.call("DELETE", v+"/sobjects/Key__c/"+gone, nil)
	require.Equal(t, 204, st)
	ids := func(path, soql string) []string {
		st, body := c.call("GET", v+"/"+path+"?q="+q(soql), nil)
		require.Equal(t, 200, st, "%v", body)
		var out []string
		for _, r := range obj(body)["records"].([]any) {
			out = append(out, obj(r)["Id"].(string))
		}
		return out
	}
	for _, tc := range []struct {
		path, soql string
		want       []string
	}{
		{"query", "SELECT Id FROM Key__c WHERE Folded__c IN ('x', 'abc', 'none')", []string{a, b}},
		{"query", "SELECT Id FROM Key__c WHERE Id IN ('" + b + "', '" + a + "')", []string{a, b}},
		{"query", "SELECT Id FROM Key__c WHERE Folded__c IN ('x', 'abc') AND Name = 'b'", []string{b}},
		{"query", "SELECT Id FROM Key__c WHERE Shared__c = 's'", []string{a, b}},
		{"query", "SELECT Id FROM Key__c WHERE Folded__c = 'g'", nil},
		{"queryAll", "SELECT Id FROM Key__c WHERE Folded__c = 'g'", []string{gone}},
		{"queryAll", "SELECT Id FROM Key__c WHERE Id = '" + gone + "'", []string{gone}},
	} {
		assert.Equal(t, tc.want, ids(tc.path, tc.soql), tc.soql)
	}
}
