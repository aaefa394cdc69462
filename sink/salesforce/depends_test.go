package salesforce

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/reverseetl"
)

func parentSync(api, dependsOn string) string {
	return `name: accounts
source: {type: rows}
destination: {connection: crm, object: Account, operation: upsert, match_on: External_Id__c, api: ` + api + `, poll_max_wait: 20ms}
mapping:
  - {from: ID, to: External_Id__c}
  - {from: NAME, to: Name}
` + dependsOn
}

func childSync(api, dependsOn string) string {
	return `name: contacts
source: {type: rows}
destination: {connection: crm, object: Contact, operation: upsert, match_on: External_Id__c, api: ` + api + `, poll_max_wait: 20ms}
mapping:
  - {from: ID, to: External_Id__c}
  - {from: LAST_NAME, to: LastName}
  - {from: ACCOUNT_ID, to: Account.External_Id__c}
` + dependsOn
}

// A parent sync (accounts) and a child sync (contacts, looking up their
// account by external id) in one run: with depends_on the accounts land
// first and every contact finds its account. The other way round the
// contacts go first and every lookup fails, as in Salesforce, and the
// accounts, whose parent sync failed, do not run.
func TestDependsOnOrdersParentAndChild(t *testing.T) {
	const accounts, contacts = 40, 400
	tables := map[string]table{
		"accounts": {cols: []string{"ID", "NAME"}},
		"contacts": {cols: []string{"ID", "LAST_NAME", "ACCOUNT_ID"}},
	}
	for i := range accounts {
		tb := tables["accounts"]
		tb.rows = append(tb.rows, []any{fmt.Sprintf("A-%03d", i), fmt.Sprintf("Account %d", i)})
		tables["accounts"] = tb
	}
	for i := range contacts {
		tb := tables["contacts"]
		tb.rows = append(tb.rows, []any{fmt.Sprintf("C-%04d", i), fmt.Sprintf("Person %d", i), fmt.Sprintf("A-%03d", i%accounts)})
		tables["contacts"] = tb
	}
	for _, api := range apis {
		t.Run(api+"/child after parent", func(t *testing.T) {
			srv := emulator(t)
			r := &engineRun{srv: srv, tables: tables}
			rep := r.run(t, map[string]string{
				// The child's file sorts first: the order comes from depends_on.
				"a_contacts.yaml": childSync(api, "depends_on: [accounts]\n"),
				"b_accounts.yaml": parentSync(api, ""),
			}, reverseetl.RunOptions{})
			require.True(t, rep.OK(), "%+v", rep.Syncs)
			assert.EqualValues(t, contacts, rep.Sync("contacts").Created)
			ids := map[string]any{}
			for k, a := range byExt(srv, "Account") {
				ids[k] = a["Id"]
			}
			require.Len(t, ids, accounts)
			got := byExt(srv, "Contact")
			require.Len(t, got, contacts)
			for k, c := range got {
				var n int
				fmt.Sscanf(k, "C-%d", &n)
				require.Equal(t, ids[fmt.Sprintf("A-%03d", n%accounts)], c["AccountId"], "contact %s has its account", k)
			}
		})
		t.Run(api+"/parent after child", func(t *testing.T) {
			srv := emulator(t)
			r := &engineRun{srv: srv, tables: tables}
			rep := r.run(t, map[string]string{
				"a_contacts.yaml": childSync(api, ""),
				"b_accounts.yaml": parentSync(api, "depends_on: [contacts]\n"),
			}, reverseetl.RunOptions{})
			c := rep.Sync("contacts")
			assert.Equal(t, reverseetl.Failed, c.Status)
			assert.EqualValues(t, contacts, c.Failed, "no contact finds its account")
			for _, o := range c.FailedRows {
				require.Equal(t, "INVALID_FIELD", o.Err.Code)
				require.True(t, strings.HasPrefix(o.Err.Message, "Foreign key external ID: A-"), o.Err.Message)
			}
			assert.Empty(t, live(srv, "Contact"))
			a := rep.Sync("accounts")
			assert.Equal(t, reverseetl.SkippedSync, a.Status)
			assert.Equal(t, `parent sync "contacts" failed`, a.Error)
		})
	}
}
