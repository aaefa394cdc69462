package salesforce

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/retl-go/retl/config"
	"github.com/retl-go/retl/reverseetl"
	"github.com/retl-go/retl/sink/salesforce/sftest"
	"github.com/retl-go/retl/source"
	"github.com/retl-go/retl/source/memory"
)

// runSync runs one upsert sync of n generated rows through the Engine
// against srv. Every third row exists already; when guard is set the
// phone is mapped with set_if_empty.
func runSync(t *testing.T, srv *sftest.Server, n int, guard bool) *reverseetl.SyncReport {
	t.Helper()
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{fmt.Sprintf("S-%05d", i), fmt.Sprintf("Account %d", i), int64(i), "555-0100"}
	}
	reg := reverseetl.NewRegistry()
	Register(reg)
	reg.RegisterSource("rows", func(context.Context, reverseetl.BuildContext) (source.Source, error) {
		return memory.New([]string{"ID", "NAME", "EMPLOYEES", "PHONE"}, rows), nil
	})
	project := fmt.Sprintf("connections:\n  crm:\n    type: salesforce\n    login_url: %s\n    auth: password\n"+
		"    client_id: retl\n    client_secret: retl\n    username: demo@example.com\n    password: demo\n", srv.URL())
	syncYAML := `name: accounts
source:
  type: rows
  query: select * from accounts
destination:
  type: salesforce
  connection: crm
  object: Account
  operation: upsert
  match_on: External_Id__c
  api: auto
  bulk_batch_size: 10000
  poll_max_wait: 100ms
mapping:
  - {from: ID, to: External_Id__c}
  - {from: NAME, to: Name}
  - {from: EMPLOYEES, to: NumberOfEmployees}
  - {from: PHONE, to: Phone, set_if_empty: ` + fmt.Sprint(guard) + `}
`
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := config.Parse(ctx, "retl.yaml", []byte(project), map[string][]byte{"accounts.yaml": []byte(syncYAML)})
	require.NoError(t, err)
	start := time.Now()
	rep, err := reverseetl.New(reg, reverseetl.WithLogger(quiet)).Run(ctx, p, reverseetl.RunOptions{})
	require.NoError(t, err)
	sr := rep.Sync("accounts")
	require.NotNil(t, sr)
	t.Logf("sync of %d rows in %s: %v", n, time.Since(start).Round(time.Millisecond), sr.Stats)
	require.Empty(t, sr.Error)
	return sr
}

// seedThirds makes every third row of runSync exist already, one in five
// of those with a phone.
func seedThirds(t *testing.T, srv *sftest.Server, n int) (existing, phones int) {
	for i := 0; i < n; i += 3 {
		f := map[string]any{"Name": "old", "External_Id__c": fmt.Sprintf("S-%05d", i)}
		if i%5 == 0 {
			f["Phone"] = "kept"
			phones++
		}
		seed(t, srv, "Account", f)
		existing++
	}
	return existing, phones
}

// A whole sync through the Engine: 25,000 source rows upserted through
// Bulk land in the emulator exactly once, and the report's counts equal
// what the emulator holds.
func TestSyncThroughEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("large load")
	}
	const n = 25_000
	srv := emulator(t)
	existing, _ := seedThirds(t, srv, n)
	sr := runSync(t, srv, n, false)
	assert.True(t, sr.Accounted())
	assert.EqualValues(t, n, sr.Read)
	assert.Zero(t, sr.Failed)
	assert.EqualValues(t, n-existing, sr.Created)
	assert.EqualValues(t, existing, sr.Updated)
	got := byExt(srv, "Account")
	assert.Len(t, live(srv, "Account"), n, "every row exactly once")
	assert.EqualValues(t, sr.Written(), len(got))
	for k, r := range got {
		if r["Name"] == "old" || r["Phone"] != "555-0100" {
			t.Fatalf("%s not written: %v", k, r)
		}
	}
	assert.Equal(t, APIBulk, sr.Stats.API)
	assert.Len(t, sr.Stats.Jobs, 3)
}

// set_if_empty through the Engine: populated phones are kept and counted.
func TestSyncSetIfEmptyThroughEngine(t *testing.T) {
	const n = 3000
	srv := emulator(t)
	existing, phones := seedThirds(t, srv, n)
	sr := runSync(t, srv, n, true)
	assert.True(t, sr.Accounted())
	assert.Zero(t, sr.Failed)
	assert.EqualValues(t, existing, sr.Updated)
	assert.EqualValues(t, phones, sr.KeptBack)
	kept := 0
	for _, r := range live(srv, "Account") {
		if r["Phone"] == "kept" {
			kept++
		}
	}
	assert.Equal(t, phones, kept)
	assert.Len(t, live(srv, "Account"), n)
	assert.Equal(t, APIBulk, sr.Stats.API, "3,000 rows are past auto_threshold")
}
