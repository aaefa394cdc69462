package config

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mirrorSync is an upsert with change detection; cases add on_removed.
const mirrorSync = validSync + "key: ID\nchange_detection: true\n"

func TestOnRemovedParses(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       *OnRemoved
	}{
		{"delete", "on_removed: delete\n", &OnRemoved{Delete: true}},
		{"set", "on_removed:\n  set: {Active__c: false, Status__c: Churned, Score__c: 0, Ratio__c: 0.5, Note__c: null}\n",
			&OnRemoved{Set: []FieldValue{{"Active__c", false}, {"Status__c", "Churned"}, {"Score__c", int64(0)}, {"Ratio__c", 0.5}, {"Note__c", nil}}}},
		{"null", "on_removed:\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(context.Background(), "", nil, map[string][]byte{"s.yaml": []byte(mirrorSync + tc.yaml)})
			require.NoError(t, err)
			got := p.Syncs[0].OnRemoved
			if tc.want == nil {
				assert.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			assert.Equal(t, tc.want.Delete, got.Delete)
			assert.Equal(t, tc.want.Set, got.Set)
			assert.Equal(t, 14, got.Pos.Line)
		})
	}
}

func TestOnRemovedErrors(t *testing.T) {
	for _, tc := range []struct {
		name, sync, want string
	}{
		{"a word other than delete", mirrorSync + "on_removed: purge\n",
			`s.yaml:14:13: key "on_removed": must be delete, or a mapping with set`},
		{"a list", mirrorSync + "on_removed: [delete]\n",
			`s.yaml:14:13: key "on_removed": must be delete, or a mapping with set`},
		{"a misspelled set", mirrorSync + "on_removed: {sett: {A__c: 1}}\n",
			`s.yaml:14:14: key "on_removed.sett": unknown key; did you mean "set"?`},
		{"no set", mirrorSync + "on_removed: {}\n",
			`s.yaml:14:13: key "on_removed.set": missing required key`},
		{"an empty set", mirrorSync + "on_removed: {set: {}}\n",
			`s.yaml:14:19: key "on_removed.set": must set at least one field`},
		{"set is not a mapping", mirrorSync + "on_removed: {set: [A__c]}\n",
			`s.yaml:14:19: key "on_removed.set": expected a mapping, got a list`},
		{"set Id", mirrorSync + "on_removed: {set: {Id: x}}\n",
			`s.yaml:14:20: key "on_removed.set.Id": must name a field other than Id`},
		{"a value that is a list", mirrorSync + "on_removed: {set: {A__c: [1]}}\n",
			`s.yaml:14:26: key "on_removed.set.A__c": expected a string, number, boolean or null, got a list`},
		{"without change detection", validSync + "on_removed: delete\n",
			`s.yaml:12:1: key "on_removed": on_removed needs change_detection: its state knows which records this sync wrote`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := loadErrors(t, "", map[string]string{"s.yaml": tc.sync})
			require.NotEmpty(t, got)
			assert.Equal(t, tc.want, got[0])
		})
	}
}

// depends_on names syncs that exist and form no cycle; the errors name
// the files of every sync involved.
func TestDependsOnErrorsNameTheFiles(t *testing.T) {
	child := func(dep string) string { return validSync + "depends_on: [" + dep + "]\n" }
	got := loadErrors(t, "", map[string]string{"accounts.yaml": child("contacts"), "contacts.yaml": child("accounts")})
	require.NotEmpty(t, got)
	assert.Contains(t, strings.Join(got, "\n"), "dependency cycle: accounts (accounts.yaml) -> contacts (contacts.yaml) -> accounts (accounts.yaml)")

	got = loadErrors(t, "", map[string]string{"contacts.yaml": child("acounts"), "accounts.yaml": validSync})
	require.Len(t, got, 1)
	assert.Equal(t, `contacts.yaml:12:14: key "depends_on[0]": unknown sync "acounts"`, got[0])

	// A parent listed before its child loads, in either file order.
	assert.Nil(t, loadErrors(t, "", map[string]string{"a.yaml": validSync + "name: contacts\ndepends_on: [accounts]\n", "b.yaml": validSync + "name: accounts\n"}))
}
