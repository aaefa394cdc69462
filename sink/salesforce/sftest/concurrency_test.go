package sftest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentUse drives every kind of request and the Go API at once;
// run with -race it proves the emulator's locking.
func TestConcurrentUse(t *testing.T) {
	srv, c := start(t, WithBulkDelay(0, 0))
	var wg sync.WaitGroup
	run := func(f func(i int)) {
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f(i)
			}()
		}
	}
	run(func(i int) {
		for k := 0; k < 20; k++ {
			_, err := srv.Insert("Account", map[string]any{"Name": "G", "External_Id__c": fmt.Sprintf("G-%d-%d", i, k)})
			assert.NoError(t, err)
			_ = srv.Records("Account")
			_ = srv.Requests()
			_ = srv.Jobs()
			_ = srv.APICalls()
		}
	})
	run(func(i int) {
		var b strings.Builder
		b.WriteString("LastName,Account.External_Id__c\n")
		for k := 0; k < 300; k++ {
			fmt.Fprintf(&b, "L%d,G-%d-0\n", k, i)
		}
		_, info := c.runJob(map[string]any{"object": "Contact", "operation": "insert"}, b.String())
		assert.Equal(t, StateJobComplete, info["state"])
	})
	run(func(i int) {
		for k := 0; k < 10; k++ {
			st, _ := c.call("GET", v+"/query?q="+q("SELECT Id, Account.Name FROM Contact"), nil)
			assert.Equal(t, 200, st)
			st, _ = c.call("PATCH", v+"/composite/sobjects/Account/External_Id__c", map[string]any{"records": []any{
				typed("Account", map[string]any{"External_Id__c": fmt.Sprintf("U-%d-%d", i, k), "Name": "U"}),
			}})
			assert.Equal(t, 200, st)
			st, _ = c.call("GET", v+"/sobjects/Account/describe", nil)
			assert.Equal(t, 200, st)
		}
	})
	run(func(i int) {
		require.NoError(t, srv.DefineObject(Object{Name: "Account", Fields: []Field{{Name: fmt.Sprintf("F%d__c", i), Type: TypeString}}}))
		srv.Fault(Fault{Kind: FaultDelay, Times: 1})
		srv.LockRows(0, 0)
		srv.SetLockContention(false)
		c2 := &client{t: t, srv: srv, hc: c.hc}
		c2.token = c2.login()
	})
	wg.Wait()
	srv.ExpireSessions()
	st, _ := c.call("GET", v+"/limits", nil)
	assert.Equal(t, 401, st)
}
